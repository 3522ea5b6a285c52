// Helpers for the lab suite: run the built CLI, and reach a lab VM over SSH with the lab key,
// accepting only the host keys `klab lab` pinned from the VM's console.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { connectGuest, type GuestConnection, type HostKey } from '../../src/lab/guest.js';
import { destroyLab, resetLabVm } from '../../src/lab/lab.js';
import { readLabRecord, labInventoryName, labKeyName } from '../../src/lab/lab-files.js';
import { knownHostsPath } from '../../src/state.js';
import { readPinnedKeys } from '../../src/transport/known-hosts.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repoRoot, 'dist', 'klab.js');

/** Runs `node dist/klab.js ARGS` to completion; never rejects, so tests assert on the result. */
export function klab(args: readonly string[]) {
  return execa('node', [cli, ...args], { reject: false, all: true, cwd: repoRoot, env: { NO_COLOR: '1' } });
}

/** Starts `node dist/klab.js ARGS` and returns the running process. */
export function startKlab(args: readonly string[]): ResultPromise<{ reject: false; all: true }> {
  return execa('node', [cli, ...args], { reject: false, all: true, cwd: repoRoot, env: { NO_COLOR: '1' } });
}

/** JSON lines printed by `klab … --json` (other lines are ignored). */
export function jsonLines(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Opens an SSH connection to one lab VM, retrying while it boots (up to `timeoutMs`). */
export async function connectLabVm(dir: string, name: string, timeoutMs = 300_000): Promise<GuestConnection> {
  const record = await readLabRecord(dir);
  const vm = record.vms.find((v) => v.name === name);
  if (!vm) throw new Error(`the lab in ${dir} has no VM ${name}`);
  const pins = await readPinnedKeys(knownHostsPath(path.join(dir, labInventoryName)), '127.0.0.1', vm.sshPort);
  const hostKeys: HostKey[] = pins.map((pin) => ({ type: pin.type, base64: pin.blob.toString('base64') }));
  const privateKey = await readFile(path.join(dir, labKeyName), 'utf8');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectGuest({ name, port: vm.sshPort, privateKey, hostKeys }, 15_000);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(2_000);
    }
  }
}

/** Runs a command on a VM and returns its trimmed standard output; fails on a non-zero exit. */
export async function onVm(connection: GuestConnection, command: string): Promise<string> {
  const result = await connection.exec(command, 120_000);
  if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout.trim();
}

/** Makes a lab with `klab lab create` in a fresh temp folder and returns the folder; throws with the CLI's output when it fails. */
export async function createTestLab(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const created = await klab(['lab', 'create', '--dir', dir]);
  if (created.exitCode !== 0) throw new Error(`klab lab create failed (exit ${created.exitCode}):\n${created.all}`);
  return dir;
}

/**
 * Destroys a test lab with `klab lab destroy`, and through the module when the CLI fails, so
 * no VM is left behind. Returns whether the folder is gone, as a destroyed lab's must be.
 */
export async function destroyTestLab(dir: string): Promise<boolean> {
  if (!existsSync(path.join(dir, 'lab.json'))) {
    // create failed early and removed what it made; only the empty temp folder may be left.
    await rmdir(dir).catch(() => undefined);
    return true;
  }
  const destroyed = await klab(['lab', 'destroy', '--dir', dir]);
  if (destroyed.exitCode !== 0) await destroyLab({ dir, log: () => undefined });
  return !existsSync(dir);
}

/** SSH connections to a lab's VMs, opened on first use; forget one whose VM was reset. */
export class LabConnections {
  private readonly open = new Map<string, GuestConnection>();

  constructor(private readonly dir: () => string) {}

  async vm(name: string): Promise<GuestConnection> {
    const known = this.open.get(name);
    if (known) return known;
    const connection = await connectLabVm(this.dir(), name);
    this.open.set(name, connection);
    return connection;
  }

  forget(name: string): void {
    this.open.get(name)?.close();
    this.open.delete(name);
  }

  forgetAll(): void {
    for (const name of [...this.open.keys()]) this.forget(name);
  }
}

export interface Interruption {
  /** The lab the VM belongs to. */
  dir: string;
  /** The arguments of the `klab` run to interrupt. */
  args: readonly string[];
  /** The VM watched, and reset once the moment comes. */
  vm: string;
  connection: GuestConnection;
  /** A command run on the VM every half second while klab runs (it should exit 0). */
  probe: string;
  /** Whether the probe's output shows the moment to interrupt. */
  moment: (probeOutput: string) => boolean;
  /** The moment in words, for the error when it never comes. */
  what: string;
}

/**
 * Interrupts a klab run the hard way at a chosen moment: starts it, watches a VM until the
 * moment comes, then kills klab (SIGKILL) and presses that VM's reset button. Returns the
 * killed run; throws with klab's output if the run ended or 20 minutes passed first.
 */
export async function interruptAt(interruption: Interruption) {
  const run = startKlab(interruption.args);
  let finished = false;
  void run.then(() => (finished = true));
  const deadline = Date.now() + 20 * 60_000;
  let caught = false;
  while (!finished && Date.now() < deadline) {
    const probe = await interruption.connection.exec(interruption.probe);
    if (interruption.moment(probe.stdout)) {
      caught = true;
      break;
    }
    await sleep(500);
  }
  run.kill('SIGKILL');
  if (!caught) {
    const result = await run;
    throw new Error(`never saw ${interruption.what} (klab ${finished ? `exited ${result.exitCode}` : 'still running'}):\n${result.all}`);
  }
  await resetLabVm({ dir: interruption.dir }, interruption.vm);
  return run;
}
