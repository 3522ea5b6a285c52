// Talking to a lab VM before klab's own transport takes over: learn its SSH host keys from
// its serial console (the guest prints them at boot, see recipe.ts), then connect with the
// lab key and accept only those keys. No trust-on-first-use is needed for lab VMs.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { LabOperationError } from './errors.js';

export interface HostKey {
  type: string;
  base64: string;
}

/** Host keys the guest printed on its console, in the order printed, without repeats. */
export function parseConsoleHostKeys(consoleText: string): HostKey[] {
  const keys = new Map<string, HostKey>();
  for (const match of consoleText.matchAll(/klab-host-key ((?:ssh|ecdsa-sha2)-[a-z0-9-]+) ([A-Za-z0-9+/]+={0,2})(?=\s)/g)) {
    const [, type = '', base64 = ''] = match;
    // A line the kernel's own console output broke into is ignored rather than trusted.
    if (ssh2.utils.parseKey(`${type} ${base64}`) instanceof Error) continue;
    keys.set(`${type} ${base64}`, { type, base64 });
  }
  return [...keys.values()];
}

async function readConsoleHostKeys(consoleLog: string): Promise<HostKey[]> {
  try {
    return parseConsoleHostKeys(await readFile(consoleLog, 'latin1'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export interface GuestExec {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GuestConnection {
  exec(command: string, timeoutMs?: number): Promise<GuestExec>;
  close(): void;
}

export interface GuestTarget {
  name: string;
  port: number;
  privateKey: string;
  hostKeys: readonly HostKey[];
}

export function connectGuest(target: GuestTarget, timeoutMs = 20_000): Promise<GuestConnection> {
  const allowed = target.hostKeys.map((k) => Buffer.from(k.base64, 'base64'));
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    let ready = false;
    client.once('ready', () => {
      ready = true;
      resolve(guestConnection(client, target.name));
    });
    // ssh2 may report more than one error for one failed handshake, and errors after `ready`
    // surface as failed commands; a listener must stay attached either way.
    client.on('error', (error) => {
      if (!ready) reject(error);
    });
    client.connect({
      host: '127.0.0.1',
      port: target.port,
      username: 'root',
      privateKey: target.privateKey,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => allowed.some((k) => k.equals(key)),
    });
  });
}

function guestConnection(client: ssh2.Client, name: string): GuestConnection {
  return {
    exec: (command, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new LabOperationError(`${name}: \`${command}\` did not finish within ${timeoutMs} ms`)), timeoutMs);
        client.exec(command, (error, channel) => {
          if (error) {
            clearTimeout(timer);
            return reject(error);
          }
          let stdout = '';
          let stderr = '';
          channel.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
          channel.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
          channel.on('close', (code: number | null, signal?: string) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 255 : 0), stdout, stderr });
          });
        });
      }),
    close: () => client.end(),
  };
}

export interface WaitOptions {
  consoleLog: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Waits until the VM has printed its host keys and accepts the lab key over SSH. */
export async function waitForGuest(target: Omit<GuestTarget, 'hostKeys'>, options: WaitOptions): Promise<{ connection: GuestConnection; hostKeys: HostKey[] }> {
  const deadline = Date.now() + options.timeoutMs;
  let lastProblem = 'it printed no host keys on its console yet';
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    const hostKeys = await readConsoleHostKeys(options.consoleLog);
    if (hostKeys.length > 0) {
      try {
        const connection = await connectGuest({ ...target, hostKeys }, 15_000);
        return { connection, hostKeys };
      } catch (error) {
        lastProblem = `SSH: ${(error as Error).message}`;
      }
    }
    await sleep(2_000);
  }
  throw new LabOperationError(
    `${target.name} did not become reachable over SSH on 127.0.0.1:${target.port} within ${Math.round(options.timeoutMs / 1000)} s (${lastProblem})`,
    `Its serial console is in ${options.consoleLog}.`,
  );
}
