// The local qemu lab: three Debian VMs (master, node1, node2) that klab's stages run on for
// real. create = cached base image + a qcow2 overlay per VM + lab key + lab.yaml, then start;
// start = boot the VMs, pin their host keys, prove SSH and the lab network; stop keeps the
// disks; destroy removes everything the lab made. Whatever a failed create or start had
// started is stopped before the error reaches the user.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { knownHostsPath } from '../state.js';
import { forgetHostKeys, pinHostKey } from '../transport/known-hosts.js';
import { ensureKeyPairFile } from '../transport/keys.js';
import { chooseAccelerator, type Accelerator } from './accelerator.js';
import { readMachineAptSources, sourcesForSuite } from './apt-sources.js';
import { LabOperationError, LabStateError } from './errors.js';
import { waitForGuest, type GuestConnection } from './guest.js';
import { ensureBaseImage, labCacheRoot } from './image.js';
import { labVms, type LabVmPlan } from './layout.js';
import { labInventoryName, labKeyName, labRecordFormat, labRecordName, readLabRecord, renderLabInventory, vmPaths, type LabRecord, type VmRecord } from './lab-files.js';
import { checkPrerequisites } from './prerequisites.js';
import { makeRecipe, suite } from './recipe.js';
import { chooseVmSize, type HostShape, type VmSize } from './sizing.js';
import type { VmLaunch } from './qemu-args.js';
import { resetVm, runningPid, startVm, stopVm, type StopResult } from './vm.js';

export interface LabContext {
  dir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface CreateOptions extends LabContext {
  /** What the user asked for; the rest is sized to the machine (sizing.ts). */
  size: Partial<VmSize>;
  /** Overrides the Debian mirror read from the machine's apt sources. */
  mirror?: string;
}

/** Boot to SSH under TCG: ~30 s for one VM, ~75 s for three at once on two idle cores (LAB.md); far more on a busy machine. */
const bootTimeoutMs = 600_000;
/** A unix socket path must fit in sockaddr_un (108 bytes with its terminator). */
const maxSocketPath = 107;

export async function createLab(options: CreateOptions): Promise<LabRecord> {
  checkPrerequisites(['qemu-system-x86_64', 'qemu-img', 'debootstrap', 'mkfs.ext4', 'chroot'], true);
  const dir = path.resolve(options.dir);
  if (existsSync(path.join(dir, labRecordName))) {
    throw new LabStateError(`a lab already exists in ${dir}`, 'Start it with `klab lab start`, or remove it with `klab lab destroy` first.');
  }
  checkSocketPaths(dir);
  const taken = labFileNames().filter((name) => existsSync(path.join(dir, name)));
  if (taken.length > 0) {
    throw new LabStateError(`${dir} already holds ${taken.join(', ')}, which a lab would overwrite`, 'Choose an empty or new folder with --dir.');
  }
  const { mirror, sources } = options.mirror
    ? { mirror: options.mirror, sources: [{ uri: options.mirror, suites: [suite, `${suite}-updates`], components: ['main'] }] }
    : sourcesForSuite(await readMachineAptSources(), suite);
  const host: HostShape = { cpus: os.cpus().length, memoryMb: Math.floor(os.totalmem() / 2 ** 20) };
  const { size, warnings } = chooseVmSize(host, options.size, labVms.length);
  options.log(`VM size: ${size.cpus} vCPU${size.cpus === 1 ? '' : 's'} and ${size.memoryMb} MiB each (${describeSizeSource(options.size, host)})`);
  for (const warning of warnings) options.log(`warning: ${warning}`);
  const image = await ensureBaseImage(makeRecipe(mirror, sources), options);
  const { accelerator, why } = await chooseAccelerator(image, { cacheRoot: labCacheRoot(), ...(options.signal ? { signal: options.signal } : {}) });
  options.log(`accelerator: ${accelerator} (${why})`);

  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const record: LabRecord = {
      format: labRecordFormat,
      memoryMb: size.memoryMb,
      cpus: size.cpus,
      accelerator,
      image,
      labMulticast: await freeMulticastChannel(),
      vms: await withPorts(labVms),
    };
    await writeFile(path.join(dir, labRecordName), `${JSON.stringify(record, null, 2)}\n`);
    await ensureKeyPairFile(path.join(dir, labKeyName), `klab-lab@${path.basename(dir)}`);
    for (const vm of record.vms) {
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image.image, vmPaths(dir, vm.name).disk]);
    }
    await writeFile(path.join(dir, labInventoryName), renderLabInventory(dir, record));
    await startLab({ ...options, dir });
    return record;
  } catch (error) {
    options.log(`create failed; removing what it made in ${dir}`);
    if (existsSync(path.join(dir, labRecordName))) await destroyLab({ ...options, dir });
    else if ((await readdir(dir)).length === 0) await rmdir(dir);
    throw error;
  }
}

