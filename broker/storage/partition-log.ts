// The log of one partition: a directory of segments (see segment.ts) holding record batches
// exactly as producers sent them, with only the base offset and partition leader epoch
// rewritten (and, for LogAppendTime topics, the max timestamp and CRC). Compressed batches are
// never decompressed on the write path; the only per-append CPU work is the CRC check.
//
// Ordering: appends, rolls, retention, DeleteRecords and truncation run one at a time per
// partition (a promise queue). Appends are written with one synchronous positional write while
// the bytes so written stay within SYNC_WRITE_BYTES_PER_TURN per turn of the event loop (across
// all partitions): the thread-pool round trip of an async write cost about three times the
// write itself, and a few MiB into the page cache hold the loop for a few milliseconds at most.
// Beyond that budget appends, and fsyncs and everything else, use async file handles, so the
// event loop keeps serving other connections. Reads run concurrently: they only look at
// bytes below the in-memory segment size, which grows after a write completes, so a reader
// never sees a half-written batch.
//
// Durability: with fsync 'always' an append returns after fdatasync; with 'interval' the
// LogManager flushes dirty logs on a timer. That flush runs beside the append queue (appends
// go on while the disk syncs; a later append marks the log dirty again). A failed write
// (ENOSPC, EIO, EACCES …) truncates the segment back to its previous end, leaves every
// in-memory field as it was and throws KAFKA_STORAGE_ERROR; stored data stays readable.
//
// Recovery on open: sealed segments load their index files (rebuilt from the log file when
// missing or inconsistent); the last segment is read batch by batch, checking framing, magic,
// CRC and offset order, and is truncated at the first bad byte, with a log line saying how many
// bytes were cut and why. Earlier segments are never truncated.
//
// Offsets are JavaScript numbers (exact to 2^53); the high watermark equals the log end offset
// on a single node, and replication will move it separately. Each batch carries the leader
// epoch it was appended in, and the leader-epoch cache (leader-epoch-cache.ts) records where
// each epoch starts. A follower copies its leader's batches unchanged with appendAsFollower,
// and drops a diverged tail with truncateTo (or everything, with truncateFullyAndStartAt).
//
// The epoch checkpoint is written after the data it describes. Should that write fail, the
// append still succeeds (the batches are stored), and the next append rewrites the checkpoint
// before writing anything, so a segment never rolls while the file lags behind it: the batches
// it misses are in the active segment, which recovery reads and adds to the cache anyway.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { rootLogger, type Logger } from '../log.js';
import { decodeStoredRecords } from './decompress.js';
import { replaceFileDurably, syncDirectory } from './durable-file.js';
import { describeOsError, StorageError, StorageErrorCode } from './errors.js';
import { LeaderEpochCache, type EpochEndOffset, type EpochEntry } from './leader-epoch-cache.js';
import { ProducerStateTable } from './producer-state.js';
import { BATCH_HEADER_BYTES, batchSizeAt, RecordBatch, splitBatches, type TimestampType } from './record-batch.js';
import { readAt, Segment, walkBatches, writeAt, writeAtSync } from './segment.js';

export interface LogConfig {
  /** segment.bytes: roll when the active segment would grow past this. */
  segmentBytes: number;
  /** segment.ms: roll when the active segment is older than this (since created; after a restart, since its first batch's timestamp). */
  segmentMs: number;
  /** retention.ms: delete sealed segments whose newest batch is older; -1 keeps them. */
  retentionMs: number;
  /** retention.bytes: delete the oldest sealed segments while the log stays at least this big; -1 for no limit. */
  retentionBytes: number;
  /** index.interval.bytes: bytes between sparse index entries. */
  indexIntervalBytes: number;
  /** max.message.bytes: the largest batch accepted. */
  maxMessageBytes: number;
  /** message.timestamp.type. */
  timestampType: TimestampType;
  /** When appends reach the disk: before append returns, or on the LogManager's timer. */
  fsync: 'always' | 'interval';
}

/** Kafka's defaults, with fsync before acknowledging (the broker's safe default). */
export const defaultLogConfig: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  maxMessageBytes: 1048588,
  timestampType: 'CreateTime',
  fsync: 'always',
};

export interface PartitionLogOptions {
  logger?: Logger;
  /** Milliseconds since the epoch; injectable so tests can age segments without waiting. */
  clock?: () => number;
}

export interface AppendOptions {
  /** Leader epoch written into every appended batch (0 until replication assigns epochs). */
  leaderEpoch?: number;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** The time stamped on the batches for LogAppendTime topics, else -1. */
  logAppendTime: number;
  logStartOffset: number;
  /** True when producer state recognised a retried batch: nothing was written. */
  duplicate: boolean;
}

