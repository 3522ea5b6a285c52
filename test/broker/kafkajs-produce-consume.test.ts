// kafkajs 2.2.4, unchanged, against a real broker process: every acks mode, keys, headers,
// every codec (gzip built in; snappy and lz4 through the test adapter), consumed back by a
// kafkajs consumer and by kcat — identical, and in order within each partition.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byPartition, consumeWithKcat, kafkaClient, type KafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { registerKafkajsCodecs } from '../support/kafkajs-codecs.js';

const { CompressionTypes } = kafkajs;

interface SentRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

let broker: BrokerProcess;
let kafka: KafkaClient;

beforeAll(async () => {
  registerKafkajsCodecs();
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
});

afterAll(async () => {
  await broker?.dispose();
});

function records(prefix: string, count: number): SentRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}-key-${i % 5}`,
    value: `${prefix} value ${i} ${'é✓'.repeat(i % 13)}`,
    headers: { sequence: String(i), origin: prefix },
  }));
}

async function consumeWithKafkajs(topic: string, expected: number): Promise<Array<SentRecord & { partition: number; offset: number }>> {
  const consumer = kafka.consumer({ groupId: `group-${topic}`, maxWaitTimeInMs: 100 });
  const received: Array<SentRecord & { partition: number; offset: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${received.length} of ${expected} records in 60 s`)), 60_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
          received.push({
            partition,
            offset: Number(message.offset),
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            headers,
          });
          if (received.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

function expectSameOrderPerKey(sent: readonly SentRecord[], received: ReadonlyArray<SentRecord & { partition: number }>) {
  expect(received).toHaveLength(sent.length);
  for (const key of new Set(sent.map((record) => record.key))) {
    const sentForKey = sent.filter((record) => record.key === key).map(({ key, value, headers }) => ({ key, value, headers }));
    const receivedForKey = received.filter((record) => record.key === key);
    expect(receivedForKey.map(({ key, value, headers }) => ({ key, value, headers }))).toEqual(sentForKey);
    expect(new Set(receivedForKey.map((record) => record.partition)).size).toBe(1);
  }
}

describe('kafkajs produce and consume', () => {
  const cases = [
    { name: 'acks 0, uncompressed', acks: 0, compression: CompressionTypes.None },
    { name: 'acks 1, gzip', acks: 1, compression: CompressionTypes.GZIP },
    { name: 'acks -1, snappy', acks: -1, compression: CompressionTypes.Snappy },
    { name: 'acks -1, lz4', acks: -1, compression: CompressionTypes.LZ4 },
  ];

  for (const testCase of cases) {
    it(`${testCase.name}: every record comes back identical and in order per partition`, async () => {
      const topic = `kafkajs-${testCase.acks}-${testCase.compression}`;
      await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }));

      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const sent: SentRecord[] = [];
      for (let batch = 0; batch < 4; batch++) {
        const messages = records(`${topic}-${batch}`, 250);
        sent.push(...messages);
        const result = await producer.send({ topic, acks: testCase.acks, compression: testCase.compression, messages });
        if (testCase.acks === 0) expect(result).toEqual([]);
        else expect(result.every((partition) => partition.errorCode === 0)).toBe(true);
      }
      await producer.disconnect();

      const viaKafkajs = await consumeWithKafkajs(topic, sent.length);
      expectSameOrderPerKey(sent, viaKafkajs);
      for (const list of byPartition(viaKafkajs).values()) {
        expect(list.map((record) => record.offset)).toEqual(list.map((_, i) => i));
      }

      const viaKcat = await consumeWithKcat(broker.bootstrap, topic);
      expectSameOrderPerKey(
        sent,
        viaKcat.map((record) => ({ ...record, key: record.key ?? '', value: record.value ?? '' })),
      );
    });
  }

  it('answers a produce to an unknown topic with UNKNOWN_TOPIC_OR_PARTITION when auto-creation is off', async () => {
    const strict = await startBroker({ args: ['--auto-create-topics', 'false'] });
    try {
      const producer = kafkaClient(strict.bootstrap).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      await expect(producer.send({ topic: 'never-created', messages: [{ value: 'x' }] })).rejects.toThrow(
        /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION|This server does not host/i,
      );
      await producer.disconnect();
    } finally {
      await strict.dispose();
    }
  });
});
