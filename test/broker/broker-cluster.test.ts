// The cluster harness itself, with real broker processes and kcat: each broker gets its own
// ports and data dir and serves clients on EXTERNAL and other brokers on INTERNAL (through its
// link proxy); isolate() cuts the inter-broker side of one broker and not its clients; the
// process controls do what they say. None of this needs the brokers to have formed a cluster.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { runKcat } from '../support/kcat.js';

const clusters: Cluster[] = [];

afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.dispose();
});

async function cluster(withLinkProxies: boolean): Promise<Cluster> {
  const started = await startCluster({ withLinkProxies });
  clusters.push(started);
  return started;
}

/** kcat metadata from `address`, sent as `clientId`; -m bounds how long kcat waits for an answer. */
async function metadata(address: string, clientId = 'klab-test-harness', waitSeconds = 10) {
  return runKcat(['-b', address, '-X', `client.id=${clientId}`, '-L', '-m', String(waitSeconds)]);
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
  it('starts every broker with its own ports and data dir, serving EXTERNAL and, through its proxy, INTERNAL', async () => {
    const started = await cluster(true);
    expect(started.brokers.map((broker) => broker.nodeId)).toEqual([0, 1, 2]);
    expect(started.bootstrap).toBe(started.brokers.map((broker) => broker.externalBootstrap).join(','));
    const addresses = started.brokers.flatMap((broker) => [broker.externalBootstrap, broker.internalAddress, broker.metricsUrl]);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(new Set(started.brokers.map((broker) => broker.dataDir)).size).toBe(3);
    for (const broker of started.brokers) {
      await started.waitReady(broker.nodeId);
      const external = await metadata(broker.externalBootstrap);
      expect(external.stdout, external.stderr).toContain(`broker ${broker.nodeId} at ${broker.externalBootstrap}`);
      // A client on INTERNAL is told INTERNAL addresses: the proxy's, so peers go through it.
      const internal = await metadata(broker.internalAddress);
      expect(internal.stdout, internal.stderr).toContain(`broker ${broker.nodeId} at ${broker.internalAddress}`);
    }
  });

  it('isolate() cuts one broker off on INTERNAL both ways while its clients still reach it; heal() undoes it', async () => {
    const started = await cluster(true);
    const [zero, one] = started.brokers as [Cluster['brokers'][number], Cluster['brokers'][number]];
    started.isolate(1);
    // Nothing gets into broker 1's INTERNAL listener, and broker 1 gets into no one else's.
    expect((await metadata(one.internalAddress, 'klab-broker-0', 2)).exitCode).not.toBe(0);
    expect((await metadata(zero.internalAddress, 'klab-broker-1', 2)).exitCode).not.toBe(0);
    // The others still reach each other, and clients still reach broker 1.
    const peers = await metadata(zero.internalAddress, 'klab-broker-2');
    expect(peers.exitCode, peers.stderr).toBe(0);
    const client = await metadata(one.externalBootstrap);
    expect(client.stdout, client.stderr).toContain(`broker 1 at ${one.externalBootstrap}`);

    started.heal();
    const healed = await metadata(one.internalAddress, 'klab-broker-0');
    expect(healed.stdout, healed.stderr).toContain(`broker 1 at ${one.internalAddress}`);
    expect((await metadata(zero.internalAddress, 'klab-broker-1')).exitCode).toBe(0);
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

  it('kill9, restart, pause, resume and stop act on one broker process, which comes back on the same address', async () => {
    const started = await cluster(false);
    const two = started.brokers[2]!;
    const firstPid = two.pid;
    await started.kill9(2);
    expect(two.pid).toBe(-1);
    expect((await metadata(two.externalBootstrap, 'klab-test-harness', 2)).exitCode).not.toBe(0);
    await started.restart(2);
    expect(two.pid).not.toBe(firstPid);
    expect(two.logs().match(/--- broker 2 started at/g)).toHaveLength(2);
    expect((await metadata(two.externalBootstrap)).stdout).toContain(`broker 2 at ${two.externalBootstrap}`);

    // Paused: the kernel still accepts the connection, but nothing answers.
    started.pause(0);
    expect((await metadata(started.brokers[0]!.externalBootstrap, 'klab-test-harness', 2)).exitCode).not.toBe(0);
    started.resume(0);
    expect((await metadata(started.brokers[0]!.externalBootstrap)).exitCode).toBe(0);

    expect(await started.stop(1)).toBe(0);
    expect(started.brokers[1]!.pid).toBe(-1);
  });
});
