// klab's own known_hosts (in the inventory's state folder): one pinned host key per line as
// `[address]:port key-type base64`, the OpenSSH layout, so users can read and compare it
// with ssh-keygen output. Writes are atomic and serialised within the process, because
// connectAll pins several hosts at once.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../state.js';

export interface PinnedKey {
  type: string;
  /** The key blob as sent in the SSH handshake. */
  blob: Buffer;
}

export function hostPattern(address: string, port: number): string {
  return `[${address}]:${port}`;
}

/** OpenSSH-style fingerprint of a host key blob: `SHA256:` + unpadded base64 of its digest. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name at the start of an SSH key blob (a length-prefixed string). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

export async function readPinnedKeys(file: string, address: string, port: number): Promise<PinnedKey[]> {
  const pattern = hostPattern(address, port);
  return (await readLines(file)).flatMap((line) => {
    const [patterns, type, base64] = line.trim().split(/\s+/);
    if (!patterns || !type || !base64 || line.trim().startsWith('#')) return [];
    return patterns.split(',').includes(pattern) ? [{ type, blob: Buffer.from(base64, 'base64') }] : [];
  });
}

/** Adds a pin for `address:port` (once: two first contacts at the same time pin one line). */
export function pinHostKey(file: string, address: string, port: number, blob: Buffer): Promise<void> {
  return serialised(file, async () => {
    const lines = await readLines(file);
    const line = `${hostPattern(address, port)} ${keyType(blob)} ${blob.toString('base64')}`;
    if (lines.some((existing) => existing.trim() === line)) return;
    await writeLines(file, [...lines, line]);
  });
}

/** Removes every pin for `address:port`; returns how many were removed. */
export function forgetHostKeys(file: string, address: string, port: number): Promise<number> {
  return serialised(file, async () => {
    const pattern = hostPattern(address, port);
    const lines = await readLines(file);
    const kept = lines.filter((line) => !(line.trim().split(/\s+/)[0] ?? '').split(',').includes(pattern));
    if (kept.length !== lines.length) await writeLines(file, kept);
    return lines.length - kept.length;
  });
}

async function readLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function writeLines(file: string, lines: string[]): Promise<void> {
  await ensurePrivateDir(dirname(file));
  await writeFileAtomic(file, lines.length === 0 ? '' : `${lines.join('\n')}\n`, 0o644);
}

const queues = new Map<string, Promise<unknown>>();

function serialised<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
}
