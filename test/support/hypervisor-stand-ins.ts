// Stand-ins for VMware's vmrun and libvirt's virsh (neither can run here): small Node
// scripts written to a temp folder, executable through their shebang. They keep their VMs
// in a JSON file, check their exact arguments, log every call, and answer with the real
// tools' output formats, errors included (vmrun: "Error: …" on standard output with exit
// status 255; virsh: "error: …" on standard error with exit status 1).
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface StandInVm {
  snapshots: string[];
  running: boolean;
  /** vmrun: the VM is held by another program. */
  locked?: boolean;
  /** vmrun: the VM is encrypted and needs a password. */
  encrypted?: boolean;
}

export interface StandInState {
  /** vmrun: .vmx path → VM; virsh: domain name → VM. */
  vms: Record<string, StandInVm>;
  /** Every argument list the tool was called with, in order. */
  calls: string[][];
}

// Both tools: take the state file's lock, load the VMs, log the call; `done` saves and
// answers on standard output. Each tool's script adds its own `fail`.
const sharedScript = String.raw`
const fs = require('node:fs');
const stateFile = __dirname + '/state.json';
// klab calls the tool for several VMs at once: one call at a time holds the state file.
const lock = stateFile + '.lock';
for (;;) {
  try { fs.closeSync(fs.openSync(lock, 'wx')); break; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); }
}
process.on('exit', () => fs.rmSync(lock, { force: true }));
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const args = process.argv.slice(2);
state.calls.push(args);
const save = () => { fs.writeFileSync(stateFile + '.tmp', JSON.stringify(state, null, 2)); fs.renameSync(stateFile + '.tmp', stateFile); };
const done = (text) => { save(); if (text) process.stdout.write(text); process.exit(0); };
`;

const vmrunScript = String.raw`
const fail = (message) => { save(); process.stdout.write('Error: ' + message + '\n'); process.exit(255); };
if (args[0] !== '-T' || !['ws', 'fusion', 'player', 'server', 'server1', 'esx', 'vc'].includes(args[1])) fail('Unrecognized host type');
const [operation, vmx, ...rest] = args.slice(2);
const needs = { snapshot: 2, listSnapshots: 1, revertToSnapshot: 2, deleteSnapshot: 2, start: 2, list: 0 }[operation];
if (needs === undefined) fail('Unrecognized command: ' + operation);
const operands = operation === 'list' ? [] : [vmx, ...rest];
if (operation === 'start' && operands.length === 2 && operands[1] !== 'gui' && operands[1] !== 'nogui') fail('Invalid argument: ' + operands[1]);
if (operands.length !== needs && !(operation === 'start' && operands.length === 1) && !(operation === 'listSnapshots' && rest[0] === 'showTree')) {
  fail('Invalid number of arguments for ' + operation);
}
if (operation === 'list') {
  const running = Object.entries(state.vms).filter(([, vm]) => vm.running).map(([p]) => p);
  done('Total running VMs: ' + running.length + '\n' + running.map((p) => p + '\n').join(''));
}
if (!vmx.toLowerCase().endsWith('.vmx')) fail('Cannot open VM: ' + vmx + ', unknown file suffix');
const vm = state.vms[vmx];
if (!vm) fail('Cannot open VM: ' + vmx + ', The virtual machine cannot be found');
if (vm.encrypted) fail('The virtual machine is encrypted and no password was provided');
if (vm.locked) fail('The virtual machine is locked. It may be in use by another program');
const name = rest[0];
switch (operation) {
  case 'snapshot':
    vm.snapshots.push(name);
    done('');
  case 'listSnapshots':
    done('Total snapshots: ' + vm.snapshots.length + '\n' + vm.snapshots.map((s) => s + '\n').join(''));
  case 'revertToSnapshot': {
    const count = vm.snapshots.filter((s) => s === name).length;
    if (count === 0) fail('A snapshot with the name does not exist');
    if (count > 1) fail('The name does not uniquely identify one snapshot');
    vm.running = false;
    vm.restored = name;
    done('');
  }
  case 'deleteSnapshot': {
    const count = vm.snapshots.filter((s) => s === name).length;
    if (count === 0) fail('A snapshot with the name does not exist');
    if (count > 1) fail('The name does not uniquely identify one snapshot');
    vm.snapshots = vm.snapshots.filter((s) => s !== name);
    done('');
  }
  case 'start':
    if (vm.running) fail('The virtual machine is already running');
    vm.running = true;
    done('');
}
`;

