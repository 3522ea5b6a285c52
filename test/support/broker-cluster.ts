// Starts a cluster of real dist/klab-broker.js processes on loopback, configured as the
// StatefulSet will configure them: an INTERNAL listener for other brokers, an EXTERNAL one for
// clients, a controller address in a voter list, a metrics endpoint; each with its own data dir
// and fixed ports, so a restarted broker comes back where the others and the clients expect it.
//
// With link proxies, every link between two brokers runs through a TCP proxy the test controls
// (test/support/tcp-proxy.ts), so isolate(n) cuts broker n off from the others, both ways, on
// both kinds of link, while clients still reach it on EXTERNAL, as a network partition between
// brokers would:
// - Controller links: one proxy per ordered pair (from → to) in front of `to`'s controller
//   address. Each broker gets its own --voters list naming its own proxies for its peers (and
//   its real address for itself), so the link n → m can be cut without touching m → n. This
//   needs the voters' handshake to compare node ids, not the peers' addresses, which here
//   differ from node to node by design.
// - Kafka INTERNAL links: every broker learns a peer's INTERNAL address from metadata, the
//   same address for all, so one proxy stands in front of each broker's INTERNAL listener and
//   is what that listener advertises. It tells the connecting broker by the client id of the
//   connection's first request (`klab-broker-<nodeId>`, as the brokers' inter-broker clients
//   send it): isolating n cuts everything into n's proxy and only n's connections into the others'.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HostPort } from '../../broker/config.js';
import { brokerScript } from './broker-process.js';
import { freeLoopbackPort, startProxy, type TcpProxy } from './tcp-proxy.js';

export class ClusterHarnessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterHarnessError';
  }
}

export interface ClusterOptions {
  /** How many brokers, every one a voter [default 3]. */
  brokers?: number;
  /** The same --cluster-id on every broker [default a fresh klab-test-… id]. */
  clusterId?: string;
  /** Appended to every broker's command line (e.g. ['--broker-session-timeout-ms', '3000']). */
  extraArgs?: readonly string[];
  /** Route every broker-to-broker link through a proxy, so isolate() and heal() work. */
  withLinkProxies?: boolean;
}

export interface ClusterBroker {
  readonly nodeId: number;
  /** 127.0.0.1:port of its EXTERNAL listener, for clients. */
  readonly externalBootstrap: string;
  /** The INTERNAL address other brokers are told (its link proxy's, with link proxies). */
  readonly internalAddress: string;
  /** http://127.0.0.1:port, serving /metrics, /healthz and /readyz. */
  readonly metricsUrl: string;
  /** -1 while it is not running. */
  readonly pid: number;
  readonly dataDir: string;
  /** Its command line after the script, the same at every start. */
  readonly args: readonly string[];
  /** Everything it wrote to stderr, over all its starts, each start marked. */
  logs(): string;
  /** The first match of `pattern` in what it wrote since its latest start, waiting for it. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

export interface Cluster {
  readonly brokers: readonly ClusterBroker[];
  /** Every broker's EXTERNAL address, comma-joined, as a client's bootstrap list. */
  readonly bootstrap: string;
  readonly clusterId: string;
  /** SIGKILL, waiting for the process to be gone: a crash with no chance to flush. */
  kill9(nodeId: number): Promise<void>;
  /** SIGTERM, waiting for a graceful exit; its exit code. */
  stop(nodeId: number): Promise<number | null>;
  /** SIGSTOP: alive to the kernel, silent to everyone (a long GC pause, a frozen VM). */
  pause(nodeId: number): void;
  /** SIGCONT after pause(). */
  resume(nodeId: number): void;
  /** Stops it if running (SIGTERM) and starts it again with the same data dir, ports and flags. */
  restart(nodeId: number): Promise<void>;
  /** Polls /readyz until it answers 200. */
  waitReady(nodeId: number, timeoutMs?: number): Promise<void>;
  /** Cuts every controller and inter-broker link between this broker and the others, both ways. */
  isolate(nodeId: number): void;
  /** Undoes every isolate(). */
  heal(): void;
  /** Kills every broker, closes the proxies and removes the data dirs. */
  dispose(): Promise<void>;
}

