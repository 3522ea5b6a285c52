// Cluster admin APIs and replication metrics on a real three-broker cluster: DescribeCluster
// and DescribeQuorum as an admin client asks them, ElectLeaders (preferred after a restart with
// auto rebalance off, unclean for a partition whose whole ISR is gone, and unknown partitions),
// and the under-replicated / ISR-change / controller metrics an operator alerts on.
// kafka-python's describe_cluster() sends Metadata, not DescribeCluster, and kafkajs has no
// DescribeQuorum or ElectLeaders, so these requests go through the broker's own wire client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { HostPort } from '../../broker/config.js';
import { KafkaClient } from '../../broker/net/kafka-client.js';
import { describeClusterApi } from '../../broker/protocol/apis/60-describe-cluster.js';
import { describeQuorumApi } from '../../broker/protocol/apis/55-describe-quorum.js';
import { electLeadersApi } from '../../broker/protocol/apis/43-elect-leaders.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { kafkaClient, withAdmin } from '../support/broker-clients.js';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { activeController, scrapeMetrics as scrape, waitForMetrics } from '../support/broker-metrics.js';
import { clusterView, waitForView, type ClusterView } from '../support/cluster-faults.js';
import { runKcat } from '../support/kcat.js';

function hostPort(address: string): HostPort {
  const [host, port] = address.split(':');
  return { host: host!, port: Number(port) };
}