export interface ReadOptions {
  /** Return the first batch whole even when it is larger than maxBytes (default true). */
  minOneMessage?: boolean;
  /**
   * Return only batches whose every offset is below this (default: the log end offset).
   * Consumers read below the high watermark, followers up to the log end; a batch that
   * straddles it is left out whole.
   */
  maxOffset?: number;
}

export interface TimestampLookup {
  offset: number;
  timestamp: number;
}

const RECOVERY_CHUNK_BYTES = 1024 * 1024;
/** Bytes appends may write synchronously per turn of the event loop (see the top of this file). */
const SYNC_WRITE_BYTES_PER_TURN = 4 * 1024 * 1024;
let syncWriteBytesThisTurn = 0;
const SCAN_CHUNK_BYTES = 16 * 1024;
const MAX_RELATIVE_OFFSET = 2 ** 31 - 1;
/** Producer ids idle longer than this are forgotten by Kafka (producer.id.expiration.ms), so recovery replays only segments this recent. */
const PRODUCER_STATE_WINDOW_MS = 24 * 3600 * 1000;
const LOG_START_FILE = 'log-start-offset';
const SEGMENT_FILE = /^(\d{20})\.log$/;
const INDEX_FILE = /^(\d{20})\.(index|timeindex)$/;
const EMPTY = Buffer.alloc(0);

interface FoundBatch {
  position: number;
  size: number;
  lastOffset: number;
}

export class PartitionLog {
  private segments: Segment[];
  private startOffset: number;
  private producerState: ProducerStateTable;
  /** True when the last write of the epoch checkpoint failed: the next append retries it first. */
  private epochCheckpointStale = false;
  private queue: Promise<unknown> = Promise.resolve();
  private dirty = false;
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    /** `topic-partition`, for messages. */
    readonly name: string,
    private currentConfig: LogConfig,
    segments: Segment[],
    startOffset: number,
    producerState: ProducerStateTable,
    private readonly epochs: LeaderEpochCache,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {
    this.segments = segments;
    this.startOffset = startOffset;
    this.producerState = producerState;
  }

  /** Opens (creating if needed) the log in `dir`, recovering it as described above. */
  static async open(dir: string, config: LogConfig, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const name = basename(dir);
    const logger = options.logger ?? rootLogger.child('storage');
    const clock = options.clock ?? Date.now;
    const segments: Segment[] = [];
    try {
      await mkdir(dir, { recursive: true });
      const checkpoint = await readLogStartCheckpoint(dir, name);
      const epochs = LeaderEpochCache.forDir(dir);
      const epochProblem = await epochs.load();
      const activeEpochStarts: EpochEntry[] = [];
      const names = await readdir(dir);
      const bases = names
        .map((file) => SEGMENT_FILE.exec(file)?.[1])
        .filter((base): base is string => base !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
      const baseSet = new Set(bases);
      for (const file of names) {
        const match = INDEX_FILE.exec(file);
        if ((match && !baseSet.has(Number(match[1]))) || file.endsWith('.tmp')) {
          await rm(join(dir, file), { force: true });
        }
      }
      const producerState = new ProducerStateTable();
      const producerHorizon = clock() - PRODUCER_STATE_WINDOW_MS;
      for (const [i, base] of bases.entries()) {
        const { segment, fileSize } = await Segment.openExisting(dir, base);
        segments.push(segment);
        if (i < bases.length - 1) {
          await loadSealedSegment(segment, fileSize, bases[i + 1]!, config, name, logger);
          await replayProducerBatches(segment, producerState, producerHorizon);
        } else {
          const expectedBase = segments[i - 1]?.nextOffset ?? base;
          await recoverActiveSegment(segment, fileSize, expectedBase, config, name, logger, producerState, activeEpochStarts);
        }
      }
      if (segments.length === 0) segments.push(await Segment.create(dir, checkpoint ?? 0, clock()));
      const active = segments[segments.length - 1]!;
      if (active.rollBaseTimestamp < 0) active.rollBaseTimestamp = clock();
      const logEnd = segments[segments.length - 1]!.nextOffset;
      const startOffset = Math.min(Math.max(checkpoint ?? 0, segments[0]!.baseOffset), logEnd);
      await recoverEpochs(epochs, epochProblem, segments, activeEpochStarts, startOffset, name, logger);
      const log = new PartitionLog(dir, name, config, segments, startOffset, producerState, epochs, logger, clock);
      logger.info('opened partition log', {
        partition: name,
        segments: segments.length,
        logStartOffset: startOffset,
        logEndOffset: logEnd,
      });
      return log;
    } catch (error) {
      for (const segment of segments) await segment.retire().catch(() => undefined);
      if (error instanceof StorageError) throw error;
      throw new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `cannot open log in ${dir}: ${describeOsError(error)}`, {
        partition: name,
        cause: error,
      });
    }
  }

