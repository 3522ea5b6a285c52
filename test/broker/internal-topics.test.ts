// `__consumer_offsets` is the group coordinator's own topic: clients see it marked internal
// (Metadata isInternal) and may not produce to it, auto-create it, delete it, grow it or
// delete records from it; and a
// user topic that is deleted takes its committed offsets with it, so a topic created again
// under that name starts without them — also after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { offsetCommitApi } from '../../broker/protocol/apis/08-offset-commit.js';
import { findCoordinatorApi } from '../../broker/protocol/apis/10-find-coordinator.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { kafkaClient, type KafkaClient } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

const OFFSETS_TOPIC = '__consumer_offsets';
const zeroUuid = '00000000-0000-0000-0000-000000000000';

let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: ReturnType<KafkaClient['admin']>;

beforeAll(async () => {
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await broker?.dispose();
});

async function metadataOf(topics: string[] | null, allowAutoTopicCreation: boolean) {
  const client = await WireClient.connect(broker.port);
  try {
    const response = await client.request(metadataApi, 12, {
      topics: topics && topics.map((name) => ({ topicId: zeroUuid, name })),
      allowAutoTopicCreation,
    });
    return response.topics;
  } finally {
    client.destroy();
  }
}

/**
 * Commits offsets outside any generation, as an admin tool does. Over the wire: kafkajs's
 * setOffsets runs a whole consumer through a rebalance for it.
 */
async function commitOffsets(groupId: string, topic: string, offsets: Record<number, number>): Promise<void> {
  const client = await WireClient.connect(broker.port);
  try {
    // The first group request starts the coordinator, which answers once __consumer_offsets is loaded.
    let coordinator = await client.request(findCoordinatorApi, 2, { key: groupId, keyType: 0 });
    while (coordinator.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
      coordinator = await client.request(findCoordinatorApi, 2, { key: groupId, keyType: 0 });
    }
    expect(coordinator.errorCode).toBe(ErrorCode.NONE);
    const partitions = Object.entries(offsets).map(([partition, offset]) => ({
      partitionIndex: Number(partition),
      committedOffset: BigInt(offset),
      committedLeaderEpoch: -1,
      committedMetadata: null,
    }));
    const response = await client.request(offsetCommitApi, 7, {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: topic, partitions }],
    });
    expect(response.topics[0]?.partitions.map((partition) => partition.errorCode)).toEqual(partitions.map(() => ErrorCode.NONE));
  } finally {
    client.destroy();
  }
}

/** Sum of every partition's log end offset: what was ever appended to the topic. */
async function appendedTo(topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((total, partition) => total + Number(partition.high), 0);
}

