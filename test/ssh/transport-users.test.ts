// Non-root SSH users against a real sshd: commands become root through `sudo -n`, a user
// whose sudo wants a password gets a clear error, and a password login never leaks the
// password into logs. The users are throwaway accounts made for this file and removed after.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { exitCodes } from '../../src/errors.js';
import { AuthenticationError, SudoPasswordRequiredError } from '../../src/transport/errors.js';
import type { CommandRecord } from '../../src/transport/host.js';
import { connectHost } from '../../src/transport/ssh.js';
import { startSshd } from '../support/sshd.js';
import type { SshdFixture } from '../support/sshd.js';

const suffix = randomBytes(3).toString('hex');
const sudoer = `klabsudo${suffix}`;
const plain = `klabplain${suffix}`;
const sudoersFile = `/etc/sudoers.d/klab-test-${suffix}`;
const password = `Pw-${randomBytes(8).toString('hex')}`;
let sshd: SshdFixture;

function run(file: string, args: string[], input?: string): void {
  try {
    execFileSync(file, args, { input, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`test setup failed: ${file} ${args.join(' ')}: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
  }
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test creates throwaway users and needs root');
  for (const tool of ['/usr/sbin/useradd', '/usr/sbin/chpasswd', '/usr/bin/sudo']) {
    try {
      execFileSync('test', ['-x', tool]);
    } catch {
      throw new Error(`${tool} is missing: install the ${tool.endsWith('sudo') ? 'sudo' : 'passwd'} package`);
    }
  }
  sshd = await startSshd();
  for (const user of [sudoer, plain]) {
    run('/usr/sbin/useradd', ['--create-home', '--shell', '/bin/sh', user]);
    run('/usr/sbin/chpasswd', [], `${user}:${password}\n`);
    await sshd.authorize(user, sshd.clientPublicKey);
  }
  await writeFile(sudoersFile, `${sudoer} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
});

afterAll(async () => {
  await rm(sudoersFile, { force: true });
  for (const user of [sudoer, plain]) {
    try {
      execFileSync('/usr/sbin/userdel', ['--remove', user], { stdio: 'ignore' });
    } catch {
      // The user was never created (setup failed earlier).
    }
  }
  await sshd?.stop();
});

const options = () => ({ knownHostsFile: join(sshd.dir, 'known_hosts'), inventoryDir: sshd.dir });

test('a user with passwordless sudo runs commands as root and writes root-owned files', async () => {
  const records: CommandRecord[] = [];
  const host = await connectHost(sshd.hostSpec({ user: sudoer }), { ...options(), logger: (r) => records.push(r) });
  try {
    expect((await host.exec('id -u')).stdout).toBe('0\n');
    const path = `${sshd.dir}/sudo-put/etc/file.conf`;
    await host.put(path, 'as root\n', { mode: 0o640 });
    expect((await host.exec(`stat -c '%a %U' ${path}`)).stdout).toBe('640 root\n');
    expect((await host.get(path)).toString()).toBe('as root\n');
    // The log shows the command as written, not the sudo wrapping.
    expect(records.some((r) => r.command === 'id -u')).toBe(true);
  } finally {
    await host.close();
  }
});

test('a user whose sudo asks for a password gets a clear error at connect', async () => {
  const error = await connectHost(sshd.hostSpec({ user: plain }), options()).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SudoPasswordRequiredError);
  expect((error as SudoPasswordRequiredError).exitCode).toBe(exitCodes.unreachable);
  expect((error as Error).message).toBe(`master: user ${plain} is not root and sudo asks for a password`);
  expect((error as SudoPasswordRequiredError).hint).toContain('NOPASSWD');
});

test('a password login works and the password never reaches the log', async () => {
  const records: CommandRecord[] = [];
  const { keyFile: _key, ...spec } = sshd.hostSpec({ user: sudoer });
  const host = await connectHost({ ...spec, password }, { ...options(), logger: (r) => records.push(r) });
  try {
    const result = await host.exec(`echo "${password}"; echo "${password}" >&2`);
    // The caller gets the real output; only the log is redacted.
    expect(result.stdout).toBe(`${password}\n`);
    const record = records.find((r) => r.command.startsWith('echo'));
    expect(record).toMatchObject({ command: 'echo "***"; echo "***" >&2', stdout: '***\n', stderr: '***\n' });
    expect(JSON.stringify(records)).not.toContain(password);
  } finally {
    await host.close();
  }
});

test('a wrong password for a user with a password is an authentication error without it', async () => {
  const wrong = `${password}-wrong`;
  const { keyFile: _key, ...spec } = sshd.hostSpec({ user: sudoer });
  const error = await connectHost({ ...spec, password: wrong }, options()).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuthenticationError);
  expect((error as Error).message).toBe(`master (127.0.0.1:${sshd.port}): authentication as ${sudoer} failed (tried password)`);
  expect(`${(error as Error).stack}`).not.toContain(password);
});
