// One log segment: `<20-digit base offset>.log` holding record batches back to back, plus two
// sparse indexes kept in memory and written beside it when the segment is sealed (rolled):
//
//   .index      8-byte entries (int32 offset - baseOffset, int32 file position): the batch that
//               starts at that offset starts at that position. One entry whenever more than
//               index.interval.bytes were appended since the previous one.
//   .timeindex  12-byte entries (int64 timestamp T, int32 offset O - baseOffset): every batch in
//               this segment before offset O has max timestamp ≤ T. Added with an offset entry
//               when the segment's max timestamp grew; O always has an offset entry. A sealed
//               file ends with (segment max timestamp, segment next offset), which also records
//               where the segment ends.
//
// The active (last) segment's indexes live only in memory: recovery rebuilds them from the
// batches it validates anyway, so they are written once, when the segment is sealed.
import { writeSync } from 'node:fs';
import { open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BATCH_HEADER_BYTES, batchSizeAt, CURRENT_MAGIC, RecordBatch, readInt64, writeInt64 } from './record-batch.js';

const OFFSET_ENTRY_BYTES = 8;
const TIME_ENTRY_BYTES = 12;

export function segmentFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** Reads `length` bytes at `position` (fewer only at end of file). */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buf : buf.subarray(0, filled);
}

/** Writes all of `buf` at `position`, continuing after short writes. */
export async function writeAt(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buf.length) {
    const { bytesWritten } = await fh.write(buf, written, buf.length - written, position + written);
    written += bytesWritten;
  }
}

/**
 * Writes all of `buf` at `position` on the calling thread. For appends of bounded size: an
 * async write of 1 MiB measured ~4.7 ms (thread-pool hand-off) against ~1.6 ms in place.
 */
export function writeAtSync(fh: FileHandle, buf: Buffer, position: number): void {
  let written = 0;
  while (written < buf.length) written += writeSync(fh.fd, buf, written, buf.length - written, position + written);
}

export interface WalkOptions {
  /** Read whole batches and check their CRC (recovery); otherwise only headers are read. */
  verify: boolean;
  chunkBytes: number;
}

export interface WalkResult {
  /** Position after the last batch visited (or where the visitor stopped). */
  end: number;
  /** Why the walk stopped before `to`, or null. */
  problem: string | null;
}

/**
 * Visits the batches in `[from, to)` in order. With `verify` the visitor sees whole batches
 * (CRC checked), otherwise header-only views (61 bytes; use `size` for the batch length).
 * The visitor returns a string to stop with that problem, or `false` to stop cleanly.
 */
export async function walkBatches(
  fh: FileHandle,
  from: number,
  to: number,
  options: WalkOptions,
  visit: (batch: RecordBatch, position: number, size: number) => string | false | void,
): Promise<WalkResult> {
  let chunk: Buffer = Buffer.alloc(0);
  let chunkStart = from;
  let position = from;
  while (position < to) {
    let rel = position - chunkStart;
    if (rel + BATCH_HEADER_BYTES > chunk.length) {
      chunk = await readAt(fh, position, Math.min(options.chunkBytes, to - position));
      chunkStart = position;
      rel = 0;
      if (chunk.length < BATCH_HEADER_BYTES) {
        return { end: position, problem: `${to - position} trailing bytes are too few for a batch header` };
      }
    }
    const header = new RecordBatch(chunk.subarray(rel, rel + BATCH_HEADER_BYTES));
    const size = batchSizeAt(chunk, rel)!;
    const magic = header.magic;
    if (magic !== CURRENT_MAGIC) return { end: position, problem: `batch at position ${position} has magic ${magic}` };
    if (size < BATCH_HEADER_BYTES) return { end: position, problem: `batch at position ${position} declares ${size} bytes` };
    if (size > to - position) {
      return {
        end: position,
        problem: `batch at position ${position} declares ${size} bytes but only ${to - position} remain (torn write)`,
      };
    }
    let bytes: Buffer;
    if (!options.verify) bytes = header.buffer;
    else if (rel + size <= chunk.length) bytes = chunk.subarray(rel, rel + size);
    else if (size > options.chunkBytes) bytes = await readAt(fh, position, size);
    else {
      chunk = await readAt(fh, position, Math.min(options.chunkBytes, to - position));
      chunkStart = position;
      bytes = chunk.subarray(0, size);
    }
    if (bytes.length < (options.verify ? size : BATCH_HEADER_BYTES)) {
      return { end: position, problem: `file ends inside the batch at position ${position}` };
    }
    const batch = options.verify ? new RecordBatch(bytes) : header;
    if (options.verify && !batch.hasValidCrc()) {
      return { end: position, problem: `batch at position ${position} fails its CRC-32C check` };
    }
    if (batch.recordCount <= 0 || batch.lastOffsetDelta < 0) {
      return { end: position, problem: `batch at position ${position} has an invalid header` };
    }
    const verdict = visit(batch, position, size);
    if (typeof verdict === 'string') return { end: position, problem: verdict };
    if (verdict === false) return { end: position, problem: null };
    position += size;
  }
  return { end: position, problem: null };
}