  get config(): LogConfig {
    return this.currentConfig;
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  get logEndOffset(): number {
    return this.activeSegment.nextOffset;
  }

  /** Offsets below this are readable by consumers; equal to the log end offset on a single node. */
  get highWatermark(): number {
    return this.logEndOffset;
  }

  get sizeInBytes(): number {
    return this.segments.reduce((total, segment) => total + segment.size, 0);
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): number[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  /** The newest leader epoch that wrote to this log, or -1 when none did. */
  get latestEpoch(): number {
    return this.epochs.latestEpoch;
  }

  /**
   * OffsetForLeaderEpoch: the largest epoch ≤ `epoch` this log knows and its end offset (the
   * next known epoch's start offset, or the log end offset for the latest epoch). An epoch
   * below the earliest known one, or an empty cache, answers leaderEpoch and endOffset -1.
   */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    this.ensureOpen();
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /**
   * This log's replica has become leader at `epoch`: the epoch starts at the log end (as Kafka
   * assigns it at election), so appends in it never touch the checkpoint and a follower asking
   * where an older epoch ended learns it here even before the first append.
   */
  async beginLeaderEpoch(epoch: number): Promise<void> {
    return this.exclusive(async () => {
      this.ensureOpen();
      if (this.epochs.assign(epoch, this.logEndOffset)) await this.saveEpochs(false);
    });
  }

  /** The leader-epoch cache, oldest first (for tests and diagnostics). */
  epochEntries(): ReadonlyArray<EpochEntry> {
    return this.epochs.all();
  }

  /** True when appends since the last flush have not been fsynced. */
  get needsFlush(): boolean {
    return this.dirty;
  }

  /** Applies changed topic configs; they take effect from the next append or retention pass. */
  updateConfig(config: LogConfig): void {
    this.currentConfig = config;
  }

  /**
   * Appends a produce request's records (one or more v2 batches, validated here), assigning
   * offsets from the log end. All bytes go to the file in one positional write.
   */
  async append(records: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    const batches = this.validateBatches(records, 'a produce request');
    return this.exclusive(async () => {
      this.ensureOpen();
      const duplicate = this.checkProducers(batches);
      if (duplicate) return duplicate;
      const now = this.clock();
      const logAppendTime = this.currentConfig.timestampType === 'LogAppendTime' ? now : -1;
      let next = this.logEndOffset;
      for (const batch of batches) {
        batch.setBaseOffset(next);
        batch.setPartitionLeaderEpoch(options.leaderEpoch ?? 0);
        if (logAppendTime >= 0) batch.setLogAppendTime(logAppendTime);
        next = batch.nextOffset;
      }
      return this.writeBatches(records, batches, now, logAppendTime);
    });
  }

  /**
   * Appends batches fetched from the partition leader exactly as the leader stored them: base
   * offsets, leader epochs, timestamps and CRCs stay as they are. They must continue the log
   * without a gap or overlap. Duplicates are not checked (the leader did), but producer state
   * and the epoch cache learn from them, so this replica can take over as leader.
   */
  async appendAsFollower(records: Buffer): Promise<AppendResult> {
    const batches = this.validateBatches(records, 'records copied from the leader');
    return this.exclusive(async () => {
      this.ensureOpen();
      let expected = this.logEndOffset;
      for (const [i, batch] of batches.entries()) {
        if (batch.baseOffset !== expected) {
          const what = batch.baseOffset > expected ? 'a gap' : 'an overlap';
          const where = i === 0 ? `the log end offset ${expected}` : `offset ${expected}, right after batch ${i - 1}`;
          throw new StorageError(
            StorageErrorCode.INVALID_RECORD,
            `records copied from the leader: batch ${i} starts at offset ${batch.baseOffset} ` +
              `but must start at ${where} (${what}); nothing was stored`,
            { partition: this.name },
          );
        }
        expected = batch.nextOffset;
      }
      return this.writeBatches(records, batches, this.clock(), -1);
    });
  }

  /**
   * Whole batches from the one containing `offset`, up to `maxBytes` (but at least one batch
   * when minOneMessage), read with positional reads into one Buffer, none reaching
   * options.maxOffset. Empty from maxOffset on, and with no budget and no batch owed;
   * OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset] either way, so a full fetch
   * response still reports it.
   */
  async read(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<Buffer> {
    this.ensureOpen();
    const logEnd = this.logEndOffset;
    this.checkInRange(offset, logEnd);
    const end = Math.min(options.maxOffset ?? logEnd, logEnd);
    const minOneMessage = options.minOneMessage ?? true;
    if (offset >= end || (maxBytes <= 0 && !minOneMessage)) return EMPTY;
    const candidates = this.segments.slice(this.segmentIndexFor(offset));
    for (const segment of candidates) segment.acquire();
    try {
      for (const segment of candidates) {
        const found = await this.findBatch(segment, offset);
        if (found) return await readWholeBatches(segment, found, maxBytes, minOneMessage, end);
      }
      return EMPTY;
    } catch (error) {
      throw error instanceof StorageError ? error : this.storageError(`reading offset ${offset} failed`, error);
    } finally {
      for (const segment of candidates) segment.release();
    }
  }

  /**
   * The first offset whose record timestamp is ≥ `timestamp`, with that timestamp, or null
   * when every record is older. The batch that holds it is decompressed (any Kafka codec) to
   * answer to the exact record, as Kafka does.
   */
  async offsetForTimestamp(timestamp: number): Promise<TimestampLookup | null> {
    this.ensureOpen();
    const startOffset = this.startOffset;
    const candidates = this.segments.filter((segment) => segment.maxTimestamp >= timestamp && segment.nextOffset > startOffset);
    for (const segment of candidates) segment.acquire();
    try {
      for (const segment of candidates) {
        let found: { position: number; size: number } | null = null;
        await walkBatches(
          segment.fh,
          segment.positionForTimestamp(timestamp),
          segment.size,
          { verify: false, chunkBytes: SCAN_CHUNK_BYTES },
          (batch, position, size) => {
            if (batch.maxTimestamp >= timestamp && batch.lastOffset >= startOffset) {
              found = { position, size };
              return false;
            }
          },
        );
        const hit = found as { position: number; size: number } | null;
        if (!hit) continue;
        const batch = new RecordBatch(await readAt(segment.fh, hit.position, hit.size));
        return firstRecordAtOrAfter(batch, timestamp, startOffset, this.name);
      }
      return null;
    } catch (error) {
      throw error instanceof StorageError ? error : this.storageError(`looking up timestamp ${timestamp} failed`, error);
    } finally {
      for (const segment of candidates) segment.release();
    }
  }

  /**
   * DeleteRecords: moves the log start offset up to `offset` (at most the high watermark) and
   * deletes sealed segments wholly below it. Returns the new log start offset.
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    return this.exclusive(async () => {
      this.ensureOpen();
      if (offset < 0 || offset > this.highWatermark) {
        throw new StorageError(
          StorageErrorCode.OFFSET_OUT_OF_RANGE,
          `cannot delete records before offset ${offset}: it must be within [0, ${this.highWatermark}] (the high watermark)`,
          { partition: this.name },
        );
      }
      if (offset > this.startOffset) await this.advanceStart(offset, 'DeleteRecords');
      return this.startOffset;
    });
  }

  /**
   * Deletes whole sealed segments past retention.ms (by their newest timestamp) or beyond
   * retention.bytes, never the active one. Returns how many segments were deleted.
   */
  async applyRetention(): Promise<number> {
    return this.exclusive(async () => {
      this.ensureOpen();
      const { retentionMs, retentionBytes } = this.currentConfig;
      const now = this.clock();
      const sealed = this.segments.slice(0, -1);
      let remaining = this.sizeInBytes;
      let deletable = 0;
      let reason = '';
      for (const segment of sealed) {
        const newest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.lastModified;
        if (retentionMs >= 0 && now - newest > retentionMs) reason = `retention.ms ${retentionMs}`;
        else if (retentionBytes >= 0 && remaining - segment.size >= retentionBytes) reason = `retention.bytes ${retentionBytes}`;
        else break;
        remaining -= segment.size;
        deletable++;
      }
      if (deletable === 0) return 0;
      const newStart = this.segments[deletable]!.baseOffset;
      const before = this.segments.length;
      await this.advanceStart(Math.max(newStart, this.startOffset), reason);
      return before - this.segments.length;
    });
  }

  /**
   * Removes every record at or after `offset` (from the start of the batch holding it), for a
   * follower whose tail diverged from its leader. Later segments are deleted.
   */
  async truncateTo(offset: number): Promise<void> {
    return this.exclusive(async () => {
      this.ensureOpen();
      if (offset >= this.logEndOffset) return;
      if (offset < this.startOffset) {
        throw new StorageError(
          StorageErrorCode.OFFSET_OUT_OF_RANGE,
          `cannot truncate to ${offset}, below the log start offset ${this.startOffset}`,
          { partition: this.name },
        );
      }
      const index = this.segmentIndexFor(offset);
      const keep = this.segments[index]!;
      try {
        for (const segment of this.segments.slice(index + 1).reverse()) await segment.deleteFiles();
        this.segments = this.segments.slice(0, index + 1);
        const found = await this.findBatch(keep, offset);
        const cut = found ? found.position : keep.size;
        // Rebuild the kept segment's indexes from its surviving batches.
        keep.resetIndexes();
        await walkBatches(keep.fh, 0, cut, { verify: false, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch, position, size) => {
          keep.trackBatch(batch, position, size, this.currentConfig.indexIntervalBytes);
        });
        await keep.fh.truncate(cut);
        await keep.fh.sync();
        this.logger.info('truncated log', { partition: this.name, requested: offset, logEndOffset: keep.nextOffset });
      } catch (error) {
        throw this.storageError(`truncating to offset ${offset} failed`, error);
      }
      // A stale checkpoint only names epochs past the new end, which the next open drops.
      if (this.epochs.truncateFromEnd(this.logEndOffset)) await this.saveEpochs(false);
      const producerState = new ProducerStateTable();
      const horizon = this.clock() - PRODUCER_STATE_WINDOW_MS;
      for (const segment of this.segments) {
        await replayProducerBatches(segment, producerState, segment === keep ? Number.NEGATIVE_INFINITY : horizon);
      }
      this.producerState = producerState;
    });
  }

  /**
   * Deletes every segment and restarts the log empty at `offset`, which becomes the log start
   * offset, for a follower whose leader no longer holds anything this log has. Producer state
   * and the epoch cache are cleared. After a failure half way the log is closed: reopening it
   * finds the new start offset and no segments (or the old ones to delete again).
   */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.exclusive(async () => {
      this.ensureOpen();
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new StorageError(StorageErrorCode.OFFSET_OUT_OF_RANGE, `cannot restart the log at offset ${offset}`, {
          partition: this.name,
        });
      }
      const previousEnd = this.logEndOffset;
      try {
        // The start offset first: a crash after it leaves nothing below it to serve.
        await writeLogStartCheckpoint(this.dir, offset);
        for (const segment of this.segments.slice().reverse()) {
          await segment.deleteFiles();
          this.segments.pop();
        }
        this.segments.push(await Segment.create(this.dir, offset, this.clock()));
        await syncDirectory(this.dir);
      } catch (error) {
        this.closed = true;
        for (const segment of this.segments) await segment.retire().catch(() => undefined);
        throw this.storageError(`restarting the log at offset ${offset} failed; the log is closed and must be reopened`, error);
      }
      this.startOffset = offset;
      this.dirty = false;
      this.producerState = new ProducerStateTable();
      // Should this write fail, the next open collapses the old entries at the new start, where
      // the log also ends, and so drops them all; the next append rewrites the file first.
      if (this.epochs.clear()) await this.saveEpochs(false);
      this.logger.info('log restarted empty', { partition: this.name, logStartOffset: offset, previousLogEndOffset: previousEnd });
    });
  }

  /**
   * fsyncs the active segment if anything was appended since the last flush. Runs outside the
   * append queue: the sync covers every write that completed before it started, and an append
   * finishing meanwhile sets `dirty` again for the next flush. Concurrent calls share one sync.
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.closed || !this.dirty) return;
    const segment = this.activeSegment;
    // Rolling seals (and so syncs) the old segment; holding it keeps truncateTo from closing it mid-sync.
    segment.acquire();
    this.dirty = false;
    this.flushing = segment.fh
      .datasync()
      .catch((error: unknown) => {
        this.dirty = true;
        throw this.storageError('fsync failed', error);
      })
      .finally(() => {
        segment.release();
        this.flushing = null;
      });
    await this.flushing;
  }

  /**
   * Flushes and closes the files; later calls fail with KAFKA_STORAGE_ERROR. The files are
   * closed even when the final flush fails, and that failure is then thrown.
   */
  async close(): Promise<void> {
    const flushError = await this.flush().then(
      () => null,
      (error: unknown) => error,
    );
    await this.exclusive(async () => {
      if (this.closed) return;
      this.closed = true;
      for (const segment of this.segments) await segment.retire();
    });
    if (flushError) throw flushError;
  }

  // ---------------------------------------------------------------------------------------

  private get activeSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, 'log is closed', { partition: this.name });
  }

  private checkInRange(offset: number, end: number): void {
    if (!Number.isSafeInteger(offset) || offset < this.startOffset || offset > end) {
      throw new StorageError(
        StorageErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is outside the log [${this.startOffset}, ${end}]`,
        { partition: this.name },
      );
    }
  }

  private storageError(what: string, error: unknown): StorageError {
    return new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${what}: ${describeOsError(error)}`, {
      partition: this.name,
      cause: error,
    });
  }

  /** Index of the segment that holds `offset` (the last one starting at or before it). */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /** The batch in `segment` whose last offset is ≥ `offset`, or null when the segment ends first. */
  private async findBatch(segment: Segment, offset: number): Promise<FoundBatch | null> {
    let found: FoundBatch | null = null;
    await walkBatches(
      segment.fh,
      segment.positionAtOrBefore(offset),
      segment.size,
      { verify: false, chunkBytes: SCAN_CHUNK_BYTES },
      (batch, position, size) => {
        if (batch.lastOffset >= offset) {
          found = { position, size, lastOffset: batch.lastOffset };
          return false;
        }
      },
    );
    return found;
  }

  /** Splits and checks appended records (`what` names them in errors): at least one batch, none over max.message.bytes. */
  private validateBatches(records: Buffer, what: string): RecordBatch[] {
    const batches = splitBatches(records, { partition: this.name });
    if (batches.length === 0) {
      throw new StorageError(StorageErrorCode.INVALID_RECORD, `${what} must carry at least one record batch`, {
        partition: this.name,
      });
    }
    for (const batch of batches) {
      if (batch.sizeInBytes > this.currentConfig.maxMessageBytes) {
        throw new StorageError(
          StorageErrorCode.MESSAGE_TOO_LARGE,
          `a ${batch.sizeInBytes}-byte record batch exceeds max.message.bytes ${this.currentConfig.maxMessageBytes}`,
          { partition: this.name },
        );
      }
    }
    return batches;
  }

  /**
   * Stores batches that already carry their final offsets (continuing the log end), epochs and
   * timestamps: rolls first when due, writes all bytes at once, then updates indexes,
   * producer state and the epoch cache. Runs inside the queue.
   */
  private async writeBatches(records: Buffer, batches: RecordBatch[], now: number, logAppendTime: number): Promise<AppendResult> {
    if (this.epochCheckpointStale) await this.saveEpochs(true);
    const config = this.currentConfig;
    const baseOffset = batches[0]!.baseOffset;
    const lastOffset = batches[batches.length - 1]!.lastOffset;
    let active = this.activeSegment;
    if (
      !active.isEmpty &&
      (active.size + records.length > config.segmentBytes ||
        now - active.rollBaseTimestamp > config.segmentMs ||
        lastOffset - active.baseOffset > MAX_RELATIVE_OFFSET)
    ) {
      active = await this.roll(now);
    }

    const position = active.size;
    try {
      if (takeSyncWriteBudget(records.length)) writeAtSync(active.fh, records, position);
      else await writeAt(active.fh, records, position);
      if (config.fsync === 'always') await active.fh.datasync();
    } catch (error) {
      await this.undoWrite(active, position, error);
    }

    let at = position;
    let epochsChanged = false;
    for (const batch of batches) {
      active.trackBatch(batch, at, batch.sizeInBytes, config.indexIntervalBytes);
      at += batch.sizeInBytes;
      if (batch.producerId >= 0) this.producerState.record(batch, batch.baseOffset);
      if (this.epochs.assign(batch.partitionLeaderEpoch, batch.baseOffset)) epochsChanged = true;
    }
    active.lastModified = now;
    this.dirty = config.fsync !== 'always';
    if (epochsChanged) await this.saveEpochs(false);
    return { baseOffset, lastOffset, logAppendTime, logStartOffset: this.startOffset, duplicate: false };
  }

  /**
   * Writes the epoch checkpoint. When `required`, a failure throws (nothing may be written
   * while the file lags); otherwise it is logged and retried before the next append.
   */
  private async saveEpochs(required: boolean): Promise<void> {
    try {
      await this.epochs.save();
      this.epochCheckpointStale = false;
    } catch (error) {
      this.epochCheckpointStale = true;
      if (required) throw this.storageError(`writing the leader-epoch checkpoint ${this.epochs.path} failed`, error);
      this.logger.error('could not write the leader-epoch checkpoint; retrying before the next append', {
        partition: this.name,
        file: this.epochs.path,
        error: describeOsError(error),
      });
    }
  }

  /** Applies producer state to a batch list: a lone retried batch yields its earlier result. */
  private checkProducers(batches: RecordBatch[]): AppendResult | null {
    for (const batch of batches) {
      if (batch.producerId < 0) continue;
      const verdict = this.producerState.check(batch);
      if (verdict.action === 'reject') {
        throw new StorageError(
          verdict.errorCode,
          verdict.message,
          { partition: this.name },
        );
      }
      if (verdict.action === 'duplicate') {
        if (batches.length !== 1) {
          throw new StorageError(
            StorageErrorCode.INVALID_RECORD,
            'a retried producer batch must be the only batch for its partition',
            { partition: this.name },
          );
        }
        return {
          baseOffset: verdict.baseOffset,
          lastOffset: verdict.lastOffset,
          logAppendTime: -1,
          logStartOffset: this.startOffset,
          duplicate: true,
        };
      }
    }
    return null;
  }

  /** After a failed write: cut the partial bytes off and report the OS error. State is untouched. */
  private async undoWrite(segment: Segment, goodSize: number, error: unknown): Promise<never> {
    try {
      await segment.fh.truncate(goodSize);
    } catch (truncateError) {
      // Appends write at the in-memory end, so leftover bytes are overwritten or cut by recovery.
      this.logger.error('could not truncate after a failed write', {
        partition: this.name,
        size: goodSize,
        error: describeOsError(truncateError),
      });
    }
    const failure = this.storageError('append failed, nothing was stored', error);
    this.logger.error('append failed', { partition: this.name, error: describeOsError(error) });
    throw failure;
  }

  /** Seals the active segment and starts a new one at the log end. */
  private async roll(now: number): Promise<Segment> {
    const old = this.activeSegment;
    let created: Segment | null = null;
    try {
      await old.fh.truncate(old.size);
      await old.seal();
      created = await Segment.create(this.dir, old.nextOffset, now);
      await syncDirectory(this.dir);
    } catch (error) {
      if (created) await created.deleteFiles().catch(() => undefined);
      throw this.storageError('rolling a new segment failed', error);
    }
    this.segments.push(created);
    this.dirty = false;
    return created;
  }

  /** Moves the log start offset forward (durably first) and deletes sealed segments below it. */
  private async advanceStart(offset: number, reason: string): Promise<void> {
    try {
      await writeLogStartCheckpoint(this.dir, offset);
    } catch (error) {
      throw this.storageError('recording the log start offset failed', error);
    }
    this.startOffset = offset;
    let drop = 0;
    while (drop < this.segments.length - 1 && this.segments[drop + 1]!.baseOffset <= offset) drop++;
    const gone = this.segments.slice(0, drop);
    this.segments = this.segments.slice(drop);
    for (const segment of gone) {
      try {
        await segment.deleteFiles();
      } catch (error) {
        this.logger.warn('could not delete segment files', { partition: this.name, file: segment.logPath, error: describeOsError(error) });
      }
    }
    this.logger.info('log start offset advanced', { partition: this.name, logStartOffset: offset, deletedSegments: drop, reason });
    // A stale checkpoint is collapsed the same way on the next open.
    if (this.epochs.truncateFromStart(offset)) await this.saveEpochs(false);
  }
}

