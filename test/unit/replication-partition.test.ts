// A leader's view of its followers (broker/replication/partition.ts), on a real log: the high
// watermark over the ISR, and who may join the ISR right after a leader change.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionState } from '../../broker/controller/cluster/image.js';
import { Partition } from '../../broker/replication/partition.js';
import { defaultLogConfig, PartitionLog } from '../../broker/storage/partition-log.js';
import { buildBatch } from '../../broker/storage/record-batch.js';

let dir: string;
let log: PartitionLog;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'klab-partition-'));
  log = await PartitionLog.open(path.join(dir, 'orders-0'), defaultLogConfig);
  await log.append(buildBatch(Array.from({ length: 10 }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) }))), { leaderEpoch: 3 });
});

afterEach(async () => {
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

const state = (isr: number[]): PartitionState => ({ topicId: '00000000-0000-4000-8000-000000000001', partitionIndex: 0, replicas: [0, 1, 2], isr, leader: 0, leaderEpoch: 4, partitionEpoch: 7 });

describe('a new leader and its followers', () => {
  it('admits a follower to the ISR only once it has reached where the leadership began, not just the high watermark', () => {
    // Broker 0 took over with 10 records and a high watermark of 5 from its checkpoint.
    const partition = new Partition('orders', 0, 'orders-0', log, 0, state([0, 1]), 5, Date.now());
    expect(partition.highWatermark).toBe(5);
    // Before the leadership is fully taken over, nobody joins.
    partition.recordFollowerFetch(2, 10, Date.now());
    expect(partition.canJoinIsr(2)).toBe(false);
    partition.setEpochStartOffset(10);
    // Broker 2 fetched from 6: past the high watermark, short of what broker 0 had when it took over.
    partition.recordFollowerFetch(2, 6, Date.now());
    expect(partition.canJoinIsr(2)).toBe(false);
    partition.recordFollowerFetch(2, 10, Date.now());
    expect(partition.canJoinIsr(2)).toBe(true);
  });

  it('moves the high watermark to the lowest log end of the ISR once every member has fetched', () => {
    const partition = new Partition('orders', 0, 'orders-0', log, 0, state([0, 1, 2]), 0, Date.now());
    expect(partition.recordFollowerFetch(1, 8, Date.now())).toBe(false);
    expect(partition.highWatermark).toBe(0);
    expect(partition.recordFollowerFetch(2, 6, Date.now())).toBe(true);
    expect(partition.highWatermark).toBe(6);
    partition.recordFollowerFetch(2, 10, Date.now());
    expect(partition.highWatermark).toBe(8);
  });
});
