// ListOffsets by timestamp inside one compressed batch, against the bundled broker with real
// clients: the answer must be the exact record (Kafka's offsetsForTimes), not the batch's first
// offset, for every codec. kafkajs writes batches with chosen timestamps (gzip, and snappy/lz4
// through the test codecs); kcat (librdkafka) writes all four codecs, zstd included, stamping
// each record with the wall clock as it reads its line.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchApi } from '../../broker/protocol/apis/01-fetch.js';
import { listOffsetsApi } from '../../broker/protocol/apis/02-list-offsets.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { splitBatches, type CompressionName } from '../../broker/storage/record-batch.js';
import { kafkaClient, type KafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';
import { registerKafkajsCodecs } from '../support/kafkajs-codecs.js';
import { kcatPath, runKcat } from '../support/kcat.js';

const { CompressionTypes } = kafkajs;
const RECORDS = 100;

let broker: BrokerProcess;
let kafka: KafkaClient;
let wire: WireClient;

beforeAll(async () => {
  registerKafkajsCodecs();
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
  wire = await WireClient.connect(broker.port);
});

afterAll(async () => {
  wire?.destroy();
  await broker?.dispose();
});

/** The topic's batches (partition 0) as the broker stores them. */
async function storedBatches(topic: string) {
  const response = await wire.request(fetchApi, 11, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10 * 1024 * 1024,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 10 * 1024 * 1024 }] }],
    forgottenTopicsData: [],
  });
  return splitBatches(response.responses[0]!.partitions[0]!.records!);
}

/** ListOffsets v1+ for `timestamp` on partition 0: the offset and the timestamp it answers with. */
async function listOffsets(topic: string, timestamp: number): Promise<{ offset: number; timestamp: number }> {
  const response = await wire.request(listOffsetsApi, 4, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: BigInt(timestamp) }] }],
  });
  const partition = response.topics[0]!.partitions[0]!;
  expect(partition.errorCode).toBe(ErrorCode.NONE);
  return { offset: Number(partition.offset), timestamp: Number(partition.timestamp) };
}

async function kafkajsOffsetFor(topic: string, timestamp: number): Promise<number> {
  const [partition] = await withAdmin(kafka, (admin) => admin.fetchTopicOffsetsByTimestamp(topic, timestamp));
  return Number(partition!.offset);
}

/** kcat's own offsetsForTimes (-o s@T), then the first record it reads: "offset timestamp". */
async function kcatFirstRecordAt(topic: string, timestamp: number): Promise<{ offset: number; timestamp: number }> {
  const result = await runKcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', '0', '-o', `s@${timestamp}`, '-c', '1', '-e', '-q', '-f', '%o %T\n']);
  expect(result.exitCode, result.stderr).toBe(0);
  const [offset, at] = result.stdout.trim().split(' ').map(Number);
  return { offset: offset!, timestamp: at! };
}

describe('ListOffsets by timestamp inside a kafkajs batch', () => {
  const base = 1_700_000_000_000;
  const codecs = [
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
  ] as const;

  it.each(codecs)('%s: answers the first record at or after the timestamp', async (codec, compression) => {
    const topic = `by-time-kafkajs-${codec}`;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      compression,
      messages: Array.from({ length: RECORDS }, (_, i) => ({ value: `${codec} ${i}`, timestamp: String(base + 10 * i) })),
    });
    await producer.disconnect();

    const batches = await storedBatches(topic);
    expect(batches.map((batch) => [batch.compression, batch.recordCount])).toEqual([[codec, RECORDS]]);
    // Between records 55 (base+550) and 56 (base+560); and exactly on record 80.
    expect(await listOffsets(topic, base + 555)).toEqual({ offset: 56, timestamp: base + 560 });
    expect(await listOffsets(topic, base + 800)).toEqual({ offset: 80, timestamp: base + 800 });
    expect(await listOffsets(topic, base + 991)).toEqual({ offset: -1, timestamp: -1 });
    expect(await kafkajsOffsetFor(topic, base + 555)).toBe(56);
    expect(await kcatFirstRecordAt(topic, base + 555)).toEqual({ offset: 56, timestamp: base + 560 });
  });
});

/**
 * Produces RECORDS lines with kcat, a few ms apart so their timestamps differ. librdkafka holds
 * a batch for linger.ms even at end of input, so the linger is long enough for all the lines
 * (a few hundred ms) and no longer.
 */
async function produceSlowlyWithKcat(topic: string, codec: CompressionName): Promise<void> {
  const args = ['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-z', codec];
  const child = spawn(kcatPath, [...args, '-X', 'linger.ms=1500', '-X', 'batch.num.messages=1000'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  for (let i = 0; i < RECORDS; i++) {
    child.stdin.write(`${codec} record ${i} ${'z'.repeat(i)}\n`);
    await sleep(2);
  }
  child.stdin.end();
  expect(await exited, stderr).toBe(0);
}

describe('ListOffsets by timestamp inside a kcat (librdkafka) batch', () => {
  const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

  beforeAll(async () => {
    await Promise.all(codecs.map((codec) => produceSlowlyWithKcat(`by-time-kcat-${codec}`, codec)));
  });

  it.each(codecs)('%s: answers the first record at or after the timestamp', async (codec) => {
    const topic = `by-time-kcat-${codec}`;

    const batches = await storedBatches(topic);
    expect(batches.map((batch) => [batch.compression, batch.recordCount])).toEqual([[codec, RECORDS]]);
    const read = await runKcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%T\n']);
    const stamps = read.stdout.trim().split('\n').map(Number);
    expect(stamps).toHaveLength(RECORDS);

    const target = stamps[RECORDS / 2]!;
    const offset = stamps.findIndex((stamp) => stamp >= target);
    // The batch's first offset or its max timestamp would be the wrong answer here.
    expect(offset).toBeGreaterThan(0);
    expect(target).toBeLessThan(stamps[RECORDS - 1]!);
    expect(await listOffsets(topic, target)).toEqual({ offset, timestamp: target });
    expect(await kafkajsOffsetFor(topic, target)).toBe(offset);
    expect(await kcatFirstRecordAt(topic, target)).toEqual({ offset, timestamp: target });
  });
});
