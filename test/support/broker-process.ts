// Starts the bundled broker (dist/klab-broker.js) as a real process on loopback with an
// ephemeral port, read back from its "listening on 127.0.0.1:PORT" log line. restart()
// reuses the same data dir and port so clients reconnect to the same bootstrap address.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const brokerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/klab-broker.js');

export interface BrokerProcess {
  readonly port: number;
  readonly bootstrap: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Everything the broker wrote to stderr since it was (re)started. */
  logs(): string;
  /** Resolves with the first match of `pattern` in the log, waiting for it to appear. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM and wait for a graceful exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: a crash without any chance to flush. */
  kill9(): Promise<void>;
  /** Starts it again on the same data dir and port (after stop or kill9). */
  restart(): Promise<void>;
  /** Stops it if running and removes the data dir when the fixture created it. */
  dispose(): Promise<void>;
}

export interface StartBrokerOptions {
  dataDir?: string;
  args?: readonly string[];
  env?: Record<string, string>;
  nodeId?: number;
  /** Leave --node-id off the command line, so KLAB_BROKER_NODE_ID in `env` supplies it. */
  nodeIdFromEnvironment?: boolean;
  /** Named listeners given as --listeners instead of --listen; `port` is then the first one's. */
  listeners?: string;
}

const startTimeoutMs = 20_000;

export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerProcess> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'klab-broker-test-')));
  let port = 0;
  let child: ChildProcess | null = null;
  let output = '';

  const launch = async () => {
    output = '';
    const args = [
      ...(options.nodeIdFromEnvironment ? [] : ['--node-id', String(options.nodeId ?? 0)]),
      ...(options.listeners === undefined ? ['--listen', `127.0.0.1:${port}`] : ['--listeners', options.listeners]),
      '--data-dir',
      dataDir,
      ...(options.args ?? []),
    ];
    // Run as an executable, as deployed: its shebang starts Node with the flags it wants.
    const started = spawn(brokerScript, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    child = started;
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        started.kill('SIGKILL');
        reject(new Error(`broker did not report listening within ${startTimeoutMs} ms; stderr:\n${output}`));
      }, startTimeoutMs);
      started.stderr!.setEncoding('utf8');
      started.stderr!.on('data', (text: string) => {
        output += text;
        const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      started.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`broker exited (code ${code}, signal ${signal}) before listening; stderr:\n${output}`));
      });
    });
  };

  // 'close' (not 'exit') fires after stderr is drained, so logs() then holds the last lines.
  const waitExit = (running: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (running.stderr?.closed && (running.exitCode !== null || running.signalCode !== null)) resolve(running.exitCode);
      else running.once('close', (code) => resolve(code));
    });

  await launch();

  const broker: BrokerProcess = {
    get port() {
      return port;
    },
    get bootstrap() {
      return `127.0.0.1:${port}`;
    },
    dataDir,
    get pid() {
      return child?.pid ?? -1;
    },
    logs: () => output,
    async waitForLog(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`no log line matching ${pattern} within ${timeoutMs} ms; stderr:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      const running = child;
      if (!running) return null;
      child = null;
      running.kill('SIGTERM');
      return waitExit(running);
    },
    async kill9() {
      const running = child;
      if (!running) return;
      child = null;
      running.kill('SIGKILL');
      await waitExit(running);
    },
    async restart() {
      if (child) await broker.stop();
      await launch();
    },
    async dispose() {
      if (child) await broker.kill9();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return broker;
}
