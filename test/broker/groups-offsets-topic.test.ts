// `__consumer_offsets` on a real broker process: a busy committer makes the coordinator
// rewrite the partition's live records and drop the older copies, and every group stored in
// that partition keeps its committed offsets — also after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetsPartitionFor } from '../../broker/coordinator/offsets-records.js';
import { listOffsetsApi } from '../../broker/protocol/apis/02-list-offsets.js';
import { offsetCommitApi } from '../../broker/protocol/apis/08-offset-commit.js';
import { offsetFetchApi } from '../../broker/protocol/apis/09-offset-fetch.js';
import { findCoordinatorApi } from '../../broker/protocol/apis/10-find-coordinator.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { kafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

const TOPIC = 'offsets-topic-test';
const BUSY = 'busy-committer';
const PARTITION = offsetsPartitionFor(BUSY, 50);
/** Another group whose records live in the same `__consumer_offsets` partition. */
const NEIGHBOUR = Array.from({ length: 1000 }, (_, i) => `neighbour-${i}`).find((g) => offsetsPartitionFor(g, 50) === PARTITION)!;
const COMMITS = 1500;

let broker: BrokerProcess;
let client: WireClient;

beforeAll(async () => {
  broker = await startBroker();
  await withAdmin(kafkaClient(broker.bootstrap), (admin) => admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }] }));
  client = await WireClient.connect(broker.port);
});

afterAll(async () => {
  client?.destroy();
  await broker?.dispose();
});

async function commit(groupId: string, partitionIndex: number, offset: bigint): Promise<void> {
  const response = await client.request(offsetCommitApi, 2, {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    retentionTimeMs: -1n,
    topics: [{ name: TOPIC, partitions: [{ partitionIndex, committedOffset: offset, committedMetadata: null }] }],
  });
  expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function committed(groupId: string): Promise<bigint[]> {
  const response = await client.request(offsetFetchApi, 3, { groupId, topics: [{ name: TOPIC, partitionIndexes: [0, 1, 2] }] });
  return response.topics[0]!.partitions.map((p) => p.committedOffset);
}

async function offsetsPartitionBounds(): Promise<{ start: bigint; end: bigint }> {
  const at = async (timestamp: bigint) => {
    const response = await client.request(listOffsetsApi, 1, {
      replicaId: -1,
      topics: [{ name: '__consumer_offsets', partitions: [{ partitionIndex: PARTITION, timestamp }] }],
    });
    return response.topics[0]!.partitions[0]!.offset;
  };
  return { start: await at(-2n), end: await at(-1n) };
}

describe('__consumer_offsets upkeep', () => {
  it('drops superseded commits while keeping every group’s latest offsets, across a restart', async () => {
    expect((await client.request(findCoordinatorApi, 1, { key: BUSY, keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
    await commit(NEIGHBOUR, 2, 77n);
    for (let i = 1; i <= COMMITS; i++) await commit(BUSY, i % 2, BigInt(i));

    const bounds = await offsetsPartitionBounds();
    expect(bounds.end).toBeGreaterThanOrEqual(BigInt(COMMITS + 1));
    // Older copies were dropped: far fewer records remain than were written.
    expect(bounds.start).toBeGreaterThan(0n);
    expect(bounds.end - bounds.start).toBeLessThan(BigInt(COMMITS / 2));

    const expectedBusy = [BigInt(COMMITS), BigInt(COMMITS - 1), -1n];
    expect(await committed(BUSY)).toEqual(expectedBusy);
    expect(await committed(NEIGHBOUR)).toEqual([-1n, -1n, 77n]);

    client.destroy();
    await broker.stop();
    await broker.restart();
    client = await WireClient.connect(broker.port);
    expect((await client.request(findCoordinatorApi, 1, { key: BUSY, keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
    expect(await committed(BUSY)).toEqual(expectedBusy);
    expect(await committed(NEIGHBOUR)).toEqual([-1n, -1n, 77n]);
  });
});