/** True when `bytes` fit this turn's synchronous write budget (and takes them from it). */
function takeSyncWriteBudget(bytes: number): boolean {
  if (syncWriteBytesThisTurn + bytes > SYNC_WRITE_BYTES_PER_TURN) return false;
  if (syncWriteBytesThisTurn === 0) setImmediate(() => (syncWriteBytesThisTurn = 0));
  syncWriteBytesThisTurn += bytes;
  return true;
}

/** Feeds a segment's producer batches to producer state, unless all are older than `horizon`. */
async function replayProducerBatches(segment: Segment, producerState: ProducerStateTable, horizon: number): Promise<void> {
  if (segment.maxTimestamp < horizon && segment.lastModified < horizon) return;
  await walkBatches(segment.fh, 0, segment.size, { verify: false, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch) => {
    if (batch.producerId >= 0) producerState.record(batch, batch.baseOffset);
  });
}

async function loadSealedSegment(
  segment: Segment,
  fileSize: number,
  nextBase: number,
  config: LogConfig,
  name: string,
  logger: Logger,
): Promise<void> {
  let problem = await segment.loadIndexes(fileSize);
  if (problem === null && segment.nextOffset > nextBase) {
    problem = `index files say the segment ends at offset ${segment.nextOffset}, past the next segment's base ${nextBase}`;
  }
  if (problem === null) return;
  logger.warn('rebuilding segment indexes', { partition: name, file: segment.logPath, reason: problem });
  segment.resetIndexes();
  const result = await walkBatches(segment.fh, 0, fileSize, { verify: false, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch, position, size) => {
    segment.trackBatch(batch, position, size, config.indexIntervalBytes);
  });
  if (result.problem) {
    // Never cut data out of a sealed segment: serve what is readable and say so.
    logger.error('sealed segment has unreadable bytes; serving the readable part', {
      partition: name,
      file: segment.logPath,
      readableBytes: result.end,
      fileBytes: fileSize,
      reason: result.problem,
    });
    return;
  }
  await segment.seal();
}