const virshScript = String.raw`
const fail = (message) => { save(); process.stderr.write('error: ' + message + '\n'); process.exit(1); };
let rest = args;
let uri = 'qemu:///session';
if (rest[0] === '-c') { uri = rest[1]; rest = rest.slice(2); }
if (!uri || !/^[a-z+]+:\/\//.test(uri)) fail('failed to connect to the hypervisor');
const [command, ...options] = rest;
const allowed = {
  'snapshot-create-as': ['--domain', '--name'],
  'snapshot-list': ['--domain', '--name'],
  'snapshot-revert': ['--domain', '--snapshotname'],
  'snapshot-delete': ['--domain', '--snapshotname'],
  start: ['--domain'],
  domstate: ['--domain'],
}[command];
if (!allowed) fail("unknown command: '" + command + "'");
const values = {};
for (let i = 0; i < options.length; i++) {
  const option = options[i];
  if (!allowed.includes(option)) fail("command '" + command + "' doesn't support option " + option);
  if (command === 'snapshot-list' && option === '--name') { values[option] = true; continue; }
  if (options[i + 1] === undefined) fail("expected syntax: " + option + " <string>");
  values[option] = options[++i];
}
const domain = values['--domain'];
if (!domain) fail("command '" + command + "' requires <domain> option");
const vm = state.vms[domain];
if (!vm) fail("failed to get domain '" + domain + "'");
const snapshot = values['--snapshotname'];
switch (command) {
  case 'snapshot-create-as': {
    const name = values['--name'];
    if (vm.snapshots.includes(name)) fail("operation failed: domain snapshot '" + name + "' already exists");
    vm.snapshots.push(name);
    done('Domain snapshot ' + name + ' created\n');
  }
  case 'snapshot-list':
    if (!values['--name']) fail('the stand-in only answers snapshot-list --name');
    done(vm.snapshots.map((s) => s + '\n').join('') + '\n');
  case 'snapshot-revert':
    if (!vm.snapshots.includes(snapshot)) fail("Domain snapshot not found: no domain snapshot with matching name '" + snapshot + "'");
    vm.restored = snapshot;
    done('');
  case 'snapshot-delete':
    if (!vm.snapshots.includes(snapshot)) fail("Domain snapshot not found: no domain snapshot with matching name '" + snapshot + "'");
    vm.snapshots = vm.snapshots.filter((s) => s !== snapshot);
    done('Domain snapshot ' + snapshot + ' deleted\n');
  case 'start':
    if (vm.running) fail('Domain is already active');
    vm.running = true;
    done("Domain '" + domain + "' started\n\n");
  case 'domstate':
    done((vm.running ? 'running' : 'shut off') + '\n\n');
}
`;

export interface StandIn {
  /** The executable's path. */
  tool: string;
  dir: string;
  read(): Promise<StandInState & { vms: Record<string, StandInVm & { restored?: string }> }>;
  write(state: StandInState): Promise<void>;
}

/** Writes the stand-in `vmrun` or `virsh` (as `fileName`, default the tool's name) with its VMs into a new temp folder. */
export async function standIn(kind: 'vmrun' | 'virsh', vms: Record<string, StandInVm>, fileName: string = kind): Promise<StandIn> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `klab-${kind}-stand-in-`));
  const tool = path.join(dir, fileName);
  const stateFile = path.join(dir, 'state.json');
  await writeFile(tool, `#!${process.execPath}\n${sharedScript}${kind === 'vmrun' ? vmrunScript : virshScript}`);
  await chmod(tool, 0o755);
  const write = (state: StandInState) => writeFile(stateFile, JSON.stringify(state, null, 2));
  await write({ vms, calls: [] });
  return { tool, dir, read: async () => JSON.parse(await readFile(stateFile, 'utf8')) as Awaited<ReturnType<StandIn['read']>>, write };
}
