// Hosts with neither keyFile nor password: klab logs in the way OpenSSH's client would, through
// a real OpenSSH ssh-agent (started here on a socket of its own, the key added with ssh-add),
// then the default key files of a temporary home folder, then klab's cluster key, against a
// real sshd. The test runs ssh-agent and ssh-add to set the scene; klab itself runs neither.
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { HostSpec } from '../../src/inventory/schema.js';
import { AuthenticationError, NoCredentialsError } from '../../src/transport/errors.js';
import { connectAll, connectHost } from '../../src/transport/ssh.js';
import type { ConnectOptions } from '../../src/transport/ssh.js';
import { startSshd } from '../support/sshd.js';
import type { SshdFixture } from '../support/sshd.js';

const execFileAsync = promisify(execFile);

let sshd: SshdFixture;
let work: string;
let home: string;
let notes: string[];
const saved = { HOME: process.env.HOME, SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK };

interface KeyPair {
  private: string;
  public: string;
  fingerprint: string;
}

function keyPair(type: 'ed25519' | 'ecdsa' | 'rsa', passphrase?: string): KeyPair {
  const encryption: { passphrase: string; cipher: string; rounds: number } | { comment?: string } = passphrase ? { passphrase, cipher: 'aes256-ctr', rounds: 2 } : {};
  const pair =
    type === 'ed25519'
      ? ssh2.utils.generateKeyPairSync('ed25519', encryption)
      : type === 'ecdsa'
        ? ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256, ...encryption })
        : ssh2.utils.generateKeyPairSync('rsa', { bits: 2048, ...encryption });
  const blob = Buffer.from(pair.public.trim().split(/\s+/)[1] ?? '', 'base64');
  return { private: pair.private, public: pair.public.trim(), fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}` };
}

/** A spec for root with no keyFile and no password. */
function bareSpec(name = 'master'): HostSpec {
  const { keyFile: _none, ...spec } = sshd.hostSpec({ name });
  return spec;
}

const options = (extra: Partial<ConnectOptions> = {}): ConnectOptions => ({
  knownHostsFile: join(work, 'known_hosts'),
  inventoryDir: work,
  note: (text) => notes.push(text),
  ...extra,
});

/** sshd's own record of which key it accepted. */
const accepted = (pair: KeyPair): boolean =>
  sshd
    .log()
    .split('\n')
    .some((line) => line.includes('Accepted publickey for root from 127.0.0.1') && line.includes(pair.fingerprint));

/** Starts OpenSSH's ssh-agent in the foreground on its own socket, with `keys` added by ssh-add. */
async function startAgent(keys: readonly KeyPair[]): Promise<{ socket: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'klab-agent-'));
  const socket = join(dir, 'agent.sock');
  const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    // With -D the agent prints its environment once the socket is bound.
    agent.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('SSH_AUTH_SOCK')) resolve();
    });
    agent.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    agent.once('error', (error) => reject(new Error(`ssh-agent did not start (install openssh-client): ${error.message}`)));
    agent.once('exit', (code) => reject(new Error(`ssh-agent exited with ${code}: ${output}`)));
  });
  for (const [index, key] of keys.entries()) {
    const file = join(dir, `key-${index}`);
    await writeFile(file, key.private, { mode: 0o600 });
    await execFileAsync('ssh-add', [file], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
  }
  return {
    socket,
    stop: async () => {
      if (agent.exitCode === null && agent.signalCode === null) {
        await new Promise<void>((resolve) => {
          agent.once('exit', () => resolve());
          agent.kill('SIGTERM');
        });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function writeDefaultKey(name: string, pair: KeyPair): Promise<void> {
  await mkdir(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(home, '.ssh', name), pair.private, { mode: 0o600 });
}

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(join(tmpdir(), 'klab-login-'));
});
afterAll(async () => {
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  notes = [];
  // Each test gets an empty home folder and no agent unless it starts one: the machine's own
  // ~/.ssh and agent must never decide a result.
  home = await mkdtemp(join(work, 'home-'));
  process.env.HOME = home;
  delete process.env.SSH_AUTH_SOCK;
});
afterEach(async () => {
  process.env.HOME = saved.HOME;
  if (saved.SSH_AUTH_SOCK === undefined) delete process.env.SSH_AUTH_SOCK;
  else process.env.SSH_AUTH_SOCK = saved.SSH_AUTH_SOCK;
  await sshd.authorize('root', sshd.clientPublicKey);
});

describe('with neither keyFile nor password', () => {
  test('the home folder is the temporary one, as OpenSSH and klab find it', () => {
    expect(homedir()).toBe(home);
  });

  test('logs in with a key held by a real ssh-agent (SSH_AUTH_SOCK)', async () => {
    const inAgent = keyPair('ed25519');
    await sshd.authorize('root', inAgent.public);
    const agent = await startAgent([keyPair('ed25519'), inAgent]);
    try {
      process.env.SSH_AUTH_SOCK = agent.socket;
      const host = await connectHost(bareSpec(), options());
      try {
        expect((await host.exec('id -u')).stdout).toBe('0\n');
      } finally {
        await host.close();
      }
      expect(accepted(inAgent)).toBe(true);
      expect(notes).toContain(`login without keyFile or password, as OpenSSH does: the SSH agent (SSH_AUTH_SOCK=${agent.socket}) holding 2 keys`);
    } finally {
      await agent.stop();
    }
  });

  test('default keys: ~/.ssh/id_ed25519 encrypted is passed over with a note, id_ecdsa logs in', async () => {
    const ecdsa = keyPair('ecdsa');
    await sshd.authorize('root', ecdsa.public);
    await writeDefaultKey('id_ed25519', keyPair('ed25519', 'a-passphrase-klab-never-has'));
    await writeDefaultKey('id_ecdsa', ecdsa);
    const host = await connectHost(bareSpec(), options());
    await host.close();
    expect(accepted(ecdsa)).toBe(true);
    const sshDir = join(home, '.ssh');
    expect(notes).toContain(`login without keyFile or password, as OpenSSH does: ${join(sshDir, 'id_ecdsa')}`);
    expect(notes).toContain(
      `login: passed over ${join(sshDir, 'id_ed25519')}: is encrypted with a passphrase, and klab does not ask for passphrases (add it to the SSH agent instead)`,
    );
  });

  test('an agent that does not answer is passed over, and the default key still logs in', async () => {
    const rsa = keyPair('rsa');
    await sshd.authorize('root', rsa.public);
    await writeDefaultKey('id_rsa', rsa);
    process.env.SSH_AUTH_SOCK = join(work, 'no-agent-here.sock');
    const host = await connectHost(bareSpec(), options());
    await host.close();
    expect(accepted(rsa)).toBe(true);
    expect(notes.some((n) => n.startsWith(`login: passed over the SSH agent (SSH_AUTH_SOCK=${join(work, 'no-agent-here.sock')}): no answer`))).toBe(true);
  });

  test('a failure names every method tried, in order, and what was passed over, never a secret', async () => {
    const agent = await startAgent([keyPair('ed25519')]);
    try {
      process.env.SSH_AUTH_SOCK = agent.socket;
      await writeDefaultKey('id_ed25519', keyPair('ed25519'));
      await writeDefaultKey('id_rsa', keyPair('rsa', 'secret-passphrase-xyz'));
      const cluster = keyPair('ed25519');
      const error = await connectHost(bareSpec(), options({ clusterPrivateKey: cluster.private })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      const sshDir = join(home, '.ssh');
      expect((error as Error).message).toBe(
        `master (127.0.0.1:${sshd.port}): authentication as root failed (tried publickey with the SSH agent (SSH_AUTH_SOCK=${agent.socket}) holding 1 key, ` +
          `publickey with ${join(sshDir, 'id_ed25519')} and publickey with klab's cluster key); ` +
          `passed over ${join(sshDir, 'id_rsa')}: is encrypted with a passphrase, and klab does not ask for passphrases (add it to the SSH agent instead)`,
      );
      expect(`${(error as Error).message}${(error as AuthenticationError).hint ?? ''}`).not.toContain('secret-passphrase-xyz');
      expect((error as Error).message).not.toContain('PRIVATE KEY');
    } finally {
      await agent.stop();
    }
  });

  test("a key the agent holds is not offered again from ~/.ssh (each refusal counts against sshd's MaxAuthTries)", async () => {
    const same = keyPair('ed25519');
    const agent = await startAgent([same]);
    try {
      process.env.SSH_AUTH_SOCK = agent.socket;
      await writeDefaultKey('id_ed25519', same);
      const error = await connectHost(bareSpec(), options()).catch((e: unknown) => e);
      expect((error as Error).message).toBe(
        `master (127.0.0.1:${sshd.port}): authentication as root failed (tried publickey with the SSH agent (SSH_AUTH_SOCK=${agent.socket}) holding 1 key)`,
      );
    } finally {
      await agent.stop();
    }
  });

  test("klab's cluster key still gets in when there is no agent and no default key", async () => {
    const refused = await connectHost(bareSpec(), options({ clusterPrivateKey: keyPair('ed25519').private })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthenticationError);
    const cluster = keyPair('ed25519');
    await sshd.authorize('root', cluster.public);
    const viaCluster = await connectHost(bareSpec(), options({ clusterPrivateKey: cluster.private }));
    await viaCluster.close();
    expect(accepted(cluster)).toBe(true);
  });

  test('nothing to offer at all is a clear error before any connection', async () => {
    await writeDefaultKey('id_ed25519', keyPair('ed25519', 'pp'));
    const error = await connectHost(bareSpec(), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoCredentialsError);
    expect((error as Error).message).toBe(
      `master (127.0.0.1:${sshd.port}): klab has no way to log in as root: the inventory gives no keyFile or password, no SSH agent offers a key, ` +
        `and there is no usable ~/.ssh/id_ed25519, id_ecdsa or id_rsa (passed over ${join(home, '.ssh', 'id_ed25519')}: is encrypted with a passphrase, and klab does not ask for passphrases (add it to the SSH agent instead))`,
    );
    expect((error as NoCredentialsError).hint).toContain('ssh-add');
  });

  test('connectAll looks for the agent and default keys once for all hosts', async () => {
    const ed = keyPair('ed25519');
    await sshd.authorize('root', ed.public);
    await writeDefaultKey('id_ed25519', ed);
    const { port: _port, ...first } = bareSpec('master');
    const hosts = await connectAll([bareSpec('master'), { ...first, name: 'node1', port: sshd.port }], options());
    await Promise.all(hosts.map((h) => h.close()));
    expect(hosts.map((h) => h.name)).toEqual(['master', 'node1']);
    expect(notes.filter((n) => n.startsWith('login without keyFile or password'))).toHaveLength(1);
  });
});
