// The SSH implementation of Host, over node-ssh (connection set-up) and its ssh2 connection
// (exec with binary output and channel control). Host keys are trusted on first use and
// pinned in klab's own known_hosts; a different key later stops the connection during the
// key exchange, before any credential or command is sent.
//
// On the host, every command runs as `[sudo -n] timeout -s KILL N sh -c '<command>'`: the
// coreutils `timeout` kills the command's whole process group if klab gave up on it, which
// closing the SSH channel alone does not do. Files move through stdin/stdout of `cat`, so
// put and get work the same for root and for sudo users (SFTP would write as the SSH user).
// Hosts need sh, coreutils (timeout, mktemp, cat, chmod, chown, mv) and, for a non-root
// user, sudo without a password: any Debian or Ubuntu has all of them.
import { constants as osConstants } from 'node:os';
import { NodeSSH } from 'node-ssh';
import type { Config as NodeSshConfig } from 'node-ssh';
import type { AnyAuthMethod, Client, ClientChannel } from 'ssh2';
import { KlabError, exitCodes } from '../errors.js';
import { resolveKeyFile } from '../inventory/load.js';
import type { HostSpec } from '../inventory/schema.js';
import {
  AuthenticationError,
  CommandTimeoutError,
  ConnectFailedError,
  HostKeyMismatchError,
  HostUnreachableError,
  NoCredentialsError,
  RemoteFileError,
  RemoteFileNotFoundError,
  SudoPasswordRequiredError,
} from './errors.js';
import type { HostLocation } from './errors.js';
import type { CommandLogger, ExecOptions, ExecResult, Host, PutOptions } from './host.js';
import { readPrivateKeyFile } from './keys.js';
import { describeAgent, findOpenSshLogin } from './login.js';
import type { OpenSshLogin } from './login.js';
import { quote, redact } from './shell.js';
import { fingerprint, pinHostKey, readPinnedKeys } from './known-hosts.js';

export interface ConnectOptions {
  /** klab's known_hosts (see src/state.ts knownHostsPath). */
  knownHostsFile: string;
  /** The inventory's folder; relative keyFile paths are resolved against it. */
  inventoryDir: string;
  /** Receives every command, redacted. */
  logger?: CommandLogger;
  /** TCP connect plus SSH handshake; default 10 s. */
  connectTimeoutMs?: number;
  /** Timeout for exec/put/get calls that give none; default 10 minutes. */
  commandTimeoutMs?: number;
  /**
   * klab's cluster key (stage 02 authorizes it for root on every host), offered after the
   * inventory's own key and before its password: once 02 sets PermitRootLogin
   * prohibit-password, a root inventory that logs in by password still gets in.
   */
  clusterPrivateKey?: string;
  /** Receives what is worth knowing but is no command (a default key passed over, an agent that did not answer). */
  note?: (text: string) => void;
  /**
   * For hosts with neither keyFile nor password: the agents and default keys found the way
   * OpenSSH finds them. connectAll looks once for every host; connectHost looks itself without it.
   */
  openSshLogin?: OpenSshLogin;
}

export const defaultConnectTimeoutMs = 10_000;
const defaultCommandTimeoutMs = 600_000;

/** How long after klab gives up on a command the host itself kills it. */
const remoteKillGraceSeconds = 1;

/** Exit status `get` uses for "no such file" (sysexits EX_NOINPUT); cat never returns it. */
const noSuchFileStatus = 66;

