// Producer ids come from blocks the active controller records in the metadata log: kafkajs
// idempotent producers on one broker get distinct ids, a broker killed and restarted hands out
// ids above every earlier one, a data dir from before the metadata quorum never goes below its
// old producer-ids.json, and the three brokers of a cluster never hand out the same id.
// The ids kafkajs was given are read back from the batches it wrote (a v2 batch header
// carries its producer id).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PRODUCER_ID_BLOCK_SIZE } from '../../broker/controller/cluster/producer-id-decisions.js';
import { fetchApi } from '../../broker/protocol/apis/01-fetch.js';
import { initProducerIdApi } from '../../broker/protocol/apis/22-init-producer-id.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { splitBatches } from '../../broker/storage/record-batch.js';
import { kafkaClient, withAdmin, type KafkaClient } from '../support/broker-clients.js';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

const topic = 'producer-ids';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function broker(dataDir?: string): Promise<BrokerProcess> {
  const started = await startBroker(dataDir === undefined ? {} : { dataDir });
  cleanups.push(() => started.dispose());
  return started;
}

/** Sends one message with a fresh kafkajs idempotent producer. */
async function produceIdempotently(kafka: KafkaClient, value: string): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }] });
  } finally {
    await producer.disconnect();
  }
}

/** The producer id of every batch in partition 0 of the topic, in offset order. */
async function producerIdsInLog(port: number): Promise<number[]> {
  const client = await WireClient.connect(port);
  try {
    const response = await client.request(fetchApi, 11, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10 * 1024 * 1024,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 10 * 1024 * 1024 }] }],
      forgottenTopicsData: [],
    });
    const partition = response.responses[0]!.partitions[0]!;
    expect(partition.errorCode).toBe(ErrorCode.NONE);
    return splitBatches(partition.records!).map((batch) => batch.producerId);
  } finally {
    client.destroy();
  }
}

async function initProducerId(port: number): Promise<number> {
  const client = await WireClient.connect(port);
  try {
    const response = await client.request(initProducerIdApi, 1, { transactionalId: null, transactionTimeoutMs: 60_000 });
    expect(response.errorCode).toBe(ErrorCode.NONE);
    return Number(response.producerId);
  } finally {
    client.destroy();
  }
}

describe('producer ids on one broker', () => {
  it('gives two idempotent producers different ids, and after a kill -9 and restart an id above every earlier one', async () => {
    const single = await broker();
    const kafka = kafkaClient(single.bootstrap);
    await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }));

    await produceIdempotently(kafka, 'first');
    await produceIdempotently(kafka, 'second');
    const before = await producerIdsInLog(single.port);
    expect(before).toHaveLength(2);
    expect(new Set(before).size).toBe(2);
    expect(before.every((id) => id >= 0)).toBe(true);

    await single.kill9();
    await single.restart();
    await produceIdempotently(kafkaClient(single.bootstrap), 'after the crash');
    const after = await producerIdsInLog(single.port);
    expect(after.slice(0, 2)).toEqual(before);
    expect(after).toHaveLength(3);
    expect(after[2]!).toBeGreaterThan(Math.max(...before));
  });

  it('never hands out an id below what an old producer-ids.json in the data dir reserved', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'klab-legacy-producer-ids-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    await writeFile(path.join(dataDir, 'producer-ids.json'), '{"version":1,"nextBlockStart":2500}\n');
    const legacy = await broker(dataDir);

    const first = await initProducerId(legacy.port);
    const second = await initProducerId(legacy.port);
    expect(first).toBeGreaterThanOrEqual(2500);
    expect(second).toBeGreaterThan(first);
    expect(legacy.logs()).toMatch(/skipping a producer id block below the ids this data dir reserved/);
  });
});

describe('producer ids in a three-broker cluster', () => {
  it('are distinct whichever broker hands them out, the controller or the others', async () => {
    const cluster: Cluster = await startCluster();
    cleanups.push(() => cluster.dispose());
    for (const member of cluster.brokers) await cluster.waitReady(member.nodeId);

    const idsByBroker = new Map<number, number[]>(cluster.brokers.map((member) => [member.nodeId, []]));
    for (let round = 0; round < 2; round++) {
      for (const member of cluster.brokers) idsByBroker.get(member.nodeId)!.push(await initProducerId(Number(member.externalBootstrap.split(':')[1])));
    }
    const ids = [...idsByBroker.values()].flat();
    expect(new Set(ids).size).toBe(6);
    // Each broker hands out consecutive ids from a block of its own.
    for (const [first, second] of idsByBroker.values()) expect(second).toBe(first! + 1);
    const blocks = [...idsByBroker.values()].map(([first]) => Math.floor(first! / PRODUCER_ID_BLOCK_SIZE));
    expect(new Set(blocks).size).toBe(3);

    // Requests arriving together at every broker still never share an id.
    const burst = await Promise.all(cluster.brokers.flatMap((member) => Array.from({ length: 10 }, () => initProducerId(Number(member.externalBootstrap.split(':')[1])))));
    expect(new Set([...ids, ...burst]).size).toBe(ids.length + burst.length);
  });
});
