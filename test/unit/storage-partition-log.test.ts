import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Logger, type LogFields } from '../../broker/log.js';
import { StorageError, StorageErrorCode } from '../../broker/storage/errors.js';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../broker/storage/partition-log.js';
import { buildBatch, decodeRecords, splitBatches, type RecordBatch } from '../../broker/storage/record-batch.js';
import { kafkajsBatch, type KafkajsCompression } from '../support/storage-batches.js';
import { rejectionOf } from '../support/thrown.js';

class CapturingLogger extends Logger {
  readonly lines: string[] = [];
  constructor() {
    super('test');
  }
  override info(message: string, fields?: LogFields): void {
    this.lines.push(`info ${message} ${JSON.stringify(fields ?? {})}`);
  }
  override warn(message: string, fields?: LogFields): void {
    this.lines.push(`warn ${message} ${JSON.stringify(fields ?? {})}`);
  }
  override error(message: string, fields?: LogFields): void {
    this.lines.push(`error ${message} ${JSON.stringify(fields ?? {})}`);
  }
}

let root: string;
let dir: string;
let logger: CapturingLogger;
const open: PartitionLog[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'klab-storage-'));
  dir = join(root, 'events-0');
  logger = new CapturingLogger();
});

afterEach(async () => {
  for (const log of open.splice(0)) await log.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function openLog(config: Partial<LogConfig> = {}, clock?: () => number): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, { ...defaultLogConfig, ...config }, { logger, ...(clock ? { clock } : {}) });
  open.push(log);
  return log;
}

function values(batches: RecordBatch[]): string[] {
  return batches.flatMap((batch) => decodeRecords(batch).map((record) => record.value?.toString() ?? 'null'));
}

/** Every record value the log holds from `offset` on, read batch by batch. */
async function readAll(log: PartitionLog, offset = log.logStartOffset): Promise<{ offsets: number[]; values: string[] }> {
  const offsets: number[] = [];
  const found: string[] = [];
  let next = offset;
  while (next < log.highWatermark) {
    const bytes = await log.read(next, 64 * 1024);
    const batches = splitBatches(bytes);
    expect(batches.length).toBeGreaterThan(0);
    for (const record of batches.flatMap((batch) => decodeRecords(batch))) {
      if (record.offset < next) continue;
      offsets.push(record.offset);
      found.push(record.value?.toString() ?? 'null');
    }
    next = batches[batches.length - 1]!.nextOffset;
  }
  return { offsets, values: found };
}

function batchOf(prefix: string, count: number, timestamp = Date.now(), size = 0): Buffer {
  return buildBatch(
    Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`${prefix}${i}`.padEnd(size, '.')), timestamp: timestamp + i })),
  );
}

const rejection = (promise: Promise<unknown>): Promise<StorageError> => rejectionOf(StorageError, promise);