function describeSizeSource(requested: Partial<VmSize>, host: HostShape): string {
  const machine = `this machine's ${host.cpus} cores and ${Math.round(host.memoryMb / 1024)} GiB`;
  if (requested.cpus !== undefined && requested.memoryMb !== undefined) return 'as asked';
  if (requested.cpus !== undefined) return `vCPUs as asked, memory sized to ${machine}`;
  if (requested.memoryMb !== undefined) return `memory as asked, vCPUs sized to ${machine}`;
  return `sized to ${machine}; --cpus and --memory override`;
}

export async function startLab(context: LabContext): Promise<void> {
  checkPrerequisites(['qemu-system-x86_64'], true);
  const dir = path.resolve(context.dir);
  const record = await readLabRecord(dir);
  for (const file of [record.image.image, record.image.kernel, record.image.initrd]) {
    if (!existsSync(file)) throw new LabStateError(`the lab's base image file ${file} is gone (cache cleaned?)`, 'Destroy the lab and create it again.');
  }
  for (const vm of record.vms) {
    if ((await runningPid(vmPaths(dir, vm.name).pidFile)) !== undefined) throw new LabStateError(`${vm.name} is already running`, 'See `klab lab status`.');
    await checkPortsFree(vm);
  }
  const publicKey = (await readFile(path.join(dir, `${labKeyName}.pub`), 'utf8')).trim();
  const privateKey = await readFile(path.join(dir, labKeyName), 'utf8');
  const connections = new Map<string, GuestConnection>();
  try {
    for (const vm of record.vms) {
      const pid = await startVm(launchOf(dir, record, vm, publicKey), dir);
      const api = vm.apiServerPort === undefined ? '' : `, API server 127.0.0.1:${vm.apiServerPort}`;
      context.log(`${vm.name}: qemu started (pid ${pid}, SSH 127.0.0.1:${vm.sshPort}${api}, lab address ${vm.internalAddress})`);
    }
    context.log(`waiting for the VMs to boot (${bootEstimate(record.accelerator)})`);
    const started = Date.now();
    await Promise.all(
      record.vms.map(async (vm) => {
        const paths = vmPaths(dir, vm.name);
        const { connection, hostKeys } = await waitForGuest(
          { name: vm.name, port: vm.sshPort, privateKey },
          { consoleLog: paths.consoleLog, timeoutMs: bootTimeoutMs, ...(context.signal ? { signal: context.signal } : {}) },
        );
        connections.set(vm.name, connection);
        await pinLabHostKeys(dir, vm, hostKeys.map((k) => Buffer.from(k.base64, 'base64')));
        context.log(`${vm.name}: SSH up after ${Math.round((Date.now() - started) / 1000)} s, host keys pinned from its console`);
      }),
    );
    await checkLabNetwork(record, connections, context.signal);
    context.log(`lab network ${record.vms.map((vm) => vm.internalAddress).join(', ')}: every VM reaches every other`);
  } catch (error) {
    context.log(`start failed; stopping the VMs it started`);
    await Promise.all(record.vms.map((vm) => stopVm({ name: vm.name, ...vmPaths(dir, vm.name) }, false)));
    throw error;
  } finally {
    for (const connection of connections.values()) connection.close();
  }
}

function bootEstimate(accelerator: Accelerator): string {
  switch (accelerator) {
    case 'kvm':
      return 'KVM: seconds';
    case 'tcg':
      return 'TCG: a minute or more for three';
  }
}