export async function connectHost(spec: HostSpec, options: ConnectOptions): Promise<SshHost> {
  const location: HostLocation & { user: string } = { name: spec.name, address: spec.address, port: spec.port, user: spec.user };
  const privateKey = spec.keyFile === undefined ? undefined : await readPrivateKeyFile(resolveKeyFile(options.inventoryDir, spec.keyFile));
  const openSsh = logsInAsOpenSsh(spec) ? (options.openSshLogin ?? (await lookUpOpenSshLogin(options.note))) : undefined;
  const offers = loginOffers(spec, privateKey, openSsh, options.clusterPrivateKey);
  if (offers.length === 0) throw new NoCredentialsError(location, openSsh?.passedOver ?? []);
  const pinned = await readPinnedKeys(options.knownHostsFile, spec.address, spec.port);
  let mismatch: HostKeyMismatchError | undefined;
  let pinFailure: KlabError | undefined;
  let presented: Buffer | undefined;

  const config: NodeSshConfig = {
    host: spec.address,
    port: spec.port,
    username: spec.user,
    readyTimeout: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
    authHandler: offers.flatMap((offer) => offer.methods),
    hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
      presented = Buffer.from(key);
      if (pinned.length === 0) {
        pinHostKey(options.knownHostsFile, spec.address, spec.port, presented).then(
          () => verify(true),
          (error: unknown) => {
            pinFailure = new KlabError(
              `${spec.name}: cannot pin its host key in ${options.knownHostsFile}: ${asError(error).message}`,
              exitCodes.unreachable,
              'klab keeps pinned host keys beside the inventory (.klab/known_hosts); make that folder writable.',
            );
            verify(false);
          },
        );
        return;
      }
      if (pinned.some((pin) => pin.blob.equals(key))) {
        verify(true);
        return;
      }
      mismatch = new HostKeyMismatchError(location, pinned.map((pin) => fingerprint(pin.blob)).join(' or '), fingerprint(key), options.knownHostsFile);
      verify(false);
    },
  };

  const ssh = new NodeSSH();
  try {
    await ssh.connect(config);
  } catch (error) {
    ssh.dispose();
    if (mismatch) throw mismatch;
    if (pinFailure) throw pinFailure;
    throw connectError(location, error, spec, offers, openSsh?.passedOver ?? [], config.readyTimeout ?? defaultConnectTimeoutMs);
  }
  const connection = ssh.connection;
  if (!connection || !presented) throw new HostUnreachableError(location, 'closed', 'the connection closed during the handshake');
  const host = new SshHost(spec, ssh, connection, fingerprint(presented), options);
  try {
    await host.checkPrivileges();
  } catch (error) {
    await host.close();
    throw error;
  }
  return host;
}

/**
 * Connects to every host at once. Returns hosts in the order given; if any host fails, the
 * others are closed and one ConnectFailedError lists every failure.
 */
export async function connectAll(hosts: readonly HostSpec[], options: ConnectOptions): Promise<SshHost[]> {
  const openSshLogin = options.openSshLogin ?? (hosts.some(logsInAsOpenSsh) ? await lookUpOpenSshLogin(options.note) : undefined);
  const results = await Promise.allSettled(hosts.map((spec) => connectHost(spec, { ...options, ...(openSshLogin ? { openSshLogin } : {}) })));
  const failures = results.flatMap((result, index) =>
    result.status === 'rejected' ? [{ host: hosts[index]?.name ?? String(index), error: asError(result.reason) }] : [],
  );
  const connected = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  if (failures.length > 0) {
    await Promise.all(connected.map((host) => host.close()));
    throw new ConnectFailedError(failures);
  }
  return connected;
}

interface RunOptions extends ExecOptions {
  /** false for file transfers: their content must not reach the log. */
  logOutput?: boolean;
  /** What the log shows instead of the command (file transfers log their intent, not their script). */
  logAs?: string;
}

interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

export class SshHost implements Host {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** Prefix that makes a command run as root: empty for root, `sudo -n ` otherwise. */
  private asRoot = '';
  private readonly secrets: readonly string[];

  constructor(
    spec: HostSpec,
    private readonly ssh: NodeSSH,
    private readonly connection: Client,
    /** SHA256 fingerprint of the host key this connection verified. */
    readonly hostKeyFingerprint: string,
    private readonly options: ConnectOptions,
  ) {
    this.name = spec.name;
    this.address = spec.address;
    this.port = spec.port;
    this.user = spec.user;
    this.secrets = spec.password === undefined ? [] : [spec.password];
    // Without a listener a dropped connection would be an unhandled 'error' event; the
    // running commands see their channels close and fail on their own.
    connection.on('error', () => undefined);
  }

  /** Decides how commands become root; fails early when sudo would ask for a password. */
  async checkPrivileges(): Promise<void> {
    const id = await this.run('id -u', { timeoutMs: this.options.connectTimeoutMs ?? defaultConnectTimeoutMs });
    if (id.stdout.toString().trim() === '0') return;
    const sudo = await this.run('sudo -n true', { timeoutMs: this.options.connectTimeoutMs ?? defaultConnectTimeoutMs });
    if (sudo.code !== 0) throw new SudoPasswordRequiredError(this.name, this.user);
    this.asRoot = 'sudo -n ';
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.run(command, options);
    return { code: result.code, stdout: result.stdout.toString(), stderr: result.stderr.toString(), durationMs: result.durationMs };
  }