describe('PartitionLog append and read', () => {
  it('assigns consecutive offsets and reads records back from any offset', async () => {
    const log = await openLog();
    expect((await log.append(batchOf('a', 3))).baseOffset).toBe(0);
    const second = await log.append(batchOf('b', 2));
    expect(second).toMatchObject({ baseOffset: 3, lastOffset: 4, logAppendTime: -1, duplicate: false });
    expect(log.logEndOffset).toBe(5);
    expect(log.highWatermark).toBe(5);
    expect(await readAll(log)).toEqual({ offsets: [0, 1, 2, 3, 4], values: ['a0', 'a1', 'a2', 'b0', 'b1'] });
    // An offset inside a batch returns the whole batch that holds it.
    expect(values(splitBatches(await log.read(4, 1 << 20)))).toEqual(['b0', 'b1']);
    expect((await log.read(5, 1 << 20)).length).toBe(0);
  });

  it('stores real kafkajs batches of every codec byte for byte, rewriting only base offset and leader epoch', async () => {
    const log = await openLog();
    const codecs: KafkajsCompression[] = ['none', 'gzip', 'snappy', 'lz4'];
    const sent: Buffer[] = [];
    for (const compression of codecs) {
      const bytes = await kafkajsBatch(
        Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `${compression}-value-${i}`.repeat(5) })),
        { compression },
      );
      sent.push(Buffer.from(bytes));
      await log.append(bytes, { leaderEpoch: 7 });
    }
    const stored = splitBatches(await log.read(0, 1 << 20));
    expect(stored).toHaveLength(4);
    stored.forEach((batch, i) => {
      expect(batch.baseOffset).toBe(i * 20);
      expect(batch.partitionLeaderEpoch).toBe(7);
      expect(batch.compression).toBe(codecs[i]);
      expect(batch.hasValidCrc()).toBe(true);
      // Identical apart from baseOffset (bytes 0-7) and partitionLeaderEpoch (bytes 12-15).
      const original = sent[i]!;
      expect(batch.buffer.length).toBe(original.length);
      expect(batch.buffer.subarray(8, 12)).toEqual(original.subarray(8, 12));
      expect(batch.buffer.subarray(16)).toEqual(original.subarray(16));
    });
  });

  it('rejects a batch with a bad CRC and stores nothing', async () => {
    const log = await openLog();
    await log.append(batchOf('ok', 2));
    const bad = batchOf('bad', 2);
    bad[bad.length - 1]! ^= 0xff;
    const error = await rejection(log.append(bad));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toContain('events-0');
    expect(log.logEndOffset).toBe(2);
    expect((await readAll(log)).values).toEqual(['ok0', 'ok1']);
  });

  it('rejects a batch larger than max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    const log = await openLog({ maxMessageBytes: 500 });
    const error = await rejection(log.append(batchOf('big', 5, Date.now(), 200)));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.MESSAGE_TOO_LARGE);
    expect(log.logEndOffset).toBe(0);
  });

  it('answers offsets outside [logStart, highWatermark] with OFFSET_OUT_OF_RANGE', async () => {
    const log = await openLog();
    await log.append(batchOf('a', 2));
    expect((await rejection(log.read(3, 1000))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
    expect((await rejection(log.read(-1, 1000))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('returns whole batches within maxBytes, and one oversized batch only with minOneMessage', async () => {
    const log = await openLog();
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const bytes = batchOf(`b${i}-`, 4, Date.now(), 100);
      sizes.push(bytes.length);
      await log.append(bytes);
    }
    const twoAndABit = sizes[0]! + sizes[1]! + 10;
    expect(splitBatches(await log.read(0, twoAndABit)).map((b) => b.baseOffset)).toEqual([0, 4]);
    expect(splitBatches(await log.read(0, 10)).map((b) => b.baseOffset)).toEqual([0]);
    expect((await log.read(0, 10, { minOneMessage: false })).length).toBe(0);
  });

  it('stamps LogAppendTime topics with the append time and a valid CRC', async () => {
    const log = await openLog({ timestampType: 'LogAppendTime' }, () => 1_900_000_000_000);
    const result = await log.append(await kafkajsBatch([{ value: 'v', timestamp: 10 }], { compression: 'gzip' }));
    expect(result.logAppendTime).toBe(1_900_000_000_000);
    const [batch] = splitBatches(await log.read(0, 1 << 20));
    expect(batch!.timestampType).toBe('LogAppendTime');
    expect(decodeRecords(batch!)[0]!.timestamp).toBe(1_900_000_000_000);
  });
});

describe('PartitionLog concurrency', () => {
  it('keeps concurrent appends in call order while reads run alongside', async () => {
    const log = await openLog({ segmentBytes: 4 * 1024 });
    const appends = Array.from({ length: 60 }, (_, i) => log.append(batchOf(`c${i}-`, 2, Date.now(), 40)));
    const reads = Array.from({ length: 20 }, () => log.read(0, 1 << 20));
    const results = await Promise.all(appends);
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 60 }, (_, i) => i * 2));
    for (const bytes of await Promise.all(reads)) {
      // Whatever a read saw was whole, valid batches starting at offset 0.
      const batches = splitBatches(bytes);
      expect(batches.every((batch) => batch.hasValidCrc())).toBe(true);
      if (batches.length > 0) expect(batches[0]!.baseOffset).toBe(0);
    }
    expect((await readAll(log)).values).toEqual(Array.from({ length: 60 }, (_, i) => [`c${i}-0`, `c${i}-1`]).flat().map((v) => v.padEnd(40, '.')));
  });

  it('goes on appending while a flush syncs the disk; what came after the sync started stays to be flushed', async () => {
    const log = await openLog({ fsync: 'interval' });
    await log.append(batchOf('before', 1));
    expect(log.needsFlush).toBe(true);
    const finished: string[] = [];
    const flushed = log.flush().then(() => finished.push('flush'));
    const appended = log.append(batchOf('during', 1)).then(() => finished.push('append'));
    await Promise.all([flushed, appended]);
    // The append did not wait for the sync (it used to queue behind it).
    expect(finished).toEqual(['append', 'flush']);
    expect(log.needsFlush).toBe(true);
    await Promise.all([log.flush(), log.flush()]);
    expect(log.needsFlush).toBe(false);
    expect((await readAll(log)).values).toEqual(['before0', 'during0']);
  });

  it('writes an append of several MiB (beyond the synchronous write budget) whole and in order', async () => {
    const log = await openLog({ maxMessageBytes: 2 * 1024 * 1024 });
    const big = Buffer.concat(Array.from({ length: 5 }, (_, i) => batchOf(`big${i}-`, 1, Date.now(), 1024 * 1024)));
    expect(big.length).toBeGreaterThan(4 * 1024 * 1024);
    const [first, second] = await Promise.all([log.append(big), log.append(batchOf('after', 1))]);
    expect(first).toMatchObject({ baseOffset: 0, lastOffset: 4 });
    expect(second?.baseOffset).toBe(5);
    const { values: stored } = await readAll(log);
    expect(stored.map((value) => value.slice(0, 6))).toEqual(['big0-0', 'big1-0', 'big2-0', 'big3-0', 'big4-0', 'after0']);
    expect(stored[0]).toHaveLength(1024 * 1024);
  });
});

