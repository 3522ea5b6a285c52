// klab's local state for one inventory lives next to it, in `<inventory folder>/.klab`:
// the pinned host keys, the cluster key pair (stage 02) and the run logs. Keeping it beside
// the inventory means two labs on one workstation never share pins or keys. The folder holds
// a private key, so it is created 0700 (chmod is best-effort: Windows has no POSIX modes).
import { randomBytes } from 'node:crypto';
import { mkdir, chmod, open, rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { dirname, join, resolve } from 'node:path';

/** The state folder of the inventory at `inventoryFile` (absolute or relative to the cwd). */
export function stateDir(inventoryFile: string): string {
  return join(dirname(resolve(inventoryFile)), '.klab');
}

/** klab's own known_hosts: `[address]:port key-type base64`, one pinned key per line. */
export function knownHostsPath(inventoryFile: string): string {
  return join(stateDir(inventoryFile), 'known_hosts');
}

/** The klab key pair stage 02 installs for root on every host (OpenSSH formats). */
export function clusterKeyPaths(inventoryFile: string): { privateKey: string; publicKey: string } {
  const privateKey = join(stateDir(inventoryFile), 'id_ed25519');
  return { privateKey, publicKey: `${privateKey}.pub` };
}

/** Where the runner writes full command logs. */
export function logsDir(inventoryFile: string): string {
  return join(stateDir(inventoryFile), 'logs');
}

/** Creates `dir` (and parents) restricted to the owner; a folder that already exists keeps its mode. */
export async function ensurePrivateDir(dir: string): Promise<string> {
  const firstCreated = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (firstCreated !== undefined) await chmodBestEffort(dir, 0o700);
  return dir;
}

/** Creates the state folder (0700); returns it. Its logs folder is created by RunLog.open. */
export async function ensureStateDir(inventoryFile: string): Promise<string> {
  return ensurePrivateDir(stateDir(inventoryFile));
}

/** chmod where the OS has POSIX modes; on Windows the call may fail or do little, and that is fine. */
async function chmodBestEffort(path: string, mode: number): Promise<void> {
  try {
    await chmod(path, mode);
  } catch (error) {
    if (process.platform !== 'win32') throw error;
  }
}

/**
 * Writes a local file so readers see the old or the new content, never half of it: a temp
 * file in the same folder (same filesystem, so rename is atomic) created with `mode` and
 * flushed to disk, then renamed over the target, so a crash cannot leave an empty key or
 * known_hosts file either. Parent folders are created.
 */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx', mode);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await chmodBestEffort(temp, mode);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
