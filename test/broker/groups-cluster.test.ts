// Consumer groups on a three-broker cluster of real processes with kafkajs: a group's
// coordinator is the leader of its `__consumer_offsets` partition; when that broker is killed
// (kill -9) the partition's new leader loads the group from the replicated records, the members
// find it, and a fresh member resumes exactly where the group's commits left off. A topic
// deleted through another broker loses its committed offsets at the coordinator too.
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { offsetCommitApi } from '../../broker/protocol/apis/08-offset-commit.js';
import { offsetFetchApi } from '../../broker/protocol/apis/09-offset-fetch.js';
import { findCoordinatorApi } from '../../broker/protocol/apis/10-find-coordinator.js';
import { deleteTopicsApi } from '../../broker/protocol/apis/20-delete-topics.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { WireClient } from '../support/broker-wire.js';

const { Kafka, logLevel } = kafkajs;
type Consumer = ReturnType<InstanceType<typeof Kafka>['consumer']>;

const TOPIC = 'orders';
const PARTITIONS = 3;
const GROUP = 'resume-after-coordinator-crash';
const PER_WAVE = 30;

interface Processed {
  member: string;
  partition: number;
  offset: number;
  value: string;
}

let cluster: Cluster | null = null;
const consumers: Consumer[] = [];

afterEach(async () => {
  await Promise.allSettled(consumers.splice(0).map((consumer) => consumer.disconnect()));
  await cluster?.dispose();
  cluster = null;
});