/** Index of the last element ≤ `value` in the sorted `values`, or -1. */
function floorIndex(values: readonly number[], value: number): number {
  let low = 0;
  let high = values.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (values[mid]! <= value) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found;
}

export class Segment {
  /** Bytes of valid batches; writes go here and reads never look past it. */
  size = 0;
  /** Offset after the last batch (baseOffset while empty). */
  nextOffset: number;
  /** Largest batch max timestamp, -1 while none. */
  maxTimestamp = -1;
  /**
   * segment.ms counts from here: when this process created the segment, or, for a segment
   * reopened after a restart, its first batch's max timestamp (-1 until known).
   */
  rollBaseTimestamp: number;
  /** Wall-clock time of the last change, for retention of batches without timestamps. */
  lastModified: number;

  private readonly indexOffsets: number[] = [];
  private readonly indexPositions: number[] = [];
  private readonly timeTimestamps: number[] = [];
  private readonly timeOffsets: number[] = [];
  private bytesSinceIndexEntry = 0;
  private readers = 0;
  private retired = false;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    readonly fh: FileHandle,
    rollBase: number,
    lastModified: number,
  ) {
    this.nextOffset = baseOffset;
    this.rollBaseTimestamp = rollBase;
    this.lastModified = lastModified;
  }

  /** Creates an empty segment file (replacing a leftover file of that name, which cannot hold log data). */
  static async create(dir: string, baseOffset: number, now: number): Promise<Segment> {
    const fh = await open(join(dir, segmentFileName(baseOffset, '.log')), 'w+');
    return new Segment(dir, baseOffset, fh, now, now);
  }

  /** Opens an existing segment file; the caller then loads or rebuilds its indexes. */
  static async openExisting(dir: string, baseOffset: number): Promise<{ segment: Segment; fileSize: number }> {
    const fh = await open(join(dir, segmentFileName(baseOffset, '.log')), 'r+');
    const stat = await fh.stat();
    const segment = new Segment(dir, baseOffset, fh, -1, stat.mtimeMs);
    return { segment, fileSize: stat.size };
  }

  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.log'));
  }
  get indexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.index'));
  }
  get timeIndexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.timeindex'));
  }
  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** Accounts for a batch stored at `position`: indexes, end, timestamps. */
  trackBatch(batch: RecordBatch, position: number, size: number, indexIntervalBytes: number): void {
    const baseOffset = batch.baseOffset;
    const maxTimestamp = batch.maxTimestamp;
    if (position === 0) this.rollBaseTimestamp = Math.max(this.rollBaseTimestamp, maxTimestamp);
    if (this.bytesSinceIndexEntry > indexIntervalBytes) {
      const lastTime = this.timeTimestamps[this.timeTimestamps.length - 1] ?? -1;
      if (this.maxTimestamp > lastTime) {
        this.timeTimestamps.push(this.maxTimestamp);
        this.timeOffsets.push(baseOffset - this.baseOffset);
      }
      this.indexOffsets.push(baseOffset - this.baseOffset);
      this.indexPositions.push(position);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
    this.nextOffset = baseOffset + batch.lastOffsetDelta + 1;
    this.size = position + size;
  }

  /** Forgets all index entries and batches (before a rebuild). */
  resetIndexes(): void {
    this.indexOffsets.length = 0;
    this.indexPositions.length = 0;
    this.timeTimestamps.length = 0;
    this.timeOffsets.length = 0;
    this.bytesSinceIndexEntry = 0;
    this.size = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
  }

  /** Position of a batch starting at or before `offset` (0 when none is indexed). */
  positionAtOrBefore(offset: number): number {
    const i = floorIndex(this.indexOffsets, offset - this.baseOffset);
    return i < 0 ? 0 : this.indexPositions[i]!;
  }

  /** Position from which to scan for the first batch with max timestamp ≥ `timestamp`. */
  positionForTimestamp(timestamp: number): number {
    // Largest entry with T < timestamp: everything before its offset is older than asked.
    const i = floorIndex(this.timeTimestamps, timestamp - 1);
    return i < 0 ? 0 : this.positionAtOrBefore(this.baseOffset + this.timeOffsets[i]!);
  }

  /**
   * Loads the sealed index files, checking them against the segment file. Returns why they
   * cannot be used (missing, torn, inconsistent), or null after loading them.
   */
  async loadIndexes(fileSize: number): Promise<string | null> {
    let offsetIndex: Buffer;
    let timeIndex: Buffer;
    try {
      [offsetIndex, timeIndex] = await Promise.all([readFile(this.indexPath), readFile(this.timeIndexPath)]);
    } catch (error) {
      return `index files unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
    if (offsetIndex.length % OFFSET_ENTRY_BYTES !== 0) return `.index size ${offsetIndex.length} is not a multiple of 8`;
    if (timeIndex.length % TIME_ENTRY_BYTES !== 0 || timeIndex.length === 0) {
      return `.timeindex size ${timeIndex.length} is not a positive multiple of 12`;
    }
    const offsets: number[] = [];
    const positions: number[] = [];
    for (let at = 0; at < offsetIndex.length; at += OFFSET_ENTRY_BYTES) {
      const relative = offsetIndex.readInt32BE(at);
      const position = offsetIndex.readInt32BE(at + 4);
      if (relative <= (offsets[offsets.length - 1] ?? -1) || position <= (positions[positions.length - 1] ?? -1)) {
        return `.index entry ${at / OFFSET_ENTRY_BYTES} is out of order`;
      }
      if (position >= fileSize) return `.index entry ${at / OFFSET_ENTRY_BYTES} points past the end of the log file`;
      offsets.push(relative);
      positions.push(position);
    }
    const timestamps: number[] = [];
    const timeOffsets: number[] = [];
    for (let at = 0; at < timeIndex.length; at += TIME_ENTRY_BYTES) {
      const timestamp = readInt64(timeIndex, at);
      const relative = timeIndex.readInt32BE(at + 8);
      if (timestamp < (timestamps[timestamps.length - 1] ?? -1) || relative < (timeOffsets[timeOffsets.length - 1] ?? 0)) {
        return `.timeindex entry ${at / TIME_ENTRY_BYTES} is out of order`;
      }
      timestamps.push(timestamp);
      timeOffsets.push(relative);
    }
    const endTimestamp = timestamps.pop()!;
    const endRelative = timeOffsets.pop()!;
    if (endRelative <= (offsets[offsets.length - 1] ?? (fileSize > 0 ? 0 : -1))) {
      return '.timeindex end entry is not after the last indexed batch';
    }
    if (timeOffsets.some((relative) => offsets[floorIndex(offsets, relative)] !== relative)) {
      return '.timeindex names an offset the .index does not';
    }
    // The last indexed batch must really be there.
    const lastPosition = positions[positions.length - 1];
    if (lastPosition !== undefined) {
      const header = await readAt(this.fh, lastPosition, BATCH_HEADER_BYTES);
      const expected = this.baseOffset + offsets[offsets.length - 1]!;
      const batch = new RecordBatch(header);
      if (header.length < BATCH_HEADER_BYTES || batch.baseOffset !== expected || batch.magic !== CURRENT_MAGIC) {
        return `.index says offset ${expected} starts at position ${lastPosition}, but the log file disagrees`;
      }
    }
    this.indexOffsets.splice(0, Infinity, ...offsets);
    this.indexPositions.splice(0, Infinity, ...positions);
    this.timeTimestamps.splice(0, Infinity, ...timestamps);
    this.timeOffsets.splice(0, Infinity, ...timeOffsets);
    this.size = fileSize;
    this.nextOffset = this.baseOffset + endRelative;
    this.maxTimestamp = endTimestamp;
    return null;
  }

  /**
   * Makes the segment durable before a newer one is created: its bytes, then its index files
   * with the end entry. After this, recovery may trust the index files.
   */
  async seal(): Promise<void> {
    const offsetIndex = Buffer.alloc(this.indexOffsets.length * OFFSET_ENTRY_BYTES);
    this.indexOffsets.forEach((relative, i) => {
      offsetIndex.writeInt32BE(relative, i * OFFSET_ENTRY_BYTES);
      offsetIndex.writeInt32BE(this.indexPositions[i]!, i * OFFSET_ENTRY_BYTES + 4);
    });
    const entries = this.timeTimestamps.length + 1;
    const timeIndex = Buffer.alloc(entries * TIME_ENTRY_BYTES);
    const writeTimeEntry = (i: number, timestamp: number, relative: number) => {
      writeInt64(timeIndex, i * TIME_ENTRY_BYTES, timestamp);
      timeIndex.writeInt32BE(relative, i * TIME_ENTRY_BYTES + 8);
    };
    this.timeTimestamps.forEach((timestamp, i) => writeTimeEntry(i, timestamp, this.timeOffsets[i]!));
    writeTimeEntry(entries - 1, this.maxTimestamp, this.nextOffset - this.baseOffset);
    await this.fh.sync();
    await writeDurably(this.indexPath, offsetIndex);
    await writeDurably(this.timeIndexPath, timeIndex);
  }

  /** Marks a reader in flight, so deletion waits before closing the file. */
  acquire(): void {
    this.readers++;
  }

  release(): void {
    this.readers--;
    if (this.retired && this.readers === 0) void this.fh.close().catch(() => undefined);
  }

  /** Closes the file once no reader holds it (after delete or close). */
  async retire(): Promise<void> {
    this.retired = true;
    if (this.readers === 0) await this.fh.close();
  }

  /** Removes the segment's files; the handle closes when the last reader releases it. */
  async deleteFiles(): Promise<void> {
    await rm(this.logPath, { force: true });
    await rm(this.indexPath, { force: true });
    await rm(this.timeIndexPath, { force: true });
    await this.retire();
  }
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  await writeFile(path, data);
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
