// The storage a follower replica needs: copying the leader's batches unchanged, the leader-epoch
// cache (KIP-101) through leader changes, truncation and restarts, reads bounded by maxOffset,
// and restarting an empty log at the leader's start offset. Leader and follower are two real
// logs in one temporary directory; the follower copies what the leader's read returns.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError, StorageErrorCode } from '../../broker/storage/errors.js';
import { LEADER_EPOCH_FILE } from '../../broker/storage/leader-epoch-cache.js';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../broker/storage/partition-log.js';
import { buildBatch, decodeRecords, splitBatches } from '../../broker/storage/record-batch.js';
import { kafkajsBatch } from '../support/storage-batches.js';
import { RecordingLogger } from '../support/quorum-voters.js';
import { rejectionOf } from '../support/thrown.js';

let root: string;
let logger: RecordingLogger;
const opened: PartitionLog[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'klab-follower-'));
  logger = new RecordingLogger();
});

afterEach(async () => {
  for (const log of opened.splice(0)) await log.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function openLog(name: string, config: Partial<LogConfig> = {}, clock?: () => number): Promise<PartitionLog> {
  const log = await PartitionLog.open(join(root, name), { ...defaultLogConfig, ...config }, { logger, ...(clock ? { clock } : {}) });
  opened.push(log);
  return log;
}

async function reopen(log: PartitionLog, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
  await log.close();
  return openLog(log.name, config);
}

const rejection = (promise: Promise<unknown>): Promise<StorageError> => rejectionOf(StorageError, promise);

function batchOf(prefix: string, count: number, options: { baseOffset?: number; epoch?: number; size?: number } = {}): Buffer {
  return buildBatch(
    Array.from({ length: count }, (_, i) => ({
      value: Buffer.from(`${prefix}${i}`.padEnd(options.size ?? 0, '.')),
      timestamp: 1_700_000_000_000 + i,
    })),
    { baseOffset: options.baseOffset ?? 0, partitionLeaderEpoch: options.epoch ?? 0 },
  );
}

/** Every stored byte from `from` to the log end, fetched the way a replica fetcher would. */
async function readBytes(log: PartitionLog, from = log.logStartOffset, maxBytes = 1 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let next = from;
  while (next < log.logEndOffset) {
    const bytes = await log.read(next, maxBytes);
    const batches = splitBatches(bytes);
    expect(batches.length).toBeGreaterThan(0);
    parts.push(bytes);
    next = batches[batches.length - 1]!.nextOffset;
  }
  return Buffer.concat(parts);
}

/** Copies the leader's log into the follower, one fetch of up to `maxBytes` at a time. */
async function replicate(leader: PartitionLog, follower: PartitionLog, maxBytes = 1 << 20): Promise<void> {
  while (follower.logEndOffset < leader.logEndOffset) {
    await follower.appendAsFollower(await leader.read(follower.logEndOffset, maxBytes));
  }
}

async function checkpointOf(log: PartitionLog): Promise<string> {
  return readFile(join(log.dir, LEADER_EPOCH_FILE), 'utf8');
}

function valuesOf(bytes: Buffer): string[] {
  return splitBatches(bytes).flatMap((batch) => decodeRecords(batch).map((record) => record.value?.toString() ?? 'null'));
}

describe('appendAsFollower', () => {
  it("keeps the leader's offsets, epochs, timestamps and CRCs byte for byte, across segment rolls", async () => {
    const leader = await openLog('leader-0', { timestampType: 'LogAppendTime' }, () => 1_800_000_000_000);
    // A follower with other settings and another clock must still store the leader's bytes.
    const follower = await openLog('follower-0', { timestampType: 'LogAppendTime', segmentBytes: 1500 }, () => 1_900_000_000_000);
    for (const [i, compression] of (['none', 'gzip', 'snappy', 'lz4'] as const).entries()) {
      const messages = Array.from({ length: 8 }, (_, m) => ({
        key: `k${m}`,
        value: `${compression}-${m}`.repeat(10),
        timestamp: 1_700_000_000_000 + m,
      }));
      await leader.append(await kafkajsBatch(messages, { compression }), { leaderEpoch: i < 2 ? 3 : 4 });
    }
    await leader.append(batchOf('plain', 5, { size: 300 }), { leaderEpoch: 4 });

    await replicate(leader, follower, 900);
    const leaderBytes = await readBytes(leader);
    const followerBytes = await readBytes(follower);
    expect(followerBytes.equals(leaderBytes)).toBe(true);
    expect(follower.segmentCount).toBeGreaterThan(1);
    const batches = splitBatches(followerBytes);
    expect(batches.map((batch) => [batch.baseOffset, batch.partitionLeaderEpoch, batch.maxTimestamp])).toEqual([
      [0, 3, 1_800_000_000_000],
      [8, 3, 1_800_000_000_000],
      [16, 4, 1_800_000_000_000],
      [24, 4, 1_800_000_000_000],
      [32, 4, 1_800_000_000_000],
    ]);
    expect(batches.every((batch) => batch.hasValidCrc())).toBe(true);
    expect(follower.logEndOffset).toBe(37);
    expect(follower.epochEntries()).toEqual(leader.epochEntries());

    const again = await reopen(follower, { segmentBytes: 1500 });
    expect((await readBytes(again)).equals(leaderBytes)).toBe(true);
  });

  it('answers with the offsets it stored and no LogAppendTime of its own', async () => {
    const follower = await openLog('follower-0');
    const records = Buffer.concat([batchOf('a', 3, { epoch: 2 }), batchOf('b', 2, { baseOffset: 3, epoch: 2 })]);
    const result = await follower.appendAsFollower(records);
    expect(result).toEqual({ baseOffset: 0, lastOffset: 4, logAppendTime: -1, logStartOffset: 0, duplicate: false });
    expect(valuesOf(await follower.read(0, 1 << 20))).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
  });

  it('rejects a gap or an overlap with the log end, naming the partition and both offsets, and stores nothing', async () => {
    const follower = await openLog('events-3');
    await follower.appendAsFollower(batchOf('a', 5));

    const gap = await rejection(follower.appendAsFollower(batchOf('g', 2, { baseOffset: 7 })));
    expect(gap.kafkaErrorCode).toBe(StorageErrorCode.INVALID_RECORD);
    expect(gap.message).toContain('events-3');
    expect(gap.message).toMatch(/starts at offset 7 but must start at the log end offset 5 \(a gap\)/);

    const overlap = await rejection(follower.appendAsFollower(batchOf('o', 2, { baseOffset: 3 })));
    expect(overlap.kafkaErrorCode).toBe(StorageErrorCode.INVALID_RECORD);
    expect(overlap.message).toMatch(/events-3: .*starts at offset 3 but must start at the log end offset 5 \(an overlap\)/);

    // The second batch of one fetch must follow the first.
    const inner = await rejection(
      follower.appendAsFollower(Buffer.concat([batchOf('c', 2, { baseOffset: 5 }), batchOf('d', 2, { baseOffset: 9 })])),
    );
    expect(inner.message).toMatch(/batch 1 starts at offset 9 but must start at offset 7, right after batch 0 \(a gap\)/);

    expect(follower.logEndOffset).toBe(5);
    expect(valuesOf(await readBytes(follower))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
  });

  it('applies max.message.bytes and rejects corrupt bytes', async () => {
    const follower = await openLog('follower-0', { maxMessageBytes: 500 });
    const big = await rejection(follower.appendAsFollower(batchOf('big', 4, { size: 200 })));
    expect(big.kafkaErrorCode).toBe(StorageErrorCode.MESSAGE_TOO_LARGE);
    const corrupt = batchOf('c', 2);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    expect((await rejection(follower.appendAsFollower(corrupt))).kafkaErrorCode).toBe(StorageErrorCode.CORRUPT_MESSAGE);
    expect(follower.logEndOffset).toBe(0);
  });

  it('records producer state, so as leader it answers a retried idempotent batch and continues the sequence', async () => {
    const leader = await openLog('leader-0');
    const follower = await openLog('follower-0');
    const messages = (from: number) => [0, 1, 2].map((i) => ({ value: `p${from + i}`, timestamp: 1_700_000_000_000 + from + i }));
    const first = await kafkajsBatch(messages(0), { producerId: 42, producerEpoch: 0, firstSequence: 0 });
    const retry = Buffer.from(first);
    await leader.append(batchOf('plain', 2), { leaderEpoch: 1 });
    await leader.append(first, { leaderEpoch: 1 });
    await replicate(leader, follower);

    // The follower is promoted: the producer retries its batch against it.
    expect(await follower.append(retry, { leaderEpoch: 2 })).toMatchObject({ baseOffset: 2, lastOffset: 4, duplicate: true });
    expect(follower.logEndOffset).toBe(5);
    const skipped = await kafkajsBatch(messages(6), { producerId: 42, producerEpoch: 0, firstSequence: 6 });
    const outOfOrder = await rejection(follower.append(skipped, { leaderEpoch: 2 }));
    expect(outOfOrder.message).toContain('producer 42 sent sequence 6, expected 3');
    const next = await kafkajsBatch(messages(3), { producerId: 42, producerEpoch: 0, firstSequence: 3 });
    expect(await follower.append(next, { leaderEpoch: 2 })).toMatchObject({ baseOffset: 5, lastOffset: 7, duplicate: false });
  });
});

describe('leader-epoch cache', () => {
  it('starts an entry at the first batch of each newer epoch, as leader and as follower', async () => {
    const leader = await openLog('leader-0');
    expect(leader.latestEpoch).toBe(-1);
    expect(leader.epochEntries()).toEqual([]);
    await leader.append(batchOf('a', 3), { leaderEpoch: 0 });
    await leader.append(batchOf('b', 2), { leaderEpoch: 0 });
    await leader.append(batchOf('c', 4), { leaderEpoch: 2 });
    await leader.append(batchOf('d', 1), { leaderEpoch: 5 });
    await leader.append(batchOf('e', 2), { leaderEpoch: 5 });
    const expected = [
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 5 },
      { epoch: 5, startOffset: 9 },
    ];
    expect(leader.epochEntries()).toEqual(expected);
    expect(leader.latestEpoch).toBe(5);
    expect(await readFile(join(root, 'leader-0', LEADER_EPOCH_FILE), 'utf8')).toBe('0\n3\n0 0\n2 5\n5 9\n');

    const follower = await openLog('follower-0');
    await replicate(leader, follower, 200);
    expect(follower.epochEntries()).toEqual(expected);
  });

  it('starts a new leader\'s epoch at the log end when it takes over, durably, before any append in it', async () => {
    const log = await openLog('takeover-0');
    await log.append(batchOf('a', 3), { leaderEpoch: 0 });
    await log.beginLeaderEpoch(4);
    expect(log.epochEntries()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 4, startOffset: 3 },
    ]);
    // A follower still at epoch 0 learns where that epoch ended, though nothing was appended at 4 yet.
    expect(log.endOffsetForEpoch(0)).toEqual({ leaderEpoch: 0, endOffset: 3 });
    expect(await checkpointOf(log)).toBe('0\n2\n0 0\n4 3\n');
    await log.append(batchOf('b', 2), { leaderEpoch: 4 });
    // An older or the same epoch changes nothing.
    await log.beginLeaderEpoch(4);
    await log.beginLeaderEpoch(2);
    expect(log.epochEntries()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 4, startOffset: 3 },
    ]);
    expect((await reopen(log)).epochEntries()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 4, startOffset: 3 },
    ]);
  });

  it('answers OffsetForLeaderEpoch from the cache and the log end', async () => {
    const log = await openLog('events-0');
    expect(log.endOffsetForEpoch(0)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    await log.appendAsFollower(batchOf('a', 10, { epoch: 3 }));
    await log.appendAsFollower(batchOf('b', 10, { baseOffset: 10, epoch: 5 }));
    await log.appendAsFollower(batchOf('c', 10, { baseOffset: 20, epoch: 8 }));
    expect(log.endOffsetForEpoch(3)).toEqual({ leaderEpoch: 3, endOffset: 10 });
    // Between two known epochs: the older one, ending where the newer one starts.
    expect(log.endOffsetForEpoch(4)).toEqual({ leaderEpoch: 3, endOffset: 10 });
    expect(log.endOffsetForEpoch(5)).toEqual({ leaderEpoch: 5, endOffset: 20 });
    expect(log.endOffsetForEpoch(7)).toEqual({ leaderEpoch: 5, endOffset: 20 });
    expect(log.endOffsetForEpoch(8)).toEqual({ leaderEpoch: 8, endOffset: 30 });
    expect(log.endOffsetForEpoch(9)).toEqual({ leaderEpoch: 8, endOffset: 30 });
    // Below the earliest known epoch: undefined.
    expect(log.endOffsetForEpoch(1)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    expect(log.endOffsetForEpoch(-1)).toEqual({ leaderEpoch: -1, endOffset: -1 });
  });

  it('drops entries at and past a truncation point, and starts new ones after it', async () => {
    const log = await openLog('events-0', { segmentBytes: 400 });
    for (const [i, epoch] of [1, 1, 2, 2, 4, 4].entries()) await log.append(batchOf(`x${i}-`, 3, { size: 40 }), { leaderEpoch: epoch });
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 6 },
      { epoch: 4, startOffset: 12 },
    ]);
    expect(log.segmentCount).toBeGreaterThan(1);
    await log.truncateTo(12);
    expect(log.logEndOffset).toBe(12);
    expect(log.latestEpoch).toBe(2);
    expect(log.endOffsetForEpoch(4)).toEqual({ leaderEpoch: 2, endOffset: 12 });
    // Truncating inside a batch cuts from its start: epoch 2's first batch starts at 6.
    await log.truncateTo(7);
    expect(log.logEndOffset).toBe(6);
    expect(log.epochEntries()).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(await checkpointOf(log)).toBe('0\n1\n1 0\n');
    await log.appendAsFollower(batchOf('n', 2, { baseOffset: 6, epoch: 6 }));
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 6, startOffset: 6 },
    ]);
    const again = await reopen(log, { segmentBytes: 400 });
    expect(again.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 6, startOffset: 6 },
    ]);
    expect(again.endOffsetForEpoch(6)).toEqual({ leaderEpoch: 6, endOffset: 8 });
  });

  it('collapses entries below a new log start (DeleteRecords, retention) into one at the log start', async () => {
    const log = await openLog('events-0', { segmentBytes: 300, retentionBytes: 500 });
    for (const [i, epoch] of [0, 0, 2, 2, 5, 5].entries()) await log.append(batchOf(`x${i}-`, 5, { size: 20 }), { leaderEpoch: epoch });
    await log.deleteRecordsBefore(3);
    expect(log.epochEntries()).toEqual([
      { epoch: 0, startOffset: 3 },
      { epoch: 2, startOffset: 10 },
      { epoch: 5, startOffset: 20 },
    ]);
    await log.deleteRecordsBefore(17);
    expect(log.epochEntries()).toEqual([
      { epoch: 2, startOffset: 17 },
      { epoch: 5, startOffset: 20 },
    ]);
    expect(log.endOffsetForEpoch(0)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    expect(await checkpointOf(log)).toBe('0\n2\n2 17\n5 20\n');
    const deleted = await log.applyRetention();
    expect(deleted).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(20);
    expect(log.epochEntries()).toEqual([{ epoch: 5, startOffset: log.logStartOffset }]);
    expect(await checkpointOf(log)).toBe(`0\n1\n5 ${log.logStartOffset}\n`);
    const start = log.logStartOffset;
    const again = await reopen(log, { segmentBytes: 300, retentionBytes: 500 });
    expect(again.epochEntries()).toEqual([{ epoch: 5, startOffset: start }]);
  });

  it('rebuilds a missing checkpoint from the batches of every segment on open, with a warning', async () => {
    const log = await openLog('events-0', { segmentBytes: 300 });
    for (const [i, epoch] of [0, 1, 1, 3, 3, 3, 7].entries()) await log.append(batchOf(`x${i}-`, 2, { size: 30 }), { leaderEpoch: epoch });
    const entries = log.epochEntries();
    expect(entries).toHaveLength(4);
    expect(log.segmentCount).toBeGreaterThan(2);
    await log.close();
    await rm(join(root, 'events-0', LEADER_EPOCH_FILE));
    const again = await openLog('events-0', { segmentBytes: 300 });
    expect(again.epochEntries()).toEqual(entries);
    expect(logger.lines.some((line) => line.startsWith('WARN rebuilding the leader-epoch cache') && line.includes('missing'))).toBe(true);
    // The rebuilt cache was saved: the next open reads it without a warning.
    logger.lines.length = 0;
    const third = await reopen(again, { segmentBytes: 300 });
    expect(third.epochEntries()).toEqual(entries);
    expect(logger.lines.filter((line) => line.startsWith('WARN'))).toEqual([]);
  });

  it('rebuilds a corrupted checkpoint on open, with a warning naming the problem', async () => {
    const log = await openLog('events-0', { segmentBytes: 300 });
    for (const [i, epoch] of [2, 2, 4, 4, 4].entries()) await log.append(batchOf(`x${i}-`, 2, { size: 30 }), { leaderEpoch: epoch });
    const entries = log.epochEntries();
    await log.close();
    for (const garbage of ['0\n2\n2 0\n', '0\n2\n4 6\n2 0\n', 'not a checkpoint', '']) {
      await writeFile(join(root, 'events-0', LEADER_EPOCH_FILE), garbage);
      logger.lines.length = 0;
      const again = await openLog('events-0', { segmentBytes: 300 });
      expect(again.epochEntries()).toEqual(entries);
      expect(logger.lines.filter((line) => line.startsWith('WARN rebuilding the leader-epoch cache'))).toHaveLength(1);
      expect(await checkpointOf(again)).toBe('0\n2\n2 0\n4 4\n');
      await again.close();
    }
  });

  it('on open drops entries past the log end and adds epochs the checkpoint missed in the active segment', async () => {
    const log = await openLog('events-0');
    await log.append(batchOf('a', 4), { leaderEpoch: 1 });
    await log.append(batchOf('b', 4), { leaderEpoch: 3 });
    await log.close();
    // As if the data of a later epoch never reached the disk, but its checkpoint did.
    await writeFile(join(root, 'events-0', LEADER_EPOCH_FILE), '0\n3\n1 0\n3 4\n9 8\n');
    const again = await openLog('events-0');
    expect(again.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 4 },
    ]);
    await again.close();
    // As if the batches of epoch 3 reached the disk but the checkpoint was not rewritten.
    await writeFile(join(root, 'events-0', LEADER_EPOCH_FILE), '0\n1\n1 0\n');
    const third = await openLog('events-0');
    expect(third.latestEpoch).toBe(3);
    expect(third.endOffsetForEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 4 });
    expect(await readFile(join(root, 'events-0', LEADER_EPOCH_FILE), 'utf8')).toBe('0\n2\n1 0\n3 4\n');
  });
});