  async put(path: string, content: string | Buffer, options: PutOptions = {}): Promise<void> {
    const mode = (options.mode ?? 0o644).toString(8);
    const target = quote(path);
    const script = [
      'set -e',
      `dir=$(dirname -- ${target})`,
      'mkdir -p -- "$dir"',
      `tmp=$(mktemp "$dir/.klab-put.XXXXXX")`,
      `trap 'rm -f -- "$tmp"' EXIT`,
      'cat > "$tmp"',
      `chmod ${mode} "$tmp"`,
      ...(options.owner === undefined ? [] : [`chown ${quote(options.owner)} "$tmp"`]),
      // Flushed before the rename and the directory after it: a power cut or a hard reset
      // leaves the old file or the whole new one, never an empty or missing file.
      'sync -- "$tmp"',
      `mv -f -- "$tmp" ${target}`,
      'sync -- "$dir"',
      'trap - EXIT',
    ].join('\n');
    const result = await this.run(script, { stdin: content, logOutput: false, logAs: `put ${path} (mode ${mode}${options.owner ? `, owner ${options.owner}` : ''})` });
    if (result.code !== 0) throw new RemoteFileError(this.name, 'writing', path, this.redact(result.stderr.toString().trim()) || `exit status ${result.code}`);
  }

  async get(path: string): Promise<Buffer> {
    const target = quote(path);
    const result = await this.run(`[ -e ${target} ] || exit ${noSuchFileStatus}; cat -- ${target}`, { logOutput: false, logAs: `get ${path}` });
    if (result.code === noSuchFileStatus) throw new RemoteFileNotFoundError(this.name, path);
    if (result.code !== 0) throw new RemoteFileError(this.name, 'reading', path, this.redact(result.stderr.toString().trim()) || `exit status ${result.code}`);
    return result.stdout;
  }

  async close(): Promise<void> {
    this.ssh.dispose();
  }

  private async run(command: string, options: RunOptions): Promise<RawResult> {
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? defaultCommandTimeoutMs;
    const started = performance.now();
    const secrets = [...this.secrets, ...(options.secrets ?? [])];
    const logged = options.logAs ?? command;
    try {
      // coreutils `timeout` puts the command in its own process group and kills all of it,
      // background children included; it fires just after klab has given up waiting.
      const remoteSeconds = Math.ceil(timeoutMs / 1000) + remoteKillGraceSeconds;
      const wrapped = `${this.asRoot}timeout -s KILL ${remoteSeconds} sh -c ${quote(command)}`;
      const result = await this.runRaw(wrapped, timeoutMs, options.stdin);
      this.log(logged, result, secrets, options.logOutput !== false);
      return result;
    } catch (error) {
      const durationMs = performance.now() - started;
      if (error instanceof TimeoutSignal) {
        const stderr = Buffer.from(`klab: timed out after ${timeoutMs} ms; the command was stopped`);
        this.log(logged, { code: 124, stdout: error.stdout, stderr: Buffer.concat([error.stderr, stderr]), durationMs }, secrets, options.logOutput !== false);
        throw new CommandTimeoutError(this.name, redact(logged, secrets), timeoutMs);
      }
      throw error;
    }
  }

  private runRaw(command: string, timeoutMs: number, stdin: string | Buffer | undefined): Promise<RawResult> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      this.connection.exec(command, (error: Error | undefined, channel: ClientChannel) => {
        if (error) {
          reject(new HostUnreachableError(this.location(), 'closed', `cannot start a command: ${error.message}`, { cause: error }));
          return;
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let exit: { code: number | null; signal: string | undefined } | undefined;
        let timedOut = false;
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = { code, signal };
        });
        // sshd keeps a channel open while anything holds the command's output, so the
        // caller is released here at once; the remote `timeout` wrapper kills the process
        // group a moment later.
        const timer = setTimeout(() => {
          timedOut = true;
          channel.close();
          reject(new TimeoutSignal(Buffer.concat(stdout), Buffer.concat(stderr)));
        }, timeoutMs);
        channel.on('close', () => {
          clearTimeout(timer);
          if (timedOut) return;
          const out = Buffer.concat(stdout);
          const err = Buffer.concat(stderr);
          if (!exit) {
            reject(new HostUnreachableError(this.location(), 'closed', 'the connection closed before the command finished'));
          } else {
            resolve({ code: exitStatus(exit.code, exit.signal), stdout: out, stderr: err, durationMs: performance.now() - started });
          }
        });
        if (stdin !== undefined) channel.end(stdin);
        else channel.end();
      });
    });
  }

  private log(command: string, result: RawResult, secrets: readonly string[], withOutput: boolean): void {
    if (!this.options.logger) return;
    const describe = (data: Buffer): string => (withOutput ? redact(data.toString(), secrets) : data.length === 0 ? '' : `<${data.length} bytes>`);
    this.options.logger({
      host: this.name,
      command: redact(command, secrets),
      code: result.code,
      durationMs: Math.round(result.durationMs),
      stdout: describe(result.stdout),
      stderr: redact(result.stderr.toString(), secrets),
    });
  }

  private redact(text: string): string {
    return redact(text, this.secrets);
  }

  private location(): HostLocation {
    return { name: this.name, address: this.address, port: this.port };
  }
}

