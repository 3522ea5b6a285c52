// Admin operations through kafkajs's admin client against a real broker process: topics,
// partitions, configs, record deletion and offsets by time — and the errors a single-node
// cluster must give (replication factor, bad configs, duplicates, bad names).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { consumeWithKcat, kafkaClient, type KafkaClient } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

const topicResource = 2;
const brokerResource = 4;

let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: ReturnType<KafkaClient['admin']>;

beforeAll(async () => {
  broker = await startBroker({ args: ['--default-partitions', '2', '--log-retention-ms', '86400000'] });
  kafka = kafkaClient(broker.bootstrap);
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await broker?.dispose();
});

describe('topics', () => {
  it('creates topics with partitions and configs, lists them, and deletes them', async () => {
    expect(
      await admin.createTopics({
        topics: [
          { topic: 'orders', numPartitions: 4, configEntries: [{ name: 'retention.bytes', value: '1048576' }] },
          { topic: 'defaults' },
        ],
      }),
    ).toBe(true);
    expect((await admin.listTopics()).sort()).toEqual(expect.arrayContaining(['defaults', 'orders']));
    const metadata = await admin.fetchTopicMetadata({ topics: ['orders', 'defaults'] });
    expect(metadata.topics.find((topic) => topic.name === 'orders')?.partitions).toHaveLength(4);
    expect(metadata.topics.find((topic) => topic.name === 'defaults')?.partitions).toHaveLength(2);

    await admin.deleteTopics({ topics: ['defaults'] });
    expect(await admin.listTopics()).not.toContain('defaults');
    // The name is free again, with fresh (empty) partitions.
    await admin.createTopics({ topics: [{ topic: 'defaults', numPartitions: 1 }] });
    expect(await admin.fetchTopicOffsets('defaults')).toEqual([{ partition: 0, offset: '0', high: '0', low: '0' }]);
  });

  it('validates without creating when validateOnly is set', async () => {
    // waitForLeaders would look the (uncreated) topic up and fail.
    await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'only-validated', numPartitions: 3 }] });
    expect(await admin.listTopics()).not.toContain('only-validated');
  });

  it('refuses a replication factor above the single node, unknown configs, duplicates and bad names', async () => {
    await expect(admin.createTopics({ topics: [{ topic: 'replicated', replicationFactor: 3 }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR' })],
    });
    await expect(
      admin.createTopics({ topics: [{ topic: 'configured', configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ type: 'INVALID_CONFIG' })] });
    await expect(
      admin.createTopics({ topics: [{ topic: 'configured', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ type: 'INVALID_CONFIG' })] });
    await expect(admin.createTopics({ topics: [{ topic: 'bad/name' }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_TOPIC_EXCEPTION' })],
    });
    // kafkajs reports an existing topic as "not created" rather than as an error.
    expect(await admin.createTopics({ topics: [{ topic: 'orders' }] })).toBe(false);
    expect(await admin.listTopics()).not.toContain('replicated');
  });

  it('gives every topic a stable topic id (Metadata v10+)', async () => {
    const client = await WireClient.connect(broker.port);
    try {
      const ask = () =>
        client.request(metadataApi, 12, {
          topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'orders' }],
          allowAutoTopicCreation: false,
        });
      const first = await ask();
      const topicId = first.topics[0]?.topicId;
      expect(topicId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(topicId).not.toBe('00000000-0000-0000-0000-000000000000');
      expect((await ask()).topics[0]?.topicId).toBe(topicId);
      const byId = await client.request(metadataApi, 12, { topics: [{ topicId: topicId!, name: null }] });
      expect(byId.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, name: 'orders' });
      expect(first.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    } finally {
      client.destroy();
    }
  });
});

describe('partitions', () => {
  it('adds partitions, and refuses to shrink', async () => {
    await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 3 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: ['growing'] });
    expect(metadata.topics[0]?.partitions.map((partition) => partition.partitionId).sort()).toEqual([0, 1, 2]);
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 2 }] })).rejects.toMatchObject({
      type: 'INVALID_PARTITIONS',
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'growing', messages: [{ value: 'to the new partition', partition: 2 }] });
    await producer.disconnect();
    expect((await admin.fetchTopicOffsets('growing')).find((entry) => entry.partition === 2)?.high).toBe('1');
  });
});

describe('configs', () => {
  it('describes a topic with its overrides and the broker defaults for the rest', async () => {
    const described = await admin.describeConfigs({
      resources: [{ type: topicResource, name: 'orders' }],
      includeSynonyms: false,
    });
    const entries = new Map(described.resources[0]!.configEntries.map((entry) => [entry.configName, entry]));
    expect(entries.get('retention.bytes')).toMatchObject({ configValue: '1048576', isDefault: false });
    expect(entries.get('retention.ms')).toMatchObject({ configValue: '86400000', isDefault: true });
    expect(entries.get('cleanup.policy')?.configValue).toBe('delete');
  });

  it('describes the broker with the values it runs with', async () => {
    const described = await admin.describeConfigs({
      resources: [{ type: brokerResource, name: '0', configNames: ['num.partitions', 'log.retention.ms', 'log.dirs'] }],
      includeSynonyms: false,
    });
    const entries = new Map(described.resources[0]!.configEntries.map((entry) => [entry.configName, entry.configValue]));
    expect(Object.fromEntries(entries)).toEqual({
      'num.partitions': '2',
      'log.retention.ms': '86400000',
      'log.dirs': broker.dataDir,
    });
  });

  it('answers an unknown topic resource with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await expect(
      admin.describeConfigs({ resources: [{ type: topicResource, name: 'missing' }], includeSynonyms: false }),
    ).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });
});

describe('records and offsets', () => {
  it('deletes records before an offset: the low watermark moves and reads start there', async () => {
    await admin.createTopics({ topics: [{ topic: 'trim', numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 10; i++) {
      await producer.send({ topic: 'trim', messages: Array.from({ length: 10 }, (_, j) => ({ value: `r${i * 10 + j}` })) });
    }
    await producer.disconnect();
    await admin.fetchTopicOffsets('trim');
    await admin.deleteTopicRecords({ topic: 'trim', partitions: [{ partition: 0, offset: '35' }] });
    expect(await admin.fetchTopicOffsets('trim')).toEqual([{ partition: 0, offset: '100', high: '100', low: '35' }]);
    const values = (await consumeWithKcat(broker.bootstrap, 'trim')).map((record) => record.value);
    expect(values[0]).toBe('r35');
    expect(values).toHaveLength(65);
  });

  it('lists offsets by timestamp: the first offset at or after the time, -1 past the end', async () => {
    await admin.createTopics({ topics: [{ topic: 'timed', numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    const base = Date.now() - 60_000;
    await producer.send({
      topic: 'timed',
      messages: Array.from({ length: 30 }, (_, i) => ({ value: `t${i}`, timestamp: String(base + i * 1_000) })),
    });
    await producer.disconnect();
    expect(await admin.fetchTopicOffsetsByTimestamp('timed', base + 10_500)).toEqual([{ partition: 0, offset: '11' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp('timed', base - 5_000)).toEqual([{ partition: 0, offset: '0' }]);
    // kafkajs turns "no such offset" (-1) into the latest offset.
    expect(await admin.fetchTopicOffsetsByTimestamp('timed', base + 3_600_000)).toEqual([{ partition: 0, offset: '30' }]);
  });
});
