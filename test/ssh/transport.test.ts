// The SSH transport against a real OpenSSH sshd on loopback: commands, timeouts, files,
// logging and the errors for hosts that cannot be reached.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exitCodes } from '../../src/errors.js';
import {
  AuthenticationError,
  CommandTimeoutError,
  ConnectFailedError,
  HostUnreachableError,
  KeyFileError,
  RemoteFileError,
  RemoteFileNotFoundError,
} from '../../src/transport/errors.js';
import type { CommandRecord } from '../../src/transport/host.js';
import { connectAll, connectHost } from '../../src/transport/ssh.js';
import type { SshHost } from '../../src/transport/ssh.js';
import { freePort, startSshd } from '../support/sshd.js';
import type { SshdFixture } from '../support/sshd.js';

let sshd: SshdFixture;
let work: string;
let host: SshHost;
const records: CommandRecord[] = [];

const options = () => ({ knownHostsFile: join(work, 'known_hosts'), inventoryDir: work, logger: (r: CommandRecord) => records.push(r) });

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(join(tmpdir(), 'klab-transport-'));
  host = await connectHost(sshd.hostSpec(), options());
});
afterAll(async () => {
  await host?.close();
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Polls `check` until it returns true; fails after `attempts` tries. Not a timing assertion: it only bounds the wait. */
async function eventually(check: () => Promise<boolean>, what: string, attempts = 40): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`never happened: ${what}`);
}

describe('exec', () => {
  test('returns stdout, stderr and the exit code', async () => {
    const result = await host.exec('echo out; echo err >&2; exit 7');
    expect(result).toMatchObject({ code: 0 + 7, stdout: 'out\n', stderr: 'err\n' });
  });

  test('runs through sh -c as root, with stdin', async () => {
    const result = await host.exec('read line; echo "$(id -u):$line"', { stdin: 'hello\n' });
    expect(result.stdout).toBe('0:hello\n');
  });

  test('a command killed by a signal reports 128 + the signal number', async () => {
    expect((await host.exec('kill -TERM $$')).code).toBe(128 + 15);
  });

  test('a timeout stops the command and its children and names host, command and timeout', async () => {
    const command = 'sleep 987654 & sleep 987655; echo never';
    const error = await host.exec(command, { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect((error as CommandTimeoutError).message).toBe(`master: command timed out after 1 s and was stopped: ${command}`);
    await eventually(async () => (await host.exec("pgrep -f 'sleep 98765[45]'")).code === 1, 'the timed-out processes are gone');
    // The connection is still good for the next command.
    expect((await host.exec('echo alive')).stdout).toBe('alive\n');
    const record = records.find((r) => r.command === command);
    expect(record?.code).toBe(124);
    expect(record?.stderr).toContain('timed out');
  });
});

describe('put and get', () => {
  test('put creates parent folders and sets mode and owner; get returns the bytes', async () => {
    const path = `${sshd.dir}/put/a/b/secret.bin`;
    const content = Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256));
    await host.put(path, content, { mode: 0o600, owner: 'nobody:nogroup' });
    expect((await host.exec(`stat -c '%a %U:%G' ${path}`)).stdout).toBe('600 nobody:nogroup\n');
    const back = await host.get(path);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back.equals(content)).toBe(true);
  });

  test('put replaces a file by rename (a new inode), default mode 0644, leaving no temp file', async () => {
    const dir = `${sshd.dir}/atomic`;
    const path = `${dir}/config.toml`;
    await host.put(path, 'first\n');
    const inodeBefore = (await host.exec(`stat -c %i ${path}`)).stdout;
    await host.put(path, 'second\n');
    const inodeAfter = (await host.exec(`stat -c %i ${path}`)).stdout;
    expect(inodeAfter).toMatch(/^\d+\n$/);
    expect(inodeAfter).not.toBe(inodeBefore);
    expect((await host.exec(`stat -c %a ${path}`)).stdout).toBe('644\n');
    expect((await host.get(path)).toString()).toBe('second\n');
    expect((await host.exec(`ls -A ${dir}`)).stdout).toBe('config.toml\n');
  });

  test('put logs the path but never the content', async () => {
    await host.put(`${sshd.dir}/logged/key`, 'PRIVATE-CONTENT-42', { mode: 0o600 });
    const record = records.find((r) => r.command.includes(`${sshd.dir}/logged/key`));
    expect(record?.command).toBe(`put ${sshd.dir}/logged/key (mode 600)`);
    expect(JSON.stringify(records)).not.toContain('PRIVATE-CONTENT-42');
  });

  test('put into a path that cannot be a folder fails with the host and path', async () => {
    await host.put(`${sshd.dir}/plainfile`, 'x');
    const error = await host.put(`${sshd.dir}/plainfile/inside`, 'y').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFileError);
    expect((error as Error).message).toContain(`master: writing ${sshd.dir}/plainfile/inside failed`);
  });

  test('get of a missing file is RemoteFileNotFoundError', async () => {
    const error = await host.get(`${sshd.dir}/no/such/file`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFileNotFoundError);
    expect((error as Error).message).toBe(`master: remote file ${sshd.dir}/no/such/file does not exist`);
  });
});