const loopback = '127.0.0.1';
const startTimeoutMs = 30_000;
const address = (port: number) => `${loopback}:${port}`;
const at = (port: number): HostPort => ({ host: loopback, port });
const internalClientId = (nodeId: number) => `klab-broker-${nodeId}`;

interface Ports {
  internal: number;
  external: number;
  controller: number;
  metrics: number;
}

interface Member extends ClusterBroker {
  launch(): Promise<void>;
  signal(signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): Promise<number | null> | null;
}

/** Distinct free ports, so no two listeners of the cluster are handed the same one. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freeLoopbackPort());
  return [...ports];
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const size = options.brokers ?? 3;
  const clusterId = options.clusterId ?? `klab-test-${randomBytes(6).toString('hex')}`;
  const root = await mkdtemp(path.join(os.tmpdir(), 'klab-cluster-test-'));
  const free = await distinctFreePorts(size * 4);
  const ports: Ports[] = Array.from({ length: size }, (_, id) => {
    const [internal, external, controller, metrics] = free.slice(id * 4, id * 4 + 4) as [number, number, number, number];
    return { internal, external, controller, metrics };
  });

  const proxies: TcpProxy[] = [];
  // A proxy listens on a port of the kernel's choosing, which must not be one a broker is about to bind.
  const proxyTo = async (target: number, identifyKafkaClient = false): Promise<TcpProxy> => {
    for (;;) {
      const proxy = await startProxy({ target: at(target), identifyKafkaClient });
      if (!free.includes(proxy.port)) {
        proxies.push(proxy);
        return proxy;
      }
      await proxy.close();
    }
  };

  const ids = [...Array(size).keys()];
  const internalProxies: TcpProxy[] = [];
  /** controllerProxies[from][to]: the link from → to; null on the diagonal. */
  const controllerProxies: Array<Array<TcpProxy | null>> = [];
  if (options.withLinkProxies) {
    for (const to of ids) internalProxies.push(await proxyTo(ports[to]!.internal, true));
    for (const from of ids) {
      const row: Array<TcpProxy | null> = [];
      for (const to of ids) row.push(from === to ? null : await proxyTo(ports[to]!.controller));
      controllerProxies.push(row);
    }
  }

  const members: Member[] = [];
  for (const id of ids) {
    const own = ports[id]!;
    const dataDir = path.join(root, `broker-${id}`);
    await mkdir(dataDir);
    const internalAddress = internalProxies[id]?.address ?? address(own.internal);
    const voters = ids
      .map((peer) => `${peer}@${peer === id ? address(own.controller) : (controllerProxies[id]?.[peer]?.address ?? address(ports[peer]!.controller))}`)
      .join(',');
    const args = [
      ...['--node-id', String(id), '--cluster-id', clusterId, '--data-dir', dataDir],
      ...['--listeners', `INTERNAL=${address(own.internal)},EXTERNAL=${address(own.external)}`],
      ...['--advertised-listeners', `INTERNAL=${internalAddress},EXTERNAL=${address(own.external)}`],
      ...['--inter-broker-listener', 'INTERNAL', '--controller-listen', address(own.controller), '--voters', voters],
      ...['--metrics', address(own.metrics)],
      ...(options.extraArgs ?? []),
    ];
    members.push(member(id, args, dataDir, own, internalAddress));
  }

  const byId = (nodeId: number): Member => {
    const found = members[nodeId];
    if (!found) throw new ClusterHarnessError(`no broker ${nodeId} in this cluster: node ids are 0 to ${size - 1}`);
    return found;
  };

  const runningBroker = (nodeId: number, action: string): Member => {
    const found = byId(nodeId);
    if (found.pid === -1) throw new ClusterHarnessError(`${action}(${nodeId}): broker ${nodeId} is not running; restart(${nodeId}) starts it`);
    return found;
  };

  const dispose = async () => {
    for (const running of members) await running.signal('SIGKILL');
    for (const proxy of proxies) await proxy.close();
    await rm(root, { recursive: true, force: true });
  };

  try {
    // All at once: none of them can finish starting without a quorum of the others.
    await Promise.all(members.map((running) => running.launch()));
  } catch (error) {
    await dispose();
    throw error;
  }

  const stop = async (nodeId: number) => {
    const running = byId(nodeId);
    // A stopped process does not act on SIGTERM until continued.
    void running.signal('SIGCONT');
    return running.signal('SIGTERM');
  };

  return {
    brokers: members,
    bootstrap: members.map((running) => running.externalBootstrap).join(','),
    clusterId,
    async kill9(nodeId) {
      await byId(nodeId).signal('SIGKILL');
    },
    stop,
    pause(nodeId) {
      void runningBroker(nodeId, 'pause').signal('SIGSTOP');
    },
    resume(nodeId) {
      void runningBroker(nodeId, 'resume').signal('SIGCONT');
    },
    async restart(nodeId) {
      const running = byId(nodeId);
      if (running.pid !== -1) await stop(nodeId);
      await running.launch();
    },
    async waitReady(nodeId, timeoutMs = 30_000) {
      const running = byId(nodeId);
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer yet';
      for (;;) {
        try {
          // Bounded, so a paused broker counts as not ready instead of holding the poll.
          const response = await fetch(`${running.metricsUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
          if (response.status === 200) return;
          last = `HTTP ${response.status} ${(await response.text()).trim()}`;
        } catch (error) {
          last = (error as Error).message;
        }
        if (Date.now() > deadline) {
          throw new ClusterHarnessError(`broker ${nodeId} was not ready within ${timeoutMs} ms (/readyz: ${last}); its log:\n${running.logs()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    isolate(nodeId) {
      byId(nodeId);
      if (!options.withLinkProxies) throw new ClusterHarnessError(`isolate(${nodeId}) needs a cluster started with { withLinkProxies: true }`);
      for (const peer of ids) {
        if (peer === nodeId) continue;
        controllerProxies[nodeId]![peer]!.cut();
        controllerProxies[peer]![nodeId]!.cut();
        internalProxies[peer]!.cut(internalClientId(nodeId));
      }
      internalProxies[nodeId]!.cut();
    },
    heal() {
      for (const proxy of proxies) proxy.heal();
    },
    dispose,
  };
}

function member(nodeId: number, args: readonly string[], dataDir: string, ports: Ports, internalAddress: string): Member {
  let child: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  let output = '';
  let startedAt = 0;
  const metricsUrl = `http://${address(ports.metrics)}`;

  // Up means its HTTP endpoint answers: the process is serving, whether or not the cluster is ready.
  const waitServing = async (running: ChildProcess) => {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (running.exitCode !== null || running.signalCode !== null) {
        throw new ClusterHarnessError(`broker ${nodeId} exited (code ${running.exitCode}, signal ${running.signalCode}) while starting; its log:\n${output.slice(startedAt)}`);
      }
      try {
        await fetch(`${metricsUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
        return;
      } catch {
        if (Date.now() > deadline) {
          throw new ClusterHarnessError(`broker ${nodeId} did not serve ${metricsUrl}/healthz within ${startTimeoutMs} ms; its log:\n${output.slice(startedAt)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  return {
    nodeId,
    externalBootstrap: address(ports.external),
    internalAddress,
    metricsUrl,
    dataDir,
    args,
    get pid() {
      return child?.pid ?? -1;
    },
    logs: () => output,
    async waitForLog(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output.slice(startedAt));
        if (match) return match;
        if (Date.now() > deadline) {
          throw new ClusterHarnessError(`broker ${nodeId}: no log line matching ${pattern} within ${timeoutMs} ms; its log since its latest start:\n${output.slice(startedAt)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async launch() {
      if (child) throw new ClusterHarnessError(`broker ${nodeId} is already running (pid ${child.pid}); stop or kill it before starting it again`);
      const marker = `--- broker ${nodeId} started at ${new Date().toISOString()} ---\n`;
      output += marker;
      startedAt = output.length;
      // Run as an executable, as deployed: its shebang starts Node with the flags it wants.
      const started = spawn(brokerScript, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = started;
      // 'close' (not 'exit') comes once stderr is drained, so the log then holds its last lines.
      exited = new Promise((resolve) => started.once('close', (code) => resolve(code)));
      void exited.then(() => {
        if (child === started) child = null;
      });
      started.stderr!.setEncoding('utf8');
      started.stderr!.on('data', (text: string) => {
        output += text;
      });
      await waitServing(started);
    },
    signal(signal) {
      const running = child;
      if (!running) return null;
      running.kill(signal);
      if (signal === 'SIGSTOP' || signal === 'SIGCONT') return null;
      child = null;
      return exited;
    },
  };
}