async function recoverActiveSegment(
  segment: Segment,
  fileSize: number,
  expectedBase: number,
  config: LogConfig,
  name: string,
  logger: Logger,
  producerState: ProducerStateTable,
  epochStarts: EpochEntry[],
): Promise<void> {
  let expected = Math.max(expectedBase, segment.baseOffset);
  const result = await walkBatches(segment.fh, 0, fileSize, { verify: true, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch, position, size) => {
    if (batch.baseOffset < expected) {
      return `batch at position ${position} has base offset ${batch.baseOffset}, expected at least ${expected}`;
    }
    segment.trackBatch(batch, position, size, config.indexIntervalBytes);
    if (batch.producerId >= 0) producerState.record(batch, batch.baseOffset);
    if (batch.partitionLeaderEpoch > (epochStarts.at(-1)?.epoch ?? -1)) {
      epochStarts.push({ epoch: batch.partitionLeaderEpoch, startOffset: batch.baseOffset });
    }
    expected = batch.nextOffset;
  });
  if (result.end < fileSize) {
    logger.warn('truncating torn or corrupt log tail', {
      partition: name,
      file: segment.logPath,
      cutBytes: fileSize - result.end,
      atPosition: result.end,
      reason: result.problem ?? 'unknown',
    });
    await segment.fh.truncate(result.end);
    await segment.fh.sync();
  }
}

