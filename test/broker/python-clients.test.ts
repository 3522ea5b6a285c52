// The two Python clients against a real broker process: kafka-python (Debian's python3-kafka, a
// pure-Python implementation of the protocol) and confluent-kafka (Debian's
// python3-confluent-kafka, on librdkafka). Each runs as /usr/bin/python3 with a small driver from
// test/support/python/; every record is checked here, read back with another client (kcat or
// kafkajs) where it was written by a Python one and the other way round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchApi } from '../../broker/protocol/apis/01-fetch.js';
import { splitBatches } from '../../broker/storage/record-batch.js';
import { byPartition, consumeWithKcat, kafkaClient, type KafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';
import {
  kafkaPythonCodecs,
  type OutgoingRecord,
  pythonConsume,
  pythonGroupRun,
  pythonMetadata,
  pythonProduce,
  type PythonClient,
} from '../support/python-clients.js';

const clients: readonly PythonClient[] = ['kafka-python', 'confluent-kafka'];
const PARTITIONS = 3;

let broker: BrokerProcess;
let kafka: KafkaClient;

beforeAll(async () => {
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
});

afterAll(async () => {
  await broker?.dispose();
});

async function createTopic(topic: string): Promise<void> {
  await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }));
}

/** Records with keys spread over the partitions, a few without a key, and two headers each. */
function outgoing(label: string, count: number): OutgoingRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: i % 10 === 9 ? null : `key-${i % 7}`,
    value: `${label} ${i} ${'v'.repeat(i % 40)} é✓`,
    headers: { index: String(i), source: label },
  }));
}

/** Checks that `stored` (read back by another client) is exactly `sent` at the reported offsets. */
function expectStoredAsDelivered(
  sent: readonly OutgoingRecord[],
  deliveries: ReadonlyArray<{ error?: string | null; partition: number; offset: number }>,
  stored: ReadonlyArray<{ partition: number; offset: number; key: string | null; value: string | null; headers: Record<string, string | null> }>,
): void {
  expect(deliveries).toHaveLength(sent.length);
  expect(deliveries.filter((delivery) => delivery.error)).toEqual([]);
  expect(stored).toHaveLength(sent.length);
  const at = new Map(stored.map((record) => [`${record.partition}/${record.offset}`, record]));
  sent.forEach((record, i) => {
    const delivery = deliveries[i]!;
    expect(at.get(`${delivery.partition}/${delivery.offset}`), `record ${i}`).toEqual({
      partition: delivery.partition,
      offset: delivery.offset,
      key: record.key,
      value: record.value,
      headers: record.headers,
    });
  });
  // Per partition, the offsets follow the order the records were sent in, from 0 without gaps.
  for (const [partition, inPartition] of byPartition(deliveries)) {
    expect(inPartition.map((delivery) => delivery.offset), `partition ${partition}`).toEqual(inPartition.map((_, i) => i));
  }
}

/** The batches the broker stores for one partition, as a fetch from offset 0 returns them. */
async function storedBatches(topic: string, partition: number) {
  // A connection per call: a test may have restarted the broker since the last one.
  const wire = await WireClient.connect(broker.port);
  try {
    const response = await wire.request(fetchApi, 11, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10 * 1024 * 1024,
      topics: [{ topic, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 10 * 1024 * 1024 }] }],
      forgottenTopicsData: [],
    });
    return splitBatches(response.responses[0]!.partitions[0]!.records!);
  } finally {
    wire.destroy();
  }
}

/** One producer id for every batch and, per partition, sequences continuing each other from 0. */
async function expectOneIdempotentProducer(topic: string): Promise<void> {
  const producerIds = new Set<number>();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const batches = await storedBatches(topic, partition);
    expect(batches.length, `partition ${partition}`).toBeGreaterThan(1);
    let nextSequence = 0;
    for (const batch of batches) {
      producerIds.add(batch.producerId);
      expect(batch.baseSequence, `partition ${partition} batch at ${batch.baseOffset}`).toBe(nextSequence);
      nextSequence += batch.recordCount;
    }
  }
  expect(producerIds.size).toBe(1);
  expect([...producerIds][0]).toBeGreaterThanOrEqual(0);
}