/** Refuses to start a VM whose forwarded ports another program has taken meanwhile. */
async function checkPortsFree(vm: VmRecord): Promise<void> {
  const ports: Array<[number, string]> = [[vm.sshPort, `SSH of ${vm.name}`], ...(vm.apiServerPort === undefined ? [] : [[vm.apiServerPort, `API server of ${vm.name}`] as [number, string]])];
  for (const [port, what] of ports) {
    if (!(await tcpPortFree(port))) {
      throw new LabStateError(`port 127.0.0.1:${port} (${what}) is in use by another program`, 'Stop that program, or destroy and re-create the lab to get new ports.');
    }
  }
}

/** Replaces the lab VM's pins in the lab inventory's known_hosts with the keys its console showed. */
async function pinLabHostKeys(dir: string, vm: VmRecord, blobs: Buffer[]): Promise<void> {
  const file = knownHostsPath(path.join(dir, labInventoryName));
  await forgetHostKeys(file, '127.0.0.1', vm.sshPort);
  for (const blob of blobs) await pinHostKey(file, '127.0.0.1', vm.sshPort, blob);
}

/** Every VM pings every other on the lab network (networkd may still be configuring it: retry for a minute). */
async function checkLabNetwork(record: LabRecord, connections: ReadonlyMap<string, GuestConnection>, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const [name, connection] of connections) {
    for (const peer of record.vms.filter((vm) => vm.name !== name)) {
      for (;;) {
        signal?.throwIfAborted();
        const ping = await connection.exec(`ping -c 1 -W 2 ${peer.internalAddress}`);
        if (ping.code === 0) break;
        if (Date.now() > deadline) {
          throw new LabOperationError(
            `${name} cannot reach ${peer.name} at ${peer.internalAddress} on the lab network`,
            `ping said: ${(ping.stdout + ping.stderr).trim().split('\n').slice(-2).join(' ')}`,
          );
        }
      }
    }
  }
}

export async function stopLab(context: LabContext): Promise<void> {
  const dir = path.resolve(context.dir);
  const record = await readLabRecord(dir);
  await Promise.all(
    record.vms.map(async (vm) => {
      const paths = vmPaths(dir, vm.name);
      const { how } = await stopVm({ name: vm.name, ...paths }, true);
      context.log(`${vm.name}: ${describeStop(how, paths.consoleLog)}`);
    }),
  );
}

function describeStop(how: StopResult['how'], consoleLog: string): string {
  switch (how) {
    case 'not-running':
      return 'was not running';
    case 'powered-off':
      return 'powered off';
    case 'quit':
    case 'killed':
      return `did not power off in time; qemu ${how} (its console: ${consoleLog})`;
  }
}

/**
 * Stops every VM at once (no shutdown: the disks are about to go) and deletes the lab's
 * files, including klab's state for lab.yaml (.klab: pins, keys, logs). Only files the lab
 * makes are deleted; the folder itself goes only when that leaves it empty. Works on a
 * half-created lab too.
 */
export async function destroyLab(context: LabContext): Promise<void> {
  const dir = path.resolve(context.dir);
  // lab.json is written before anything else a lab makes, so without it there is nothing of
  // ours to delete, and a folder that merely holds a .klab or a lab.yaml is left alone.
  const names = (await readLabRecord(dir)).vms.map((vm) => vm.name);
  await Promise.all(
    names.map(async (name) => {
      const { how } = await stopVm({ name, ...vmPaths(dir, name) }, false);
      if (how !== 'not-running') context.log(`${name}: stopped (${how})`);
    }),
  );
  for (const name of labFileNames(names)) await rm(path.join(dir, name), { recursive: true, force: true });
  if ((await readdir(dir)).length === 0) await rmdir(dir);
  context.log(`lab in ${dir} destroyed`);
}

export interface VmStatus {
  name: string;
  running: boolean;
  pid?: number;
  sshPort: number;
  apiServerPort?: number;
  internalAddress: string;
}