async function withWire<T>(address: string, use: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = await KafkaClient.connect(hostPort(address), { clientId: 'cluster-admin-test' });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function readyCluster(options: Parameters<typeof startCluster>[0] = {}): Promise<Cluster> {
  const started = await startCluster(options);
  await Promise.all(started.brokers.map((broker) => started.waitReady(broker.nodeId)));
  return started;
}

async function createTopic(cluster: Cluster, topic: string, replicaAssignment: number[][], configs: Record<string, string> = {}): Promise<ClusterView> {
  await withAdmin(kafkaClient(cluster.bootstrap), (admin) =>
    admin.createTopics({
      topics: [
        {
          topic,
          replicaAssignment: replicaAssignment.map((replicas, partition) => ({ partition, replicas })),
          configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
        },
      ],
      waitForLeaders: true,
    }),
  );
  return waitForView(cluster, topic, `${topic} fully replicated`, (view) =>
    view.partitions.length === replicaAssignment.length && view.partitions.every((p) => p.isr.length === p.replicas.length),
  );
}

function electLeaders(address: string, electionType: 0 | 1, topicPartitions: Array<{ topic: string; partitions: number[] }> | null) {
  return withWire(address, (client) => client.request(electLeadersApi, 2, { electionType, topicPartitions, timeoutMs: 30_000 }, { timeoutMs: 40_000 }));
}

/** Each partition's answer as "topic-partition" → error code. */
function electionErrors(response: Awaited<ReturnType<typeof electLeaders>>): Map<string, number> {
  return new Map(response.replicaElectionResults.flatMap(({ topic, partitionResult }) => partitionResult.map((p) => [`${topic}-${p.partitionId}`, p.errorCode] as const)));
}

async function produceOne(bootstrap: string, topic: string, partition: number) {
  return runKcat(['-P', '-b', bootstrap, '-t', topic, '-p', String(partition), '-X', 'message.timeout.ms=3000', '-X', 'request.required.acks=-1'], {
    input: 'probe\n',
    timeoutMs: 20_000,
  });
}

/** How many partitions of every topic the metadata names `nodeId` the leader of. */
async function partitionsLedBy(cluster: Cluster, nodeId: number): Promise<number> {
  const result = await runKcat(['-b', cluster.bootstrap, '-L', '-J'], { timeoutMs: 15_000 });
  expect(result.exitCode).toBe(0);
  const metadata = z.object({ topics: z.array(z.object({ partitions: z.array(z.object({ leader: z.number() })) })) }).parse(JSON.parse(result.stdout));
  return metadata.topics.flatMap((topic) => topic.partitions).filter((partition) => partition.leader === nodeId).length;
}

describe('cluster admin APIs on a three-broker cluster with auto leader rebalance off', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await readyCluster({ extraArgs: ['--auto-leader-rebalance', 'false'] });
  });

  afterAll(async () => {
    await cluster?.dispose();
  });

  it('DescribeCluster names the cluster, the controller and every broker at its address on the listener asked', async () => {
    await waitForView(cluster, 'no-such-topic', 'every broker known', (v) => v.brokers.length === 3);
    const external = await withWire(cluster.brokers[1]!.externalBootstrap, (client) => client.request(describeClusterApi, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 }));
    expect(external.errorCode).toBe(ErrorCode.NONE);
    expect(external.clusterId).toBe(cluster.clusterId);
    expect(external.controllerId).toBe(await activeController(cluster));
    expect(external.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(cluster.brokers.map((b) => b.externalBootstrap));
    expect(external.brokers.map((b) => b.brokerId)).toEqual([0, 1, 2]);

    const internal = await withWire(cluster.brokers[2]!.internalAddress, (client) => client.request(describeClusterApi, 0, { includeClusterAuthorizedOperations: false, endpointType: 1 }));
    expect(internal.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(cluster.brokers.map((b) => b.internalAddress));

    const controllers = await withWire(cluster.brokers[0]!.externalBootstrap, (client) => client.request(describeClusterApi, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 }));
    expect(controllers.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(controllers.errorMessage).toMatch(/endpoint type 2/);
  });

  it('DescribeQuorum: the quorum leader answers with its term, commit index and every voter; the others answer NOT_LEADER_OR_FOLLOWER', async () => {
    const request = { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] };
    const answers = await Promise.all(cluster.brokers.map((broker) => withWire(broker.externalBootstrap, (client) => client.request(describeQuorumApi, 1, request))));
    const partitions = answers.map((answer) => {
      expect(answer.errorCode).toBe(ErrorCode.NONE);
      return answer.topics[0]!.partitions[0]!;
    });
    const leading = partitions.filter((p) => p.errorCode === ErrorCode.NONE);
    expect(leading).toHaveLength(1);
    const leader = leading[0]!;
    expect(partitions.filter((p) => p.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER)).toHaveLength(2);
    expect(partitions.indexOf(leader)).toBe(leader.leaderId);
    expect(leader.leaderEpoch).toBeGreaterThan(0);
    expect(leader.highWatermark).toBeGreaterThan(0n);
    expect(leader.currentVoters.map((voter) => voter.replicaId)).toEqual([0, 1, 2]);
    for (const voter of leader.currentVoters) {
      expect(voter.logEndOffset).toBeGreaterThan(0n);
      expect(voter.lastFetchTimestamp).toBeGreaterThan(0n);
    }
    expect(leader.observers).toEqual([]);

    const cluster60 = await withWire(cluster.brokers[0]!.externalBootstrap, (client) => client.request(describeClusterApi, 0, { includeClusterAuthorizedOperations: false, endpointType: 1 }));
    expect(cluster60.controllerId).toBe(leader.leaderId);

    const wrong = await withWire(cluster.brokers[0]!.externalBootstrap, (client) => client.request(describeQuorumApi, 1, { topics: [{ topicName: 'orders', partitions: [{ partitionIndex: 0 }] }] }));
    expect(wrong.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('after a broker restarts, its leaderships stay moved until ElectLeaders(preferred), sent to a broker that is not the controller, moves them back', async () => {
    const topic = 'preferred-leaders';
    await createTopic(cluster, topic, [
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
    ]);
    await waitForView(cluster, topic, 'preferred leaders', (v) => v.partitions.every((p) => p.leader === p.replicas[0]));
    const controllerBefore = await activeController(cluster);
    const restarted = [0, 1, 2].find((id) => id !== controllerBefore)!;
    await cluster.restart(restarted);
    await cluster.waitReady(restarted);
    await waitForView(cluster, topic, `broker ${restarted} back in every ISR`, (v) => v.partitions.every((p) => p.isr.length === 3));
    // Longer than the controller's rebalance interval (5 s), which would have moved them back were it on.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const moved = await waitForView(cluster, topic, 'metadata', (v) => v.partitions.length === 3);
    const displaced = moved.partitions.filter((p) => p.leader !== p.replicas[0]);
    expect(displaced.map((p) => p.partition)).toEqual([restarted]);

    const controller = await activeController(cluster);
    const via = cluster.brokers.find((broker) => broker.nodeId !== controller)!;
    const response = await electLeaders(via.externalBootstrap, 0, [{ topic, partitions: [0, 1, 2] }]);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    const errors = electionErrors(response);
    expect(errors.get(`${topic}-${restarted}`)).toBe(ErrorCode.NONE);
    for (const other of [0, 1, 2].filter((id) => id !== restarted)) expect(errors.get(`${topic}-${other}`)).toBe(ErrorCode.ELECTION_NOT_NEEDED);
    const after = await waitForView(cluster, topic, 'preferred leaders again', (v) => v.partitions.every((p) => p.leader === p.replicas[0]));
    expect(after.partitions.map((p) => p.leader)).toEqual([0, 1, 2]);
  });

  it('ElectLeaders for a partition that does not exist answers UNKNOWN_TOPIC_OR_PARTITION for it', async () => {
    const response = await electLeaders(cluster.brokers[0]!.externalBootstrap, 0, [
      { topic: 'preferred-leaders', partitions: [7] },
      { topic: 'never-created', partitions: [0] },
    ]);
    const errors = electionErrors(response);
    expect(errors.get('preferred-leaders-7')).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(errors.get('never-created-0')).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe('unclean leader election on a three-broker cluster', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.dispose();
    cluster = undefined;
  });

  it('a partition whose whole ISR is gone stays offline by default until ElectLeaders(unclean); with the topic config set, the surviving replica leads by itself', async () => {
    const current = await readyCluster({ withLinkProxies: true });
    cluster = current;
    const controller = await activeController(current);
    // Two replicas, leader and follower; the third broker keeps the metadata quorum's majority
    // while the other two are lost one after the other.
    const leader = (controller + 1) % 3;
    const follower = (controller + 2) % 3;
    const survivor = controller;
    const configs = { 'min.insync.replicas': '1' };
    await createTopic(current, 'clean-only', [[leader, follower]], configs);
    await createTopic(current, 'unclean-allowed', [[leader, follower]], { ...configs, 'unclean.leader.election.enable': 'true' });

    // The follower is cut off and leaves both ISRs; then the leader, the last ISR member, dies.
    current.isolate(follower);
    for (const topic of ['clean-only', 'unclean-allowed']) {
      await waitForView(current, topic, `broker ${follower} out of the ISR of ${topic}`, (v) => v.partitions[0]?.isr.join() === String(leader), 30_000, [follower]);
    }
    await current.kill9(leader);
    current.heal();

    const unclean = await waitForView(current, 'unclean-allowed', `broker ${follower} leading unclean-allowed`, (v) => v.partitions[0]?.leader === follower, 60_000, [leader]);
    expect(unclean.partitions[0]!.isr).toEqual([follower]);

    const offline = await waitForView(current, 'clean-only', 'clean-only offline', (v) => v.partitions[0]?.leader === -1 && v.brokers.includes(follower), 60_000, [leader]);
    expect(offline.partitions[0]!.isr).toEqual([leader]);
    const live = current.brokers.filter((broker) => broker.nodeId !== leader).map((broker) => broker.externalBootstrap).join(',');
    const refused = await produceOne(live, 'clean-only', 0);
    // librdkafka holds the record while the partition has no leader, until its timeout.
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/Delivery failed/);
    const controllerMetrics = await scrape(current, await activeController(current, [leader]));
    expect(controllerMetrics.get('klab_controller_offline_partitions')).toBe(1);

    // A preferred election cannot help (the preferred replica is dead); an unclean one can.
    const preferred = electionErrors(await electLeaders(current.brokers[survivor]!.externalBootstrap, 0, [{ topic: 'clean-only', partitions: [0] }]));
    expect(preferred.get('clean-only-0')).toBe(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE);
    const elected = electionErrors(await electLeaders(current.brokers[survivor]!.externalBootstrap, 1, [{ topic: 'clean-only', partitions: [0] }]));
    expect(elected.get('clean-only-0')).toBe(ErrorCode.NONE);
    const recovered = await waitForView(current, 'clean-only', `broker ${follower} leading clean-only`, (v) => v.partitions[0]?.leader === follower, 30_000, [leader]);
    expect(recovered.partitions[0]!.isr).toEqual([follower]);
    const accepted = await produceOne(live, 'clean-only', 0);
    expect(accepted.stderr).not.toMatch(/fail/i);
    expect(accepted.exitCode).toBe(0);
  });
});

describe('replication metrics on a three-broker cluster', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.dispose();
    cluster = undefined;
  });

  it('a paused follower shows as under-replicated and an ISR shrink on the leader; once resumed, as an expand and back to none', async () => {
    // The leader drops a silent follower after 1 s, well before its controller session (10 s)
    // would run out, so the ISR change is the leader's own.
    const current = await readyCluster({ extraArgs: ['--replica-lag-time-max-ms', '1000', '--broker-session-timeout-ms', '10000'] });
    cluster = current;
    const controller = await activeController(current);
    const leader = (controller + 1) % 3;
    const follower = (controller + 2) % 3;
    await createTopic(current, 'watched', [[leader, follower, controller]]);

    // The leader's own count follows the metadata it has applied, which may trail what kcat was told.
    const led = await partitionsLedBy(current, leader);
    const steady = await waitForMetrics(current, leader, `broker ${leader} leading ${led} partitions`, (values) => values.get('klab_broker_leader_partitions') === led);
    expect(steady.get('klab_broker_under_replicated_partitions')).toBe(0);
    const shrinksBefore = steady.get('klab_broker_isr_shrinks_total') ?? 0;
    const expandsBefore = steady.get('klab_broker_isr_expands_total') ?? 0;
    const controllers = await Promise.all([0, 1, 2].map((id) => scrape(current, id)));
    expect(controllers.map((values) => values.get('klab_controller_active'))).toEqual([0, 1, 2].map((id) => (id === controller ? 1 : 0)));
    for (const values of controllers) {
      expect(values.get('klab_metadata_quorum_term')).toBeGreaterThan(0);
      expect(values.get('klab_metadata_applied_index')).toBeGreaterThan(0);
    }

    current.pause(follower);
    try {
      const shrunk = await waitForMetrics(current, leader, 'an ISR shrink', (values) => (values.get('klab_broker_under_replicated_partitions') ?? 0) > 0);
      expect(shrunk.get('klab_broker_isr_shrinks_total')).toBeGreaterThan(shrinksBefore);
    } finally {
      current.resume(follower);
    }
    const healed = await waitForMetrics(current, leader, 'the ISR expanding again', (values) => values.get('klab_broker_under_replicated_partitions') === 0);
    expect(healed.get('klab_broker_isr_expands_total')).toBeGreaterThan(expandsBefore);
    await waitForView(current, 'watched', `broker ${follower} back in the ISR`, (v) => v.partitions[0]?.isr.length === 3);
  });
});

describe('the controller id clients are given', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.dispose();
    cluster = undefined;
  });

  it('is the active controller while it is live, and the broker asked (which forwards), never -1, while none is', async () => {
    const current = await readyCluster();
    cluster = current;
    const controller = await activeController(current);
    const survivor = (controller + 1) % 3;
    const survivorAddress = current.brokers[survivor]!.externalBootstrap;
    expect((await clusterView(survivorAddress, 'no-such-topic')).controller).toBe(controller);

    // Alone, the survivor loses the metadata quorum's leader and cannot elect one.
    const paused = [controller, (controller + 2) % 3];
    for (const nodeId of paused) current.pause(nodeId);
    const answers: number[] = [];
    try {
      const deadline = Date.now() + 30_000;
      while (answers.at(-1) !== survivor && Date.now() < deadline) {
        answers.push((await clusterView(survivorAddress, 'no-such-topic')).controller);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      for (const nodeId of paused) current.resume(nodeId);
    }
    expect(answers.at(-1)).toBe(survivor);
    expect(answers.filter((answer) => answer < 0)).toEqual([]);

    const after = await activeController(current);
    await waitForView(current, 'no-such-topic', `the active controller ${after} named again`, (view) => view.controller === after);
  });
});