describe('PartitionLog segments and indexes', () => {
  it('rolls by segment.bytes and finds every offset through the sparse index', async () => {
    const log = await openLog({ segmentBytes: 4 * 1024, indexIntervalBytes: 512 });
    for (let i = 0; i < 120; i++) await log.append(batchOf(`r${i}-`, 3, Date.now(), 40));
    expect(log.segmentCount).toBeGreaterThan(3);
    const files = await readdir(dir);
    expect(files.filter((f) => f.endsWith('.log'))).toHaveLength(log.segmentCount);
    expect(files).toContain('00000000000000000000.index');
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const [first] = splitBatches(await log.read(offset, 1));
      expect(first!.baseOffset).toBeLessThanOrEqual(offset);
      expect(first!.lastOffset).toBeGreaterThanOrEqual(offset);
    }
    const all = await readAll(log);
    expect(all.offsets).toEqual(Array.from({ length: 360 }, (_, i) => i));
  });

  it('rolls by segment.ms', async () => {
    let now = 1_000_000;
    const log = await openLog({ segmentMs: 60_000 }, () => now);
    await log.append(batchOf('a', 1, now));
    now += 30_000;
    await log.append(batchOf('b', 1, now));
    expect(log.segmentCount).toBe(1);
    now += 31_000;
    await log.append(batchOf('c', 1, now));
    expect(log.segmentBaseOffsets).toEqual([0, 2]);
  });

  it('finds the first offset at or after a timestamp across segments and inside batches', async () => {
    const log = await openLog({ segmentBytes: 4 * 1024, indexIntervalBytes: 256 });
    const base = 1_700_000_000_000;
    // Batch i holds 4 records stamped base + 10*i + 0..3.
    for (let i = 0; i < 100; i++) await log.append(batchOf(`t${i}-`, 4, base + 10 * i, 30));
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(await log.offsetForTimestamp(base)).toEqual({ offset: 0, timestamp: base });
    expect(await log.offsetForTimestamp(base + 502)).toEqual({ offset: 202, timestamp: base + 502 });
    // Between batches: 505 lies after 50*10+3, so the next batch's first record answers.
    expect(await log.offsetForTimestamp(base + 505)).toEqual({ offset: 204, timestamp: base + 510 });
    expect(await log.offsetForTimestamp(base + 993)).toEqual({ offset: 399, timestamp: base + 993 });
    expect(await log.offsetForTimestamp(base + 994)).toBeNull();
    expect(await log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: base });
  });

  it('answers timestamp lookups inside compressed batches with the exact record', async () => {
    const log = await openLog();
    await log.append(await kafkajsBatch([{ value: 'a', timestamp: 100 }, { value: 'b', timestamp: 200 }], { compression: 'lz4' }));
    await log.append(await kafkajsBatch([{ value: 'c', timestamp: 300 }], { compression: 'snappy' }));
    expect(await log.offsetForTimestamp(150)).toEqual({ offset: 1, timestamp: 200 });
    expect(await log.offsetForTimestamp(250)).toEqual({ offset: 2, timestamp: 300 });
  });

  it('keeps data, offsets and lookups across close and reopen, using the sealed index files', async () => {
    let log = await openLog({ segmentBytes: 4 * 1024, indexIntervalBytes: 256 });
    for (let i = 0; i < 60; i++) await log.append(batchOf(`p${i}-`, 2, 1_000 + i * 2, 30));
    const before = await readAll(log);
    const segments = log.segmentBaseOffsets;
    await log.close();
    logger.lines.length = 0;
    log = await openLog({ segmentBytes: 4 * 1024, indexIntervalBytes: 256 });
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
    expect(log.segmentBaseOffsets).toEqual(segments);
    expect(log.logEndOffset).toBe(120);
    expect(await readAll(log)).toEqual(before);
    expect(await log.offsetForTimestamp(1_000 + 77)).toEqual({ offset: 77, timestamp: 1_077 });
    expect((await log.append(batchOf('next', 1))).baseOffset).toBe(120);
  });

  it('rebuilds missing or corrupt index files on open', async () => {
    let log = await openLog({ segmentBytes: 4 * 1024, indexIntervalBytes: 256 });
    for (let i = 0; i < 100; i++) await log.append(batchOf(`p${i}-`, 2, 1_000 + i * 2, 30));
    const before = await readAll(log);
    expect(log.segmentCount).toBeGreaterThan(2);
    await log.close();
    await rm(join(dir, '00000000000000000000.index'));
    const second = log.segmentBaseOffsets[1]!;
    const secondIndex = join(dir, `${String(second).padStart(20, '0')}.index`);
    const garbage = await readFile(secondIndex);
    garbage.writeInt32BE(999_999, garbage.length - 4); // last entry points past the end
    await writeFile(secondIndex, garbage);
    log = await openLog({ segmentBytes: 4 * 1024, indexIntervalBytes: 256 });
    const rebuilt = logger.lines.filter((l) => l.includes('rebuilding segment indexes'));
    expect(rebuilt).toHaveLength(2);
    expect(await readAll(log)).toEqual(before);
    expect((await stat(join(dir, '00000000000000000000.index'))).size % 8).toBe(0);
    expect(await log.offsetForTimestamp(1_000 + 33)).toEqual({ offset: 33, timestamp: 1_033 });
  });
});

