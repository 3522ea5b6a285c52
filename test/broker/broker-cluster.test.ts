// The cluster harness itself, with real broker processes: each broker gets its own ports and
// data dir and answers on EXTERNAL and, through its link proxy, on INTERNAL; isolate() cuts the
// inter-broker and controller links of one broker and not its clients; the process controls do
// what they say. Only ApiVersions is asked, which a broker answers whatever its cluster's state,
// so none of this needs the brokers to have formed a cluster.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { probeKafka } from '../support/kafka-probe.js';

const clusters: Cluster[] = [];

afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.dispose();
});

async function cluster(withLinkProxies: boolean): Promise<Cluster> {
  const started = await startCluster({ withLinkProxies });
  clusters.push(started);
  return started;
}

/** The voter list broker `nodeId` was started with: node id → the address it reaches that voter at. */
function votersOf(started: Cluster, nodeId: number): Map<number, string> {
  const args = started.brokers[nodeId]!.args;
  const list = args[args.indexOf('--voters') + 1]!;
  return new Map(list.split(',').map((entry) => [Number(entry.split('@')[0]), entry.split('@')[1]!]));
}

/**
 * Whether a controller link carries bytes. Forwarded, the connection is closed from the far end:
 * the controller drops a frame header claiming 2 GiB (its frames are bounded), or, with no
 * controller listening yet, the proxy closes it when it cannot connect. A cut link leaves it hanging.
 */
async function probeControllerLink(address: string): Promise<'forwarded' | 'no answer'> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect(Number(port), host);
  socket.on('error', () => undefined);
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('no answer'), 1_500);
      socket.once('close', () => (clearTimeout(timer), resolve('forwarded')));
      socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    });
  } finally {
    socket.destroy();
  }
}