describe('read with maxOffset', () => {
  it('returns only whole batches below maxOffset; beyond the log end is still out of range', async () => {
    const log = await openLog('events-0');
    for (const prefix of ['a', 'b', 'c']) await log.append(batchOf(prefix, 3));
    const read = async (offset: number, maxOffset?: number) =>
      valuesOf(await log.read(offset, 1 << 20, maxOffset === undefined ? {} : { maxOffset }));
    expect(await read(0)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2']);
    expect(await read(0, 6)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    // Batch 3-5 straddles 5: it is left out whole.
    expect(await read(0, 5)).toEqual(['a0', 'a1', 'a2']);
    expect(await read(3, 5)).toEqual([]);
    expect(await read(4, 5)).toEqual([]);
    expect(await read(6, 6)).toEqual([]);
    expect(await read(8, 6)).toEqual([]);
    expect(await read(0, 100)).toHaveLength(9);
    expect(await read(9, 100)).toEqual([]);
    expect((await rejection(log.read(10, 1 << 20, { maxOffset: 6 }))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
    // An oversized first batch owed by minOneMessage still stops at maxOffset.
    expect((await log.read(3, 1, { maxOffset: 5 })).length).toBe(0);
    expect(valuesOf(await log.read(3, 1, { maxOffset: 6 }))).toEqual(['b0', 'b1', 'b2']);
  });
});

describe('truncateFullyAndStartAt', () => {
  it('empties the log at the new offset, clears epochs and producer state, and appends continue there after a reopen', async () => {
    const log = await openLog('events-0', { segmentBytes: 300 });
    const idempotent = await kafkajsBatch([{ value: 'i0', timestamp: 1_700_000_000_000 }], {
      producerId: 9,
      producerEpoch: 0,
      firstSequence: 0,
    });
    const retry = Buffer.from(idempotent);
    await log.append(idempotent, { leaderEpoch: 2 });
    for (let i = 0; i < 6; i++) await log.append(batchOf(`x${i}-`, 2, { size: 30 }), { leaderEpoch: 2 });
    expect(log.segmentCount).toBeGreaterThan(1);

    await log.truncateFullyAndStartAt(100);
    expect(log.logStartOffset).toBe(100);
    expect(log.logEndOffset).toBe(100);
    expect(log.segmentBaseOffsets).toEqual([100]);
    expect(log.epochEntries()).toEqual([]);
    expect(log.latestEpoch).toBe(-1);
    expect(await checkpointOf(log)).toBe('0\n0\n');
    expect((await rejection(log.read(0, 1000))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
    expect((await readdir(join(root, 'events-0'))).filter((file) => file.endsWith('.log'))).toEqual(['00000000000000000100.log']);

    expect(await log.appendAsFollower(batchOf('f', 3, { baseOffset: 100, epoch: 6 }))).toMatchObject({ baseOffset: 100, lastOffset: 102 });
    // Producer state was cleared: the old batch is no longer a known retry.
    expect(await log.append(retry, { leaderEpoch: 7 })).toMatchObject({ baseOffset: 103, duplicate: false });

    const again = await reopen(log, { segmentBytes: 300 });
    expect(again.logStartOffset).toBe(100);
    expect(again.logEndOffset).toBe(104);
    expect(valuesOf(await readBytes(again))).toEqual(['f0', 'f1', 'f2', 'i0']);
    expect(again.epochEntries()).toEqual([
      { epoch: 6, startOffset: 100 },
      { epoch: 7, startOffset: 103 },
    ]);
    expect((await again.append(batchOf('g', 1), { leaderEpoch: 7 })).baseOffset).toBe(104);
  });
});
