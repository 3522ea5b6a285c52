// Helpers for the lab suite: run the built CLI, and reach a lab VM over SSH with the lab key,
// accepting only the host keys `klab lab` pinned from the VM's console.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { connectGuest, type GuestConnection, type HostKey } from '../../src/lab/guest.js';
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