class TimeoutSignal extends Error {
  constructor(
    readonly stdout: Buffer,
    readonly stderr: Buffer,
  ) {
    super('timeout');
  }
}

function exitStatus(code: number | null, signal: string | undefined): number {
  if (code !== null) return code;
  // ssh2 names the signal as `SIGTERM`; the protocol itself says `TERM`.
  const name = signal === undefined ? undefined : signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const number = name === undefined ? undefined : (osConstants.signals as Record<string, number>)[name];
  return 128 + (number ?? 0);
}

/** A host with neither keyFile nor password logs in as `ssh` would: agent, then default keys. */
function logsInAsOpenSsh(spec: HostSpec): boolean {
  return spec.keyFile === undefined && spec.password === undefined;
}

async function lookUpOpenSshLogin(note: ((text: string) => void) | undefined): Promise<OpenSshLogin> {
  const login = await findOpenSshLogin();
  const found = [...login.agents.map(describeAgent), ...login.keyFiles.map((file) => file.path)];
  note?.(`login without keyFile or password, as OpenSSH does: ${found.length > 0 ? found.join('; ') : 'no SSH agent with keys and no default key file'}`);
  for (const passed of login.passedOver) note?.(`login: passed over ${passed}`);
  return login;
}

/** One credential offered to sshd, and how an error names it (never the secret). */
interface LoginOffer {
  methods: AnyAuthMethod[];
  label: string;
}

/**
 * The order ssh2 tries: the inventory's key (or, with neither key nor password, the agents and
 * default keys), klab's cluster key, then the password (plain, then keyboard-interactive).
 */
function loginOffers(spec: HostSpec, privateKey: string | undefined, openSsh: OpenSshLogin | undefined, clusterPrivateKey: string | undefined): LoginOffer[] {
  const username = spec.user;
  const offers: LoginOffer[] = [];
  const publickey = (key: string, label: string): LoginOffer => ({ methods: [{ type: 'publickey', username, key }], label: `publickey with ${label}` });
  if (privateKey !== undefined) offers.push(publickey(privateKey, `keyFile ${spec.keyFile ?? ''}`));
  for (const source of openSsh?.agents ?? []) offers.push({ methods: [{ type: 'agent', username, agent: source.agent }], label: `publickey with ${describeAgent(source)}` });
  for (const file of openSsh?.keyFiles ?? []) offers.push(publickey(file.key, file.path));
  if (clusterPrivateKey !== undefined) offers.push(publickey(clusterPrivateKey, 'klab\'s cluster key'));
  const password = spec.password;
  if (password !== undefined) {
    offers.push({
      methods: [
        { type: 'password', username, password },
        { type: 'keyboard-interactive', username, prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)) },
      ],
      label: 'password',
    });
  }
  return offers;
}

function connectError(
  host: HostLocation & { user: string },
  error: unknown,
  spec: HostSpec,
  offers: readonly LoginOffer[],
  passedOver: readonly string[],
  timeoutMs: number,
): KlabError {
  const err = asError(error) as Error & { code?: string; level?: string };
  if (err.level === 'client-authentication') return new AuthenticationError(host, offers.map((offer) => offer.label), passedOver);
  const detail = redact(err.message, spec.password === undefined ? [] : [spec.password]);
  switch (err.code) {
    case 'ECONNREFUSED':
      return new HostUnreachableError(host, 'refused', 'connection refused', { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new HostUnreachableError(host, 'dns', `the name ${spec.address} does not resolve`, { cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new HostUnreachableError(host, 'network', detail, { cause: err });
    case 'ETIMEDOUT':
      return new HostUnreachableError(host, 'timeout', 'no answer', { cause: err });
  }
  if (err.level === 'client-timeout') {
    return new HostUnreachableError(host, 'timeout', `no SSH handshake within ${timeoutMs} ms`, { cause: err });
  }
  return new HostUnreachableError(host, 'closed', detail, { cause: err });
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