/**
 * Brings the loaded epoch checkpoint in line with the recovered log: rebuilt from every batch
 * when the file was missing or unreadable, cut at the log end, completed with the epochs the
 * active segment holds (written just before a crash that kept the checkpoint from following),
 * and collapsed at the log start. Saved when that changed it.
 */
async function recoverEpochs(
  epochs: LeaderEpochCache,
  problem: string | null,
  segments: Segment[],
  activeEpochStarts: EpochEntry[],
  startOffset: number,
  name: string,
  logger: Logger,
): Promise<void> {
  let changed = false;
  if (problem !== null && (problem !== 'missing' || segments.some((segment) => !segment.isEmpty))) {
    logger.warn('rebuilding the leader-epoch cache from the log', { partition: name, file: epochs.path, reason: problem });
    for (const segment of segments.slice(0, -1)) {
      await walkBatches(segment.fh, 0, segment.size, { verify: false, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch) => {
        epochs.assign(batch.partitionLeaderEpoch, batch.baseOffset);
      });
    }
    changed = true;
  }
  if (epochs.truncateFromEnd(segments[segments.length - 1]!.nextOffset)) changed = true;
  for (const start of activeEpochStarts) if (epochs.assign(start.epoch, start.startOffset)) changed = true;
  if (epochs.truncateFromStart(startOffset)) changed = true;
  if (changed) await epochs.save();
}