/** A kafkajs client over the given brokers, retrying long enough to ride out a leader election. */
function client(brokers: readonly string[], clientId: string) {
  return new Kafka({
    brokers: [...brokers],
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 2_000 },
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The coordinator broker `port` names for `group`, once it names one other than `gone`. */
async function coordinatorOf(port: number, gone = -1, group = GROUP): Promise<number> {
  const wire = await WireClient.connect(port);
  try {
    let answer = { errorCode: -1, nodeId: -1, errorMessage: null as string | null };
    await waitFor('FindCoordinator to name a coordinator', async () => {
      answer = await wire.request(findCoordinatorApi, 3, { key: group, keyType: 0 });
      return answer.errorCode === ErrorCode.NONE && answer.nodeId !== gone;
    });
    return answer.nodeId;
  } finally {
    wire.destroy();
  }
}

/**
 * A member that commits each message right after processing it, so the commits are exact;
 * returns its latest assignment of TOPIC.
 */
async function startMember(brokers: readonly string[], name: string, processed: Processed[]): Promise<() => number[]> {
  const consumer = client(brokers, name).consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  consumers.push(consumer);
  let assigned: number[] = [];
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = [...(event.payload.memberAssignment[TOPIC] ?? [])];
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      processed.push({ member: name, partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
      await consumer.commitOffsets([{ topic: TOPIC, partition, offset: String(Number(message.offset) + 1) }]);
    },
  });
  return () => assigned;
}

async function produceWave(brokers: readonly string[], prefix: string): Promise<string[]> {
  const producer = client(brokers, `producer-${prefix}`).producer();
  await producer.connect();
  try {
    const messages = Array.from({ length: PER_WAVE }, (_, i) => ({ partition: i % PARTITIONS, value: `${prefix}-${i}` }));
    await producer.send({ topic: TOPIC, acks: -1, messages });
    return messages.map((m) => m.value);
  } finally {
    await producer.disconnect();
  }
}

async function committedOffsets(brokers: readonly string[]): Promise<number[]> {
  const admin = client(brokers, 'offsets-reader').admin();
  await admin.connect();
  try {
    const [topic] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return topic!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The coordinator every broker in `ports` names for GROUP (other than `gone`), once they agree:
 * each answers from its own copy of the metadata, and a leadership may be moving meanwhile.
 */
async function agreedCoordinator(ports: readonly number[], gone = -1): Promise<number> {
  let agreed = -1;
  await waitFor('the brokers to name the same coordinator', async () => {
    const named = new Set<number>();
    for (const port of ports) named.add(await coordinatorOf(port, gone));
    agreed = named.size === 1 ? [...named][0]! : -1;
    return agreed !== -1;
  });
  return agreed;
}

async function startedCluster(): Promise<Cluster> {
  cluster = await startCluster();
  for (const broker of cluster.brokers) await cluster.waitReady(broker.nodeId);
  return cluster;
}

async function createTopic(brokers: readonly string[], topic: string): Promise<void> {
  const admin = client(brokers, 'setup').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

const portOf = (started: Cluster, nodeId: number) => Number(started.brokers[nodeId]!.externalBootstrap.split(':')[1]);

describe('consumer groups on a three-broker cluster', () => {
  it('drops the committed offsets of a topic deleted through another broker, at the group\'s coordinator', async () => {
    const started = await startedCluster();
    const everyone = started.brokers.map((broker) => broker.externalBootstrap);
    await createTopic(everyone, TOPIC);
    const group = 'offsets-of-deleted-topic';
    const coordinator = await coordinatorOf(portOf(started, 0), -1, group);
    const other = started.brokers.find((broker) => broker.nodeId !== coordinator)!.nodeId;

    const atCoordinator = await WireClient.connect(portOf(started, coordinator));
    const elsewhere = await WireClient.connect(portOf(started, other));
    try {
      const committed = await atCoordinator.request(offsetCommitApi, 7, {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: null }] }],
      });
      expect(committed.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
      // The coordinator alone holds the group: another broker sends the client away.
      const askedElsewhere = await elsewhere.request(offsetFetchApi, 7, { groupId: group, topics: null, requireStable: false });
      expect(askedElsewhere.errorCode).toBe(ErrorCode.NOT_COORDINATOR);

      const deleted = await elsewhere.request(deleteTopicsApi, 4, { topicNames: [TOPIC], timeoutMs: 30_000 });
      expect(deleted.responses.map((r) => r.errorCode)).toEqual([ErrorCode.NONE]);
      const offsetsAtCoordinator = async () => (await atCoordinator.request(offsetFetchApi, 7, { groupId: group, topics: null, requireStable: false })).topics;
      await waitFor('the coordinator to drop the deleted topic\'s offsets', async () => (await offsetsAtCoordinator()).length === 0);

      // A topic created again under the name starts without them.
      await createTopic(everyone, TOPIC);
      const fetched = await atCoordinator.request(offsetFetchApi, 7, { groupId: group, topics: [{ name: TOPIC, partitionIndexes: [1] }], requireStable: false });
      expect(fetched.topics[0]!.partitions[0]!.committedOffset).toBe(-1n);
    } finally {
      atCoordinator.destroy();
      elsewhere.destroy();
    }
  });

  it('a group survives kill -9 of its coordinator: the new leader of its offsets partition serves it and a fresh member resumes from the commits', async () => {
    const started = await startedCluster();
    const everyone = started.brokers.map((broker) => broker.externalBootstrap);
    await createTopic(everyone, TOPIC);
    const port = (nodeId: number) => portOf(started, nodeId);
    await agreedCoordinator(started.brokers.map((broker) => port(broker.nodeId)));

    const processed: Processed[] = [];
    await startMember(everyone, 'first', processed);
    const firstWave = await produceWave(everyone, 'first');
    await waitFor('the first wave processed', () => new Set(processed.map((p) => p.value)).size === PER_WAVE);
    expect(processed.map((p) => p.value).sort()).toEqual([...firstWave].sort());
    expect(await committedOffsets(everyone)).toEqual([10, 10, 10]);

    // The leader of the group's offsets partition, as every broker sees it now.
    const coordinator = await agreedCoordinator(started.brokers.map((broker) => port(broker.nodeId)));
    await started.kill9(coordinator);
    const survivors = started.brokers.filter((broker) => broker.nodeId !== coordinator);
    const survivorAddresses = survivors.map((broker) => broker.externalBootstrap);
    // Once the controller has fenced the dead broker, the partition's new leader is named.
    const successor = await agreedCoordinator(survivors.map((broker) => port(broker.nodeId)), coordinator);
    expect(survivors.map((broker) => broker.nodeId)).toContain(successor);
    // The new coordinator loaded the commits made through the old one.
    expect(await committedOffsets(survivorAddresses)).toEqual([10, 10, 10]);

    // A fresh member joins the group (the first one rides out the crash too) and new messages arrive.
    const afterCrash = processed.length;
    const freshAssignment = await startMember(survivorAddresses, 'fresh', processed);
    await waitFor('the fresh member to be assigned partitions', () => freshAssignment().length > 0);
    const secondWave = await produceWave(survivorAddresses, 'second');
    await waitFor('the second wave processed', () => new Set(processed.slice(afterCrash).map((p) => p.value)).size === PER_WAVE);

    // Nothing before the last commit was read again, nothing after it skipped, nothing twice.
    const reread = processed.slice(afterCrash).map((p) => p.value);
    expect(reread.sort()).toEqual([...secondWave].sort());
    // Every partition picked up at its committed offset, the fresh member's among them.
    const firstAfterCrash = new Map<number, Processed>();
    for (const p of processed.slice(afterCrash)) if (!firstAfterCrash.has(p.partition)) firstAfterCrash.set(p.partition, p);
    expect([...firstAfterCrash.entries()].sort(([a], [b]) => a - b).map(([partition, p]) => [partition, p.offset])).toEqual([
      [0, 10],
      [1, 10],
      [2, 10],
    ]);
    expect([...firstAfterCrash.values()].some((p) => p.member === 'fresh')).toBe(true);
    expect(await committedOffsets(survivorAddresses)).toEqual([20, 20, 20]);
  });
});