describe('__consumer_offsets', () => {
  it('is not auto-created by a metadata request, but by the coordinator with its own shape', async () => {
    const [asked] = await metadataOf([OFFSETS_TOPIC], true);
    expect(asked).toMatchObject({ name: OFFSETS_TOPIC, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] });

    await admin.createTopics({ topics: [{ topic: 'user-events', numPartitions: 2 }] });
    // The first group request makes the coordinator create the topic (Kafka's 50 partitions).
    await commitOffsets('keeper', 'user-events', { 1: 3 });
    const [created] = await metadataOf([OFFSETS_TOPIC], false);
    expect(created).toMatchObject({ errorCode: ErrorCode.NONE, isInternal: true });
    expect(created?.partitions).toHaveLength(50);
  });

  it('is marked internal in Metadata, and user topics are not', async () => {
    const topics = await metadataOf(null, false);
    const internal = Object.fromEntries(topics.map((topic) => [topic.name, topic.isInternal]));
    expect(internal).toEqual({ [OFFSETS_TOPIC]: true, 'user-events': false });
  });

  it('refuses deletion and new partitions with INVALID_REQUEST, keeping every committed offset', async () => {
    await expect(admin.deleteTopics({ topics: [OFFSETS_TOPIC] })).rejects.toMatchObject({ type: 'INVALID_REQUEST' });
    await expect(admin.createPartitions({ topicPartitions: [{ topic: OFFSETS_TOPIC, count: 60 }] })).rejects.toMatchObject({
      type: 'INVALID_REQUEST',
    });
    const [after] = await metadataOf([OFFSETS_TOPIC], false);
    expect(after?.errorCode).toBe(ErrorCode.NONE);
    expect(after?.partitions).toHaveLength(50);
    const [offsets] = await admin.fetchOffsets({ groupId: 'keeper', topics: ['user-events'] });
    expect(offsets?.partitions).toEqual(
      expect.arrayContaining([expect.objectContaining({ partition: 1, offset: '3' }), expect.objectContaining({ partition: 0, offset: '-1' })]),
    );
  });

  it('refuses produce from clients with INVALID_TOPIC_EXCEPTION and stores nothing', async () => {
    const before = await appendedTo(OFFSETS_TOPIC);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await expect(producer.send({ topic: OFFSETS_TOPIC, messages: [{ key: 'forged', value: 'offset' }] })).rejects.toMatchObject({
        type: 'INVALID_TOPIC_EXCEPTION',
      });
    } finally {
      await producer.disconnect();
    }
    expect(await appendedTo(OFFSETS_TOPIC)).toBe(before);
  });

  it('refuses DeleteRecords with INVALID_TOPIC_EXCEPTION, keeping its log start and every committed offset', async () => {
    const partition = (await admin.fetchTopicOffsets(OFFSETS_TOPIC)).find((entry) => Number(entry.high) > 0)!;
    await expect(
      admin.deleteTopicRecords({ topic: OFFSETS_TOPIC, partitions: [{ partition: partition.partition, offset: '-1' }] }),
    ).rejects.toMatchObject({
      cause: { partitions: [expect.objectContaining({ partition: partition.partition, error: expect.objectContaining({ type: 'INVALID_TOPIC_EXCEPTION' }) })] },
    });
    const after = (await admin.fetchTopicOffsets(OFFSETS_TOPIC)).find((entry) => entry.partition === partition.partition)!;
    expect(after.low).toBe(partition.low);
    expect(after.high).toBe(partition.high);
    const [offsets] = await admin.fetchOffsets({ groupId: 'keeper', topics: ['user-events'] });
    expect(offsets?.partitions).toEqual(expect.arrayContaining([expect.objectContaining({ partition: 1, offset: '3' })]));
  });
});

describe('deleting a user topic', () => {
  it('removes its committed offsets from every group, so a recreated topic starts without them, also after a restart', async () => {
    await admin.createTopics({ topics: [{ topic: 'recreated', numPartitions: 2 }, { topic: 'kept', numPartitions: 1 }] });
    await commitOffsets('mixed', 'recreated', { 0: 5, 1: 7 });
    await commitOffsets('mixed', 'kept', { 0: 2 });
    await commitOffsets('only-recreated', 'recreated', { 1: 4 });

    await admin.deleteTopics({ topics: ['recreated'] });
    await admin.createTopics({ topics: [{ topic: 'recreated', numPartitions: 2 }] });

    const check = async () => {
      const [recreated] = await admin.fetchOffsets({ groupId: 'mixed', topics: ['recreated'] });
      expect(recreated?.partitions.map((p) => p.offset)).toEqual(['-1', '-1']);
      const [onlyRecreated] = await admin.fetchOffsets({ groupId: 'only-recreated', topics: ['recreated'] });
      expect(onlyRecreated?.partitions.map((p) => p.offset)).toEqual(['-1', '-1']);
      const [kept] = await admin.fetchOffsets({ groupId: 'mixed', topics: ['kept'] });
      expect(kept?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '2' })]);
      // A group whose only offsets were the deleted topic's is gone, as in Kafka.
      expect((await admin.listGroups()).groups.map((group) => group.groupId).sort()).toEqual(['keeper', 'mixed']);
    };
    await check();

    await admin.disconnect();
    await broker.restart();
    admin = kafka.admin();
    await admin.connect();
    await check();
  });
});