/** Reads whole batches starting at `found`, up to maxBytes (or the first batch whole), all below `endOffset`. */
async function readWholeBatches(
  segment: Segment,
  found: FoundBatch,
  maxBytes: number,
  minOneMessage: boolean,
  endOffset: number,
): Promise<Buffer> {
  if (found.lastOffset >= endOffset) return EMPTY;
  const available = segment.size - found.position;
  if (found.size > maxBytes) {
    return minOneMessage ? readAt(segment.fh, found.position, found.size) : EMPTY;
  }
  const chunk = await readAt(segment.fh, found.position, Math.min(available, maxBytes));
  let whole = 0;
  for (;;) {
    const size = batchSizeAt(chunk, whole);
    if (size === null || size < BATCH_HEADER_BYTES || whole + size > chunk.length) break;
    if (new RecordBatch(chunk.subarray(whole, whole + BATCH_HEADER_BYTES)).lastOffset >= endOffset) break;
    whole += size;
  }
  return chunk.subarray(0, whole);
}

function firstRecordAtOrAfter(batch: RecordBatch, timestamp: number, startOffset: number, partition: string): TimestampLookup {
  // Appends reject unknown codecs, but a segment written by a newer broker may hold one: answer
  // from the header, which is never wrong by more than the batch.
  if (batch.compression !== null) {
    for (const record of decodeStoredRecords(batch, partition)) {
      if (record.offset >= startOffset && record.timestamp >= timestamp) return { offset: record.offset, timestamp: record.timestamp };
    }
  }
  return { offset: Math.max(batch.baseOffset, startOffset), timestamp: batch.maxTimestamp };
}

async function readLogStartCheckpoint(dir: string, name: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(join(dir, LOG_START_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StorageError(
      StorageErrorCode.KAFKA_STORAGE_ERROR,
      `${join(dir, LOG_START_FILE)} holds ${JSON.stringify(text.trim())}, not an offset`,
      { partition: name },
    );
  }
  return value;
}

async function writeLogStartCheckpoint(dir: string, offset: number): Promise<void> {
  await replaceFileDurably(join(dir, LOG_START_FILE), `${offset}\n`);
}