/** Resolves once the topic's partitions hold at least `records` in all, and says how many. */
async function waitForRecords(topic: string, records: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
    const stored = offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
    if (stored >= records) return stored;
    if (Date.now() > deadline) throw new Error(`${topic} holds ${stored} records, waited for ${records}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(clients)('%s against the broker', (client) => {
  const slug = client.replace(/[^a-z]/g, '');

  it('bootstraps: metadata names this broker as controller, with the cluster id and every partition led by it', async () => {
    const topic = `py-${slug}-metadata`;
    await createTopic(topic);
    const clusterId = (await broker.waitForLog(/clusterId=(\S+)/))[1];
    const metadata = await pythonMetadata(client, broker.bootstrap, topic);
    expect(metadata.clusterId).toBe(clusterId);
    expect(metadata.controllerId).toBe(0);
    expect(metadata.brokers).toEqual([{ nodeId: 0, host: '127.0.0.1', port: broker.port }]);
    expect(metadata.topics).toEqual([
      {
        name: topic,
        errorCode: 0,
        partitions: [0, 1, 2].map((partition) => ({ partition, leader: 0, replicas: [0], isr: [0] })),
      },
    ]);
  });

  it.each(['1', 'all'] as const)('produces with acks=%s: every record stored at the offset its delivery reported', async (acks) => {
    const topic = `py-${slug}-acks-${acks}`;
    await createTopic(topic);
    const sent = outgoing(`${client} acks=${acks}`, 150);
    const { deliveries } = await pythonProduce(client, broker.bootstrap, topic, sent, { acks });
    expectStoredAsDelivered(sent, deliveries, await consumeWithKcat(broker.bootstrap, topic));
    expect(new Set(deliveries.map((delivery) => delivery.partition)).size).toBeGreaterThan(1);
  });

  it('consumes from the beginning every record kafkajs wrote: keys, values, headers, order and offsets per partition', async () => {
    const topic = `py-${slug}-consume`;
    await createTopic(topic);
    const sent = outgoing(`kafkajs for ${client}`, 200).map((record, i) => ({ ...record, partition: i % PARTITIONS }));
    const producer = kafka.producer();
    await producer.connect();
    try {
      // Several sends, so each partition holds several batches.
      for (let from = 0; from < sent.length; from += 50) {
        await producer.send({ topic, acks: -1, messages: sent.slice(from, from + 50) });
      }
    } finally {
      await producer.disconnect();
    }
    const consumed = await pythonConsume(client, broker.bootstrap, topic);
    expect(consumed).toHaveLength(sent.length);
    const received = byPartition(consumed);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const expected = sent
        .filter((record) => record.partition === partition)
        .map((record, offset) => ({ partition, offset, key: record.key, value: record.value, headers: record.headers }));
      expect(received.get(partition), `partition ${partition}`).toEqual(expected);
    }
  });

  it('a consumer group commits as it goes, and a second run after kill -9 and a restart resumes there: no record lost, none processed twice', async () => {
    const topic = `py-${slug}-group`;
    const group = `py-${slug}-group`;
    await createTopic(topic);
    const sent = outgoing(`group ${client}`, 120);
    const { deliveries } = await pythonProduce(client, broker.bootstrap, topic, sent, { acks: 'all' });
    const ends = new Map<number, number>();
    for (const delivery of deliveries) ends.set(delivery.partition, Math.max(ends.get(delivery.partition) ?? 0, delivery.offset + 1));

    const first = await pythonGroupRun(client, broker.bootstrap, topic, group, 45);
    expect(first.records).toHaveLength(45);
    // What the first run committed is, per partition, just past the last record it processed.
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const processed = first.records.filter((record) => record.partition === partition);
      expect(first.committed[String(partition)] ?? null, `partition ${partition}`).toBe(processed.length === 0 ? null : processed.at(-1)!.offset + 1);
    }

    // The offsets this client committed (with its own OffsetCommit version) survive a crash.
    await broker.kill9();
    await broker.restart();
    const second = await pythonGroupRun(client, broker.bootstrap, topic, group);
    const processed = [...first.records, ...second.records];
    const ids = processed.map((record) => `${record.partition}/${record.offset}`);
    expect(new Set(ids).size, 'a record processed twice').toBe(ids.length);
    expect(ids.sort()).toEqual(deliveries.map((delivery) => `${delivery.partition}/${delivery.offset}`).sort());
    expect(processed.map((record) => record.value).sort()).toEqual(sent.map((record) => record.value).sort());
    for (let partition = 0; partition < PARTITIONS; partition++) {
      expect(second.committed[String(partition)] ?? null, `partition ${partition}`).toBe(ends.get(partition) ?? null);
      // Each run reads a partition in offset order.
      for (const run of [first, second]) {
        const offsets = run.records.filter((record) => record.partition === partition).map((record) => record.offset);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
    }
  });
});

describe('kafka-python compression', () => {
  it('has every codec available (snappy, lz4 and zstd come from python3-snappy, python3-lz4, python3-zstandard)', async () => {
    expect(await kafkaPythonCodecs()).toEqual({ gzip: true, snappy: true, lz4: true, zstd: true });
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('produces %s batches the broker stores as such and kcat and kafka-python read back', async (codec) => {
    const topic = `py-kafkapython-${codec}`;
    await createTopic(topic);
    const sent = outgoing(`kafka-python ${codec}`, 200);
    const { deliveries } = await pythonProduce('kafka-python', broker.bootstrap, topic, sent, { acks: 'all', compression: codec });
    expectStoredAsDelivered(sent, deliveries, await consumeWithKcat(broker.bootstrap, topic));
    const readBack = await pythonConsume('kafka-python', broker.bootstrap, topic);
    expectStoredAsDelivered(sent, deliveries, readBack);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const batches = await storedBatches(topic, partition);
      expect(batches.length, `partition ${partition}`).toBeGreaterThan(0);
      expect(batches.every((batch) => batch.compression === codec), `partition ${partition}`).toBe(true);
    }
  });
});

describe('confluent-kafka idempotent producer', () => {
  it('stores each record once and in order, at the offsets its delivery reports gave, with many batches in flight', async () => {
    const topic = 'py-confluent-idempotent';
    await createTopic(topic);
    const sent = outgoing('confluent idempotent', 600);
    const { deliveries } = await pythonProduce('confluent-kafka', broker.bootstrap, topic, sent, {
      acks: 'all',
      idempotent: true,
      batchRecords: 20,
    });
    expectStoredAsDelivered(sent, deliveries, await consumeWithKcat(broker.bootstrap, topic));
    await expectOneIdempotentProducer(topic);
  });

  it('carries on through kill -9 and a restart of the broker: no record lost, none stored twice, order kept', async () => {
    const topic = 'py-confluent-idempotent-restart';
    await createTopic(topic);
    const sent = outgoing('confluent idempotent restart', 1500);
    const producing = pythonProduce('confluent-kafka', broker.bootstrap, topic, sent, {
      acks: 'all',
      idempotent: true,
      batchRecords: 10,
      paceMs: 2,
    });
    const storedBeforeKill = await waitForRecords(topic, 300);
    await broker.kill9();
    await broker.restart();
    const { deliveries } = await producing;
    expect(storedBeforeKill, 'the broker was killed only after every record was written').toBeLessThan(sent.length);
    expectStoredAsDelivered(sent, deliveries, await consumeWithKcat(broker.bootstrap, topic));
    await expectOneIdempotentProducer(topic);
  });
});
