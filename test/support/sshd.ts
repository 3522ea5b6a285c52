// A real OpenSSH sshd on 127.0.0.1 for tests: no mocks between klab and a host.
//
//   const sshd = await startSshd();            // free loopback port, own temp folder
//   sshd.port, sshd.host ('127.0.0.1'), sshd.user ('root')
//   sshd.clientKeyFile                         // private key (0600) authorized for root
//   sshd.clientPublicKey                       // its authorized_keys line
//   sshd.hostKeyFingerprint                    // SHA256:… of the current host key
//   sshd.hostSpec({ name: 'master' })          // a HostSpec for root with the client key
//   await sshd.authorize('alice', publicKey)   // authorized_keys for another user
//   await sshd.restartWithNewHostKey()         // same port, fresh host key (a "rebuilt VM")
//   await sshd.stop()                          // kills sshd and removes the folder
//
// Needs root (sshd with PermitRootLogin and password checks against /etc/shadow) and the
// openssh-server package; it fails with a clear message when either is missing. The
// privilege-separation folder /run/sshd is created when absent. Keys are made in-process.
// authorized_keys live in the fixture's folder (AuthorizedKeysFile <dir>/authorized_keys/%u)
// so the machine's own users' files are never touched.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { HostSpec } from '../../src/inventory/schema.js';

const sshdBinary = '/usr/sbin/sshd';

export interface SshdFixture {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'root';
  readonly dir: string;
  readonly clientKeyFile: string;
  readonly clientPublicKey: string;
  /** Fingerprint of the host key sshd serves now (changes after restartWithNewHostKey). */
  readonly hostKeyFingerprint: string;
  /** sshd's log so far (stderr with -e), for failure messages. */
  log(): string;
  hostSpec(overrides?: Partial<HostSpec>): HostSpec;
  authorize(user: string, publicKey: string): Promise<void>;
  restartWithNewHostKey(): Promise<void>;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Extra sshd_config lines. */
  config?: string[];
}

export async function startSshd(options: SshdOptions = {}): Promise<SshdFixture> {
  await checkPrerequisites();
  const dir = await mkdtemp(join(tmpdir(), 'klab-sshd-'));
  await chmod(dir, 0o755);
  const keysDir = join(dir, 'authorized_keys');
  await mkdir(keysDir);
  // Explicit modes: the umask may be stricter, and sshd reads each user's file as that user.
  await chmod(keysDir, 0o755);

  const client = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'klab-test-client' });
  const clientKeyFile = join(dir, 'client_ed25519');
  await writeFile(clientKeyFile, client.private, { mode: 0o600 });
  const clientPublicKey = client.public.trim();
  await writeAuthorizedKeys(join(keysDir, 'root'), clientPublicKey);

  const hostKeyFile = join(dir, 'ssh_host_ed25519_key');
  let hostKeyFingerprint = await writeHostKey(hostKeyFile);
  let output = '';
  let child: ChildProcess | undefined;
  let port = 0;

  const configFile = join(dir, 'sshd_config');
  const start = async (): Promise<void> => {
    for (let attempt = 1; ; attempt += 1) {
      port = port || (await freePort());
      await writeFile(
        configFile,
        [
          `Port ${port}`,
          'ListenAddress 127.0.0.1',
          `HostKey ${hostKeyFile}`,
          `PidFile ${join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${keysDir}/%u`,
          'PermitRootLogin yes',
          'PubkeyAuthentication yes',
          'PasswordAuthentication yes',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          // The fixture's files live under /tmp (world-writable), which StrictModes rejects.
          'StrictModes no',
          'LogLevel VERBOSE',
          ...(options.config ?? []),
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      output = '';
      const started = spawn(sshdBinary, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = started;
      const ready = await new Promise<boolean>((resolve) => {
        started.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes(`Server listening on 127.0.0.1 port ${port}`)) resolve(true);
        });
        started.once('exit', () => resolve(false));
        started.once('error', () => resolve(false));
      });
      if (ready) return;
      child = undefined;
      // Another process may have taken the port between probing and binding it.
      if (attempt >= 3 || !output.includes('Address already in use')) {
        throw new Error(`test sshd did not start (${sshdBinary} -D -e -f ${configFile}):\n${output}`);
      }
      port = 0;
    }
  };
  const stopSshd = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };

  await start();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    user: 'root',
    dir,
    clientKeyFile,
    clientPublicKey,
    get hostKeyFingerprint() {
      return hostKeyFingerprint;
    },
    log: () => output,
    hostSpec: (overrides = {}) => ({
      name: 'master',
      address: '127.0.0.1',
      port,
      internalAddress: '10.10.0.10',
      role: 'control-plane',
      user: 'root',
      keyFile: clientKeyFile,
      ...overrides,
    }),
    authorize: async (user, publicKey) => {
      await writeAuthorizedKeys(join(keysDir, user), publicKey);
    },
    restartWithNewHostKey: async () => {
      await stopSshd();
      hostKeyFingerprint = await writeHostKey(hostKeyFile);
      await start();
    },
    stop: async () => {
      await stopSshd();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function writeAuthorizedKeys(file: string, publicKey: string): Promise<void> {
  await writeFile(file, `${publicKey.trim()}\n`);
  await chmod(file, 0o644);
}

async function writeHostKey(file: string): Promise<string> {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'klab-test-host' });
  await rm(file, { force: true });
  await writeFile(file, pair.private, { mode: 0o600 });
  const blob = Buffer.from(pair.public.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the sshd test fixture needs root (sshd with PermitRootLogin, password checks)');
  try {
    await access(sshdBinary);
  } catch {
    throw new Error(`${sshdBinary} is missing: install the openssh-server package (apt-get install -y openssh-server)`);
  }
  // sshd refuses to start without its privilege-separation folder.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
}

/** A port on 127.0.0.1 that nothing listens on at the moment of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