describe('logging', () => {
  test('every command reaches the logger with secrets redacted', async () => {
    records.length = 0;
    await host.exec('echo token=s3cr3t-t0ken >&2; echo s3cr3t-t0ken', { secrets: ['s3cr3t-t0ken'] });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ host: 'master', command: 'echo token=*** >&2; echo ***', code: 0, stdout: '***\n', stderr: 'token=***\n' });
    expect(JSON.stringify(records)).not.toContain('s3cr3t-t0ken');
  });
});

describe('hosts that cannot be reached', () => {
  test('a closed port is "connection refused"', async () => {
    const port = await freePort();
    const error = await connectHost(sshd.hostSpec({ port }), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostUnreachableError);
    expect((error as HostUnreachableError).reason).toBe('refused');
    expect((error as HostUnreachableError).exitCode).toBe(exitCodes.unreachable);
    expect((error as Error).message).toBe(`master (127.0.0.1:${port}) is unreachable: connection refused`);
  });

  test('a server that never speaks SSH runs into the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const error = await connectHost(sshd.hostSpec({ port }), { ...options(), connectTimeoutMs: 1500 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostUnreachableError);
      expect((error as HostUnreachableError).reason).toBe('timeout');
      expect((error as Error).message).toBe(`master (127.0.0.1:${port}) is unreachable: no SSH handshake within 1500 ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a key sshd does not accept is an authentication error naming the method', async () => {
    const otherKey = join(work, 'other_key');
    await writeFile(otherKey, ssh2.utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
    const error = await connectHost(sshd.hostSpec({ keyFile: 'other_key' }), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toBe(`master (127.0.0.1:${sshd.port}): authentication as root failed (tried publickey with keyFile other_key)`);
  });

  test('a wrong password is an authentication error that never shows the password', async () => {
    const password = 'Wr0ng-Passw0rd-xyz';
    const logged: CommandRecord[] = [];
    const { keyFile: _none, ...spec } = sshd.hostSpec();
    const error = await connectHost({ ...spec, password }, { ...options(), logger: (r) => logged.push(r) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toBe(`master (127.0.0.1:${sshd.port}): authentication as root failed (tried password)`);
    expect(`${(error as Error).message}\n${(error as Error).stack}\n${(error as AuthenticationError).hint}`).not.toContain(password);
    expect(JSON.stringify(logged)).not.toContain(password);
  });

  test("after stage 02 a password inventory gets in with klab's cluster key, and a failure names both methods", async () => {
    // Stage 02 authorizes the cluster key and sets PermitRootLogin prohibit-password, so the
    // inventory's root password stops working; the session offers the cluster key too.
    const password = 'no-longer-accepted';
    const { keyFile: _none, ...spec } = sshd.hostSpec();
    const clusterPrivateKey = await readFile(sshd.clientKeyFile, 'utf8');
    const viaClusterKey = await connectHost({ ...spec, password }, { ...options(), clusterPrivateKey });
    expect((await viaClusterKey.exec('id -u')).stdout.trim()).toBe('0');
    await viaClusterKey.close();

    const unauthorized = ssh2.utils.generateKeyPairSync('ed25519').private;
    const error = await connectHost({ ...spec, password }, { ...options(), clusterPrivateKey: unauthorized }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toBe(
      `master (127.0.0.1:${sshd.port}): authentication as root failed (tried publickey with klab's cluster key and password)`,
    );
  });

  test('an encrypted key file is refused before connecting', async () => {
    const encrypted = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'pass-phrase', cipher: 'aes256-ctr', rounds: 2 });
    await writeFile(join(work, 'encrypted_key'), encrypted.private, { mode: 0o600 });
    const error = await connectHost(sshd.hostSpec({ keyFile: 'encrypted_key' }), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyFileError);
    expect((error as Error).message).toBe(`key file ${join(work, 'encrypted_key')} is encrypted with a passphrase, and klab does not ask for passphrases`);
  });

  test('a missing key file names its resolved path', async () => {
    const error = await connectHost(sshd.hostSpec({ keyFile: 'nope' }), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyFileError);
    expect((error as Error).message).toBe(`key file ${join(work, 'nope')} does not exist`);
  });

  test('connectAll reports every failed host and closes the ones that connected', async () => {
    const refused = await freePort();
    const error = await connectAll(
      [sshd.hostSpec({ name: 'master' }), sshd.hostSpec({ name: 'node1', port: refused }), sshd.hostSpec({ name: 'node2', keyFile: 'nope' })],
      options(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectFailedError);
    const failures = (error as ConnectFailedError).failures;
    expect(failures.map((f) => f.host)).toEqual(['node1', 'node2']);
    expect((error as Error).message).toContain(`node1 (127.0.0.1:${refused}) is unreachable: connection refused`);
    expect((error as Error).message).toContain(`key file ${join(work, 'nope')} does not exist`);
    expect((error as ConnectFailedError).exitCode).toBe(exitCodes.unreachable);
  });

  test('connectAll returns connected hosts in the order given', async () => {
    const hosts = await connectAll([sshd.hostSpec({ name: 'node1' }), sshd.hostSpec({ name: 'master' })], options());
    try {
      expect(hosts.map((h) => h.name)).toEqual(['node1', 'master']);
      expect((await hosts[0]!.exec('echo ok')).stdout).toBe('ok\n');
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });
});
