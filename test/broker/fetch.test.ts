// Fetch semantics over the wire: long polls woken by appends, responses kept in request
// order on a pipelined connection even when a later request finishes first, byte limits that
// still return the first batch whole, and out-of-range offsets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiVersionsApi } from '../../broker/protocol/apis/18-api-versions.js';
import { fetchApi } from '../../broker/protocol/apis/01-fetch.js';
import { decodeResponse } from '../../broker/protocol/header.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { splitBatches } from '../../broker/storage/record-batch.js';
import { kafkaClient, type KafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

let broker: BrokerProcess;
let kafka: KafkaClient;

beforeAll(async () => {
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
  await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic: 'polled' }, { topic: 'sized' }] }));
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 10; i++) {
    await producer.send({ topic: 'sized', messages: [{ value: `batch ${i} ${'s'.repeat(1000)}` }] });
  }
  await producer.disconnect();
});

afterAll(async () => {
  await broker?.dispose();
});

function fetchBody(topic: string, fetchOffset: bigint, limits: { maxWaitMs: number; minBytes: number; maxBytes?: number; partitionMaxBytes?: number }) {
  return {
    maxWaitMs: limits.maxWaitMs,
    minBytes: limits.minBytes,
    maxBytes: limits.maxBytes ?? 10 * 1024 * 1024,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: limits.partitionMaxBytes ?? 1024 * 1024 }] }],
    forgottenTopicsData: [],
  };
}

describe('fetch', () => {
  it('wakes a long poll when a record arrives, and keeps pipelined responses in request order', async () => {
    const client = await WireClient.connect(broker.port);
    // If no append woke it, this fetch would answer empty after 20 s and the test would fail on content.
    const fetchId = client.sendRequest(fetchApi, 11, fetchBody('polled', 0n, { maxWaitMs: 20_000, minBytes: 1 }));
    const versionsId = client.sendRequest(apiVersionsApi, 2, {});
    await new Promise((resolve) => setTimeout(resolve, 200));

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'polled', messages: [{ value: 'wake up' }] });
    await producer.disconnect();

    const first = await client.next();
    const second = await client.next();
    expect(first.kind).toBe('frame');
    expect(second.kind).toBe('frame');
    const fetched = decodeResponse(fetchApi, 11, (first as { frame: Buffer }).frame);
    expect(fetched.correlationId).toBe(fetchId);
    expect(decodeResponse(apiVersionsApi, 2, (second as { frame: Buffer }).frame).correlationId).toBe(versionsId);
    const partition = fetched.body.responses[0]!.partitions[0]!;
    expect(partition.errorCode).toBe(ErrorCode.NONE);
    expect(partition.highWatermark).toBe(1n);
    expect(splitBatches(partition.records!).map((batch) => batch.recordCount)).toEqual([1]);
    client.destroy();
  });

  it('returns whole batches within maxBytes, and the first batch whole even when it is larger', async () => {
    const client = await WireClient.connect(broker.port);
    const tiny = await client.request(fetchApi, 11, fetchBody('sized', 0n, { maxWaitMs: 0, minBytes: 0, partitionMaxBytes: 1 }));
    const tinyBatches = splitBatches(tiny.responses[0]!.partitions[0]!.records!);
    expect(tinyBatches.map((batch) => batch.baseOffset)).toEqual([0]);

    const some = await client.request(fetchApi, 11, fetchBody('sized', 2n, { maxWaitMs: 0, minBytes: 0, maxBytes: 3_500 }));
    const partition = some.responses[0]!.partitions[0]!;
    const batches = splitBatches(partition.records!);
    expect(batches.map((batch) => batch.baseOffset)).toEqual([2, 3, 4]);
    expect(partition.records!.length).toBeLessThanOrEqual(3_500);
    expect(partition.highWatermark).toBe(10n);
    expect(partition.logStartOffset).toBe(0n);
    client.destroy();
  });

  it('answers OFFSET_OUT_OF_RANGE past the end and UNKNOWN_TOPIC_OR_PARTITION for a missing topic', async () => {
    const client = await WireClient.connect(broker.port);
    const past = await client.request(fetchApi, 11, fetchBody('sized', 11n, { maxWaitMs: 0, minBytes: 0 }));
    expect(past.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const missing = await client.request(fetchApi, 11, fetchBody('absent', 0n, { maxWaitMs: 5_000, minBytes: 1 }));
    expect(missing.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    client.destroy();
  });

  it('answers thousands of pipelined requests in order, even from a client that reads nothing until it has sent them all', async () => {
    const client = await WireClient.connect(broker.port);
    client.pauseReading();
    const ids: number[] = [];
    for (let i = 0; i < 3_000; i++) {
      ids.push(client.sendRequest(fetchApi, 11, fetchBody('sized', BigInt(i % 10), { maxWaitMs: 0, minBytes: 0 })));
    }
    // Roughly 30 MB of responses wait for this reader; the broker must pause, not drop or reorder.
    await new Promise((resolve) => setTimeout(resolve, 500));
    client.resumeReading();
    for (const id of ids) {
      const next = await client.next();
      expect(next.kind).toBe('frame');
      expect(decodeResponse(fetchApi, 11, (next as { frame: Buffer }).frame).correlationId).toBe(id);
    }
    client.destroy();
  });
});
