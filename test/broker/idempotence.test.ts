// Idempotent producers against a real broker process: kafkajs's idempotent producer, and raw
// Produce requests (built with the broker's protocol schemas and storage's batch builder) that
// resend a batch, skip a sequence or use a stale epoch — before and after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initProducerIdApi } from '../../broker/protocol/apis/22-init-producer-id.js';
import { listOffsetsApi } from '../../broker/protocol/apis/02-list-offsets.js';
import { produceApi } from '../../broker/protocol/apis/00-produce.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { buildBatch } from '../../broker/storage/record-batch.js';
import { consumeWithKcat, kafkaClient, type KafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

let broker: BrokerProcess;
let kafka: KafkaClient;

beforeAll(async () => {
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
  await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic: 'idempotent-kafkajs', numPartitions: 3 }, { topic: 'idempotent-raw', numPartitions: 1 }] }));
});

afterAll(async () => {
  await broker?.dispose();
});

async function withWire<T>(task: (client: WireClient) => Promise<T>): Promise<T> {
  const client = await WireClient.connect(broker.port);
  try {
    return await task(client);
  } finally {
    client.destroy();
  }
}

async function initProducerId(client: WireClient): Promise<bigint> {
  const response = await client.request(initProducerIdApi, 1, { transactionalId: null, transactionTimeoutMs: 60_000 });
  expect(response.errorCode).toBe(ErrorCode.NONE);
  expect(response.producerEpoch).toBe(0);
  return response.producerId;
}

function producerBatch(producerId: bigint, producerEpoch: number, baseSequence: number, values: string[]): Buffer {
  return buildBatch(
    values.map((value) => ({ key: null, value: Buffer.from(value) })),
    { producerId: Number(producerId), producerEpoch, baseSequence },
  );
}

async function produce(client: WireClient, records: Buffer): Promise<{ errorCode: number; baseOffset: bigint }> {
  const response = await client.request(produceApi, 7, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: 'idempotent-raw', partitionData: [{ index: 0, records }] }],
  });
  const partition = response.responses[0]!.partitionResponses[0]!;
  return { errorCode: partition.errorCode, baseOffset: partition.baseOffset };
}

async function logEndOffset(client: WireClient): Promise<bigint> {
  const response = await client.request(listOffsetsApi, 1, {
    replicaId: -1,
    topics: [{ name: 'idempotent-raw', partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
  });
  return response.topics[0]!.partitions[0]!.offset;
}

describe('idempotent producer', () => {
  it('kafkajs idempotent producer: every message stored exactly once', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent: string[] = [];
    for (let round = 0; round < 5; round++) {
      const messages = Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 6}`, value: `round ${round} message ${i}` }));
      await producer.send({ topic: 'idempotent-kafkajs', acks: -1, messages });
      sent.push(...messages.map((m) => m.value));
    }
    await producer.disconnect();
    const stored = await consumeWithKcat(broker.bootstrap, 'idempotent-kafkajs');
    expect(stored.map((r) => r.value).sort()).toEqual([...sent].sort());
  });

  it('hands out a new producer id to every idempotent producer, and refuses transactional ids', async () => {
    await withWire(async (client) => {
      const first = await initProducerId(client);
      const second = await initProducerId(client);
      expect(second).not.toBe(first);
      const transactional = await client.request(initProducerIdApi, 1, { transactionalId: 'tx-1', transactionTimeoutMs: 60_000 });
      expect(transactional.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    });
  });

  it('acknowledges a resent batch with its original offset, stores it once, and rejects gaps and stale epochs — also after a restart', async () => {
    const producerId = await withWire(initProducerId);
    const first = producerBatch(producerId, 0, 0, ['a0', 'a1', 'a2']);
    const second = producerBatch(producerId, 0, 3, ['b0', 'b1']);

    const stored = await withWire(async (client) => {
      const original = await produce(client, Buffer.from(first));
      expect(original.errorCode).toBe(ErrorCode.NONE);
      const next = await produce(client, Buffer.from(second));
      expect(next).toEqual({ errorCode: ErrorCode.NONE, baseOffset: original.baseOffset + 3n });

      // The retry of the first batch (same producer id, epoch and sequences): same offset, nothing appended.
      expect(await produce(client, Buffer.from(first))).toEqual(original);
      expect(await logEndOffset(client)).toBe(original.baseOffset + 5n);

      // A gap in the sequence is refused, and nothing of it is stored.
      const gap = await produce(client, producerBatch(producerId, 0, 9, ['gap']));
      expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      expect(await logEndOffset(client)).toBe(original.baseOffset + 5n);
      return original;
    });

    await broker.stop();
    await broker.restart();

    await withWire(async (client) => {
      // The producer state was rebuilt from the log: the retry is still recognised.
      expect(await produce(client, Buffer.from(first))).toEqual(stored);
      expect(await produce(client, Buffer.from(second))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: stored.baseOffset + 3n });
      expect((await produce(client, producerBatch(producerId, 0, 7, ['gap']))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      // The sequence continues where it left off.
      expect(await produce(client, producerBatch(producerId, 0, 5, ['c0']))).toEqual({
        errorCode: ErrorCode.NONE,
        baseOffset: stored.baseOffset + 5n,
      });
      // A new epoch starts at sequence 0; after it, the old epoch is fenced.
      expect((await produce(client, producerBatch(producerId, 1, 0, ['d0']))).errorCode).toBe(ErrorCode.NONE);
      expect((await produce(client, producerBatch(producerId, 0, 6, ['stale']))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
      // Producer ids issued after the restart never repeat one issued before it.
      expect(await initProducerId(client)).toBeGreaterThan(producerId);
    });

    const values = (await consumeWithKcat(broker.bootstrap, 'idempotent-raw')).map((r) => r.value);
    expect(values).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'c0', 'd0']);
  });
});