export async function labStatus(context: Pick<LabContext, 'dir'>): Promise<VmStatus[]> {
  const dir = path.resolve(context.dir);
  const record = await readLabRecord(dir);
  return Promise.all(
    record.vms.map(async (vm) => {
      const pid = await runningPid(vmPaths(dir, vm.name).pidFile);
      return {
        name: vm.name,
        running: pid !== undefined,
        ...(pid !== undefined ? { pid } : {}),
        sshPort: vm.sshPort,
        ...(vm.apiServerPort !== undefined ? { apiServerPort: vm.apiServerPort } : {}),
        internalAddress: vm.internalAddress,
      };
    }),
  );
}

/**
 * Boots one stopped VM of the lab from its disk as it is, without waiting for SSH: a snapshot
 * restored while the lab was stopped comes up this way. Its host keys are the pinned ones.
 */
export async function startLabVm(context: Pick<LabContext, 'dir'>, name: string): Promise<void> {
  checkPrerequisites(['qemu-system-x86_64'], true);
  const dir = path.resolve(context.dir);
  const record = await readLabRecord(dir);
  const vm = record.vms.find((v) => v.name === name);
  if (!vm) throw new LabStateError(`the lab has no VM named ${name}`);
  await checkPortsFree(vm);
  const publicKey = (await readFile(path.join(dir, `${labKeyName}.pub`), 'utf8')).trim();
  await startVm(launchOf(dir, record, vm, publicKey), dir);
}

/** Presses one VM's reset button (tests use it to interrupt a stage the hard way). */
export async function resetLabVm(context: Pick<LabContext, 'dir'>, name: string): Promise<void> {
  const dir = path.resolve(context.dir);
  const record = await readLabRecord(dir);
  if (!record.vms.some((vm) => vm.name === name)) throw new LabStateError(`the lab has no VM named ${name}`);
  await resetVm(vmPaths(dir, name));
}

function launchOf(dir: string, record: LabRecord, vm: VmRecord, authorizedKey: string): VmLaunch {
  return {
    name: vm.name,
    accelerator: record.accelerator,
    cpus: record.cpus,
    memoryMb: record.memoryMb,
    kernel: record.image.kernel,
    initrd: record.image.initrd,
    natMac: vm.natMac,
    labMac: vm.labMac,
    sshPort: vm.sshPort,
    ...(vm.apiServerPort !== undefined ? { apiServerPort: vm.apiServerPort } : {}),
    labMulticast: record.labMulticast,
    authorizedKey,
    ...vmPaths(dir, vm.name),
  };
}

/** Every name a lab creates in its folder; lab.json last, so an interrupted destroy can run again. */
function labFileNames(vmNames: readonly string[] = labVms.map((vm) => vm.name)): string[] {
  const perVm = vmNames.flatMap((name) => Object.values(vmPaths('', name)));
  return [...perVm, labInventoryName, labKeyName, `${labKeyName}.pub`, '.klab', labRecordName];
}

function checkSocketPaths(dir: string): void {
  const longest = labVms.map((vm) => vmPaths(dir, vm.name).qmpSocket).sort((a, b) => b.length - a.length)[0] ?? '';
  if (Buffer.byteLength(longest) > maxSocketPath) {
    throw new LabStateError(`the lab folder path is too long for qemu's control socket (${longest})`, 'Use a shorter --dir.');
  }
  if (dir.includes(',')) throw new LabStateError(`the lab folder path must not contain a comma (qemu options use commas): ${dir}`);
}

/** Gives each VM an SSH port, and the control plane an API server port, that nothing listens on now, no two alike. */
async function withPorts(vms: readonly LabVmPlan[]): Promise<VmRecord[]> {
  const needed = vms.length + vms.filter((vm) => vm.role === 'control-plane').length;
  const ports = new Set<number>();
  while (ports.size < needed) ports.add(await freeTcpPort());
  const free = [...ports];
  const take = () => free.shift() ?? 0;
  return vms.map((vm) => ({ ...vm, sshPort: take(), ...(vm.role === 'control-plane' ? { apiServerPort: take() } : {}) }));
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A random administratively scoped group and a free UDP port, so two labs never share a network. */
async function freeMulticastChannel(): Promise<{ group: string; port: number }> {
  const group = `239.77.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  const port = await new Promise<number>((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port: bound } = socket.address();
      socket.close(() => resolve(bound));
    });
  });
  return { group, port };
}