describe('broker cluster harness', () => {
  it('starts every broker with its own ports and data dir, answering on EXTERNAL and INTERNAL', async () => {
    const started = await cluster(false);
    expect(started.brokers.map((broker) => broker.nodeId)).toEqual([0, 1, 2]);
    expect(started.bootstrap).toBe(started.brokers.map((broker) => broker.externalBootstrap).join(','));
    const addresses = started.brokers.flatMap((broker) => [broker.externalBootstrap, broker.internalAddress, broker.metricsUrl]);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(new Set(started.brokers.map((broker) => broker.dataDir)).size).toBe(3);
    for (const broker of started.brokers) {
      expect(await probeKafka(broker.externalBootstrap, 'klab-test-harness', 5_000)).toBe('answered');
      expect(await probeKafka(broker.internalAddress, 'klab-broker-9', 5_000)).toBe('answered');
    }
  });

  it('advertises each INTERNAL listener as its link proxy, and isolate() cuts one broker off on INTERNAL both ways; heal() undoes it', async () => {
    const started = await cluster(true);
    const [zero, one, two] = started.brokers as [Cluster['brokers'][number], Cluster['brokers'][number], Cluster['brokers'][number]];
    for (const broker of started.brokers) {
      const flag = (name: string) => broker.args[broker.args.indexOf(name) + 1];
      expect(flag('--advertised-listeners')).toBe(`INTERNAL=${broker.internalAddress},EXTERNAL=${broker.externalBootstrap}`);
      expect(flag('--listeners')).not.toContain(broker.internalAddress);
    }
    // With the brokers gone, a forwarded connection is closed by its proxy (nothing to connect
    // to) while a cut one hangs: this tells the routing apart whatever state the brokers were in.
    for (const nodeId of [0, 1, 2]) await started.kill9(nodeId);
    started.isolate(1);
    // Nothing gets into broker 1's INTERNAL listener, and broker 1 gets into no one else's.
    expect(await probeKafka(one.internalAddress, 'klab-broker-0')).toBe('no answer');
    expect(await probeKafka(one.internalAddress, 'klab-broker-2')).toBe('no answer');
    expect(await probeKafka(zero.internalAddress, 'klab-broker-1')).toBe('no answer');
    expect(await probeKafka(two.internalAddress, 'klab-broker-1')).toBe('no answer');
    // The others still reach each other.
    expect(await probeKafka(zero.internalAddress, 'klab-broker-2')).toBe('closed');
    expect(await probeKafka(two.internalAddress, 'klab-broker-0')).toBe('closed');

    started.heal();
    expect(await probeKafka(one.internalAddress, 'klab-broker-0')).toBe('closed');
    expect(await probeKafka(zero.internalAddress, 'klab-broker-1')).toBe('closed');
  });

  it('isolate() cuts the controller links to and from one broker, each broker reaching its peers through proxies of its own', async () => {
    const started = await cluster(true);
    const voters = [0, 1, 2].map((nodeId) => votersOf(started, nodeId));
    // Its own entry is its real controller address (--controller-listen must match it); its peers' are its proxies.
    for (const nodeId of [0, 1, 2]) {
      const args = started.brokers[nodeId]!.args;
      expect(voters[nodeId]!.get(nodeId)).toBe(args[args.indexOf('--controller-listen') + 1]);
    }
    expect(voters[0]!.get(2)).not.toBe(voters[1]!.get(2));

    const link = (from: number, to: number) => probeControllerLink(voters[from]!.get(to)!);
    expect(await link(0, 1)).toBe('forwarded');
    started.isolate(1);
    for (const [from, to] of [[0, 1], [1, 0], [1, 2], [2, 1]] as const) expect(await link(from, to), `${from} → ${to}`).toBe('no answer');
    expect(await link(0, 2)).toBe('forwarded');
    expect(await link(2, 0)).toBe('forwarded');
    started.heal();
    expect(await link(1, 0)).toBe('forwarded');
    expect(await link(2, 1)).toBe('forwarded');
  });

  it('refuses isolate() on a cluster started without link proxies, naming the option', async () => {
    const started = await cluster(false);
    expect(() => started.isolate(0)).toThrow(/withLinkProxies: true/);
    expect(() => started.isolate(7)).toThrow(/no broker 7 in this cluster: node ids are 0 to 2/);
  });

  it('kill9, restart, pause, resume, stop and waitReady act on one broker process, which comes back on the same address', async () => {
    const started = await cluster(false);
    const [zero, one, two] = started.brokers as [Cluster['brokers'][number], Cluster['brokers'][number], Cluster['brokers'][number]];
    const firstPid = two.pid;
    await started.kill9(2);
    expect(two.pid).toBe(-1);
    expect(await probeKafka(two.externalBootstrap, 'klab-test-harness')).toBe('refused');
    expect(() => started.pause(2)).toThrow(/broker 2 is not running; restart\(2\) starts it/);
    await started.restart(2);
    expect(two.pid).not.toBe(firstPid);
    expect(two.logs().match(/--- broker 2 started at/g)).toHaveLength(2);
    // A restarted broker holds requests until it has rejoined (readyz), which takes longer on a busy machine.
    await started.waitReady(2);
    expect(await probeKafka(two.externalBootstrap, 'klab-test-harness', 5_000)).toBe('answered');

    // Paused: the kernel still accepts the connection, but nothing answers.
    started.pause(0);
    expect(await probeKafka(zero.externalBootstrap, 'klab-test-harness')).toBe('no answer');
    await expect(started.waitReady(0, 2_000)).rejects.toThrow(/broker 0 was not ready within 2000 ms \(\/readyz: /);
    started.resume(0);
    // Paused for seconds, it may have been fenced (or lost the quorum's leadership): it answers once ready again.
    await started.waitReady(0);
    expect(await probeKafka(zero.externalBootstrap, 'klab-test-harness', 5_000)).toBe('answered');

    // A paused broker is continued so it can act on SIGTERM and exit cleanly.
    started.pause(1);
    expect(await started.stop(1)).toBe(0);
    expect(one.pid).toBe(-1);
    expect(await probeKafka(one.externalBootstrap, 'klab-test-harness')).toBe('refused');
  });
});