describe('PartitionLog retention and DeleteRecords', () => {
  it('deletes the oldest sealed segments beyond retention.bytes, never the active one', async () => {
    const log = await openLog({ segmentBytes: 2 * 1024, retentionBytes: 5 * 1024 });
    for (let i = 0; i < 40; i++) await log.append(batchOf(`s${i}-`, 2, Date.now(), 60));
    const segmentsBefore = log.segmentCount;
    const deleted = await log.applyRetention();
    expect(deleted).toBeGreaterThan(0);
    expect(log.segmentCount).toBe(segmentsBefore - deleted);
    expect(log.sizeInBytes).toBeGreaterThanOrEqual(5 * 1024);
    expect(log.sizeInBytes).toBeLessThan(5 * 1024 + 2 * 1024);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets[0]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.log'))).toHaveLength(log.segmentCount);
    expect((await rejection(log.read(0, 100))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
    const rest = await readAll(log);
    expect(rest.offsets[0]).toBe(log.logStartOffset);
    expect(rest.offsets[rest.offsets.length - 1]).toBe(79);
  });

  it('deletes sealed segments whose newest record is older than retention.ms', async () => {
    const now = 10_000_000;
    const log = await openLog({ segmentBytes: 1024, retentionMs: 60_000 }, () => now);
    for (let i = 0; i < 10; i++) await log.append(batchOf(`old${i}-`, 2, now - 120_000, 60));
    const oldSegments = log.segmentCount;
    for (let i = 0; i < 10; i++) await log.append(batchOf(`new${i}-`, 2, now - 1_000, 60));
    expect(log.segmentCount).toBeGreaterThan(oldSegments);
    await log.applyRetention();
    const rest = await readAll(log);
    expect(rest.values.some((v) => v.startsWith('old'))).toBe(false);
    expect(rest.values.filter((v) => v.startsWith('new'))).toHaveLength(20);
    expect(log.logStartOffset).toBe(20);
  });

  it('keeps even an expired active segment', async () => {
    const log = await openLog({ retentionMs: 1 }, () => 5_000_000);
    await log.append(batchOf('x', 3, 1_000));
    expect(await log.applyRetention()).toBe(0);
    expect((await readAll(log)).values).toEqual(['x0', 'x1', 'x2']);
  });

  it('moves the log start offset for DeleteRecords and persists it', async () => {
    let log = await openLog({ segmentBytes: 1024 });
    for (let i = 0; i < 20; i++) await log.append(batchOf(`d${i}-`, 2, Date.now(), 60));
    expect(await log.deleteRecordsBefore(7)).toBe(7);
    expect(log.logStartOffset).toBe(7);
    expect((await rejection(log.read(6, 100))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
    // Offset 7 sits in the batch 6-7: the whole batch is returned, the client skips offset 6.
    expect(splitBatches(await log.read(7, 1))[0]!.baseOffset).toBe(6);
    expect(await log.deleteRecordsBefore(3)).toBe(7);
    expect((await rejection(log.deleteRecordsBefore(41))).kafkaErrorCode).toBe(StorageErrorCode.OFFSET_OUT_OF_RANGE);
    const segments = log.segmentCount;
    await log.deleteRecordsBefore(30);
    expect(log.segmentCount).toBeLessThan(segments);
    expect(log.segmentBaseOffsets[0]).toBeLessThanOrEqual(30);
    await log.close();
    log = await openLog({ segmentBytes: 1024 });
    expect(log.logStartOffset).toBe(30);
    expect((await readAll(log, 30)).offsets[0]).toBe(30);
    expect(await log.offsetForTimestamp(0)).toMatchObject({ offset: 30 });
  });
});

describe('PartitionLog recovery', () => {
  async function filledLog(): Promise<{ size: number; values: string[] }> {
    const log = await openLog({ segmentBytes: 4 * 1024 });
    for (let i = 0; i < 30; i++) await log.append(batchOf(`g${i}-`, 3, Date.now(), 40));
    const all = await readAll(log);
    await log.close();
    const active = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort().pop()!;
    return { size: (await stat(join(dir, active))).size, values: all.values };
  }

  async function activeFile(): Promise<string> {
    return join(dir, (await readdir(dir)).filter((f) => f.endsWith('.log')).sort().pop()!);
  }

  it('cuts a half-written batch off the tail and keeps everything before it', async () => {
    const { values: before } = await filledLog();
    const half = batchOf('torn', 5, Date.now(), 50);
    await appendFile(await activeFile(), half.subarray(0, half.length / 2));
    const log = await openLog({ segmentBytes: 4 * 1024 });
    expect(log.logEndOffset).toBe(90);
    expect((await readAll(log)).values).toEqual(before);
    const line = logger.lines.find((l) => l.includes('truncating torn or corrupt log tail'));
    expect(line).toContain(`"cutBytes":${Math.floor(half.length / 2)}`);
    expect(line).toMatch(/torn write|too few/);
    expect((await log.append(batchOf('after', 1))).baseOffset).toBe(90);
    expect((await readAll(log, 90)).values).toEqual(['after0']);
  });

  it('cuts garbage and a corrupted last batch, reporting the reason', async () => {
    const { size, values: before } = await filledLog();
    const file = await activeFile();
    await appendFile(file, Buffer.from('this is not a record batch, just noise at the end of the file'));
    let log = await openLog({ segmentBytes: 4 * 1024 });
    expect((await readAll(log)).values).toEqual(before);
    expect((await stat(file)).size).toBe(size);
    await log.close();

    // Flip a byte inside the last stored batch: it fails its CRC and is dropped, the rest stays.
    const bytes = await readFile(file);
    bytes[bytes.length - 3]! ^= 0x55;
    await writeFile(file, bytes);
    logger.lines.length = 0;
    log = await openLog({ segmentBytes: 4 * 1024 });
    expect(logger.lines.find((l) => l.includes('truncating'))).toMatch(/CRC-32C/);
    expect(log.logEndOffset).toBe(87);
    expect((await readAll(log)).values).toEqual(before.slice(0, 87));
  });

  it('never touches sealed segments: a damaged one is served up to the damage', async () => {
    const log = await openLog({ segmentBytes: 4 * 1024 });
    for (let i = 0; i < 30; i++) await log.append(batchOf(`g${i}-`, 3, Date.now(), 40));
    await log.close();
    const first = join(dir, '00000000000000000000.log');
    const size = (await stat(first)).size;
    await rm(join(dir, '00000000000000000000.index'));
    await truncate(first, size - 10);
    const reopened = await openLog({ segmentBytes: 4 * 1024 });
    expect((await stat(first)).size).toBe(size - 10);
    expect(logger.lines.some((l) => l.startsWith('error sealed segment has unreadable bytes'))).toBe(true);
    expect(reopened.logEndOffset).toBe(90);
  });

  it('truncateTo drops the tail from the batch holding the offset, across segments', async () => {
    const log = await openLog({ segmentBytes: 2 * 1024 });
    for (let i = 0; i < 40; i++) await log.append(batchOf(`x${i}-`, 2, Date.now(), 40));
    await log.truncateTo(31);
    expect(log.logEndOffset).toBe(30);
    expect(log.segmentBaseOffsets.every((base) => base <= 30)).toBe(true);
    expect((await readAll(log)).offsets).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((await log.append(batchOf('y', 2))).baseOffset).toBe(30);
    await log.close();
    const reopened = await openLog({ segmentBytes: 2 * 1024 });
    expect(reopened.logEndOffset).toBe(32);
    expect((await readAll(reopened, 30)).values).toEqual(['y0', 'y1']);
  });
});

describe('PartitionLog producer state hook', () => {
  it('answers a retried idempotent batch with its first offsets, also after a restart', async () => {
    let log = await openLog();
    await log.append(batchOf('plain', 2));
    const first = await kafkajsBatch([{ value: 'i0' }, { value: 'i1' }], { producerId: 42, producerEpoch: 0, firstSequence: 0 });
    const retry = Buffer.from(first);
    expect(await log.append(first)).toMatchObject({ baseOffset: 2, lastOffset: 3, duplicate: false });
    expect(await log.append(Buffer.from(retry))).toMatchObject({ baseOffset: 2, lastOffset: 3, duplicate: true });
    expect(log.logEndOffset).toBe(4);
    await log.close();
    log = await openLog();
    expect(await log.append(retry)).toMatchObject({ baseOffset: 2, lastOffset: 3, duplicate: true });
    expect(log.logEndOffset).toBe(4);
  });
});
