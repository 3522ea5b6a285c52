// Magic-v2 record batches: a zero-copy header view, validation of a produced records buffer,
// the in-place rewrites the log makes (base offset, leader epoch, LogAppendTime), and a small
// encoder/decoder for the broker's own internal topics.
//
// Layout (big-endian), as every Kafka client writes it:
//   0 baseOffset int64 | 8 batchLength int32 (bytes after this field) | 12 partitionLeaderEpoch int32
//   16 magic int8 | 17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16
//   23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64 | 43 producerId int64
//   51 producerEpoch int16 | 53 baseSequence int32 | 57 recordCount int32 | 61 records…
// The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch, so assigning offsets
// and epochs never needs a new checksum. Offsets and timestamps are JavaScript numbers: exact
// up to 2^53, far beyond any offset or millisecond timestamp a log reaches.
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from './crc32c.js';
import { StorageError, StorageErrorCode } from './errors.js';

export const BATCH_HEADER_BYTES = 61;
/** Bytes before the batchLength-counted part: baseOffset + batchLength. */
export const BATCH_LENGTH_PREFIX_BYTES = 12;
export const CURRENT_MAGIC = 2;

const BASE_OFFSET = 0;
const BATCH_LENGTH = 8;
const PARTITION_LEADER_EPOCH = 12;
const MAGIC = 16;
const CRC = 17;
const ATTRIBUTES = 21;
const LAST_OFFSET_DELTA = 23;
const BASE_TIMESTAMP = 27;
const MAX_TIMESTAMP = 35;
const PRODUCER_ID = 43;
const PRODUCER_EPOCH = 51;
const BASE_SEQUENCE = 53;
const RECORD_COUNT = 57;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof Compression;
const compressionNames: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export type TimestampType = 'CreateTime' | 'LogAppendTime';

const TWO_32 = 2 ** 32;

export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

export function writeInt64(buf: Buffer, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(value - high * TWO_32, at + 4);
}

/**
 * A view over one v2 batch held in `buffer` (exactly the batch's bytes). Getters read the
 * header on demand; nothing is copied or decoded.
 */
export class RecordBatch {
  constructor(readonly buffer: Buffer) {}

  get sizeInBytes(): number {
    return this.buffer.length;
  }
  get baseOffset(): number {
    return readInt64(this.buffer, BASE_OFFSET);
  }
  get batchLength(): number {
    return this.buffer.readInt32BE(BATCH_LENGTH);
  }
  get partitionLeaderEpoch(): number {
    return this.buffer.readInt32BE(PARTITION_LEADER_EPOCH);
  }
  get magic(): number {
    return this.buffer.readInt8(MAGIC);
  }
  get crc(): number {
    return this.buffer.readUInt32BE(CRC);
  }
  get attributes(): number {
    return this.buffer.readInt16BE(ATTRIBUTES);
  }
  /** null for a codec number Kafka does not define (appends reject those). */
  get compression(): CompressionName | null {
    return compressionNames[this.attributes & COMPRESSION_MASK] ?? null;
  }
  get timestampType(): TimestampType {
    return this.attributes & TIMESTAMP_TYPE_BIT ? 'LogAppendTime' : 'CreateTime';
  }
  get isTransactional(): boolean {
    return (this.attributes & TRANSACTIONAL_BIT) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & CONTROL_BIT) !== 0;
  }
  get lastOffsetDelta(): number {
    return this.buffer.readInt32BE(LAST_OFFSET_DELTA);
  }
  get lastOffset(): number {
    return this.baseOffset + this.lastOffsetDelta;
  }
  /** Offset after this batch: where the next batch starts. */
  get nextOffset(): number {
    return this.baseOffset + this.lastOffsetDelta + 1;
  }
  get baseTimestamp(): number {
    return readInt64(this.buffer, BASE_TIMESTAMP);
  }
  get maxTimestamp(): number {
    return readInt64(this.buffer, MAX_TIMESTAMP);
  }
  /** -1 when the batch has no producer. */
  get producerId(): number {
    return readInt64(this.buffer, PRODUCER_ID);
  }
  get producerEpoch(): number {
    return this.buffer.readInt16BE(PRODUCER_EPOCH);
  }
  get baseSequence(): number {
    return this.buffer.readInt32BE(BASE_SEQUENCE);
  }
  get recordCount(): number {
    return this.buffer.readInt32BE(RECORD_COUNT);
  }

  /** True when the stored CRC matches the bytes it covers. */
  hasValidCrc(): boolean {
    return crc32c(this.buffer, ATTRIBUTES) === this.crc;
  }

  /** Assigns the batch's offsets (the CRC does not cover them). */
  setBaseOffset(offset: number): void {
    writeInt64(this.buffer, BASE_OFFSET, offset);
  }

  setPartitionLeaderEpoch(epoch: number): void {
    this.buffer.writeInt32BE(epoch, PARTITION_LEADER_EPOCH);
  }

  /**
   * Marks the batch LogAppendTime with `timestamp` as its max timestamp and recomputes the
   * CRC (both fields are covered by it). Records keep their deltas; readers of a
   * LogAppendTime batch take every record's timestamp from the header.
   */
  setLogAppendTime(timestamp: number): void {
    this.buffer.writeInt16BE(this.attributes | TIMESTAMP_TYPE_BIT, ATTRIBUTES);
    writeInt64(this.buffer, MAX_TIMESTAMP, timestamp);
    this.buffer.writeUInt32BE(crc32c(this.buffer, ATTRIBUTES), CRC);
  }
}

/**
 * Reads just the framing of the batch starting at `at`: its total size, or null when fewer
 * than BATCH_LENGTH_PREFIX_BYTES remain. A size below the minimum v2 batch is returned as-is
 * for the caller to reject.
 */
export function batchSizeAt(buf: Buffer, at: number): number | null {
  if (buf.length - at < BATCH_LENGTH_PREFIX_BYTES) return null;
  return BATCH_LENGTH_PREFIX_BYTES + buf.readInt32BE(at + BATCH_LENGTH);
}

export interface SplitOptions {
  /** `topic-partition` for error messages. */
  partition?: string;
  /** Check each batch's CRC (default true). */
  verifyCrc?: boolean;
}

/**
 * Splits a produced records buffer into batches, validating it as a whole: framing (lengths
 * fit exactly, no trailing bytes), magic 2, header sanity and CRC. The returned views share
 * memory with `records`. Errors map to CORRUPT_MESSAGE (damaged bytes), INVALID_RECORD
 * (well-formed but unacceptable) or UNSUPPORTED_FOR_MESSAGE_FORMAT (magic 0/1 message sets).
 */
export function splitBatches(records: Buffer, options: SplitOptions = {}): RecordBatch[] {
  const where = options.partition ? { partition: options.partition } : {};
  const batches: RecordBatch[] = [];
  let at = 0;
  while (at < records.length) {
    const size = batchSizeAt(records, at);
    if (size === null || records.length - at < BATCH_HEADER_BYTES) {
      throw new StorageError(
        StorageErrorCode.CORRUPT_MESSAGE,
        `records end with ${records.length - at} bytes, too few for a record batch header (at byte ${at})`,
        where,
      );
    }
    const magic = records.readInt8(at + MAGIC);
    if (magic !== CURRENT_MAGIC) {
      throw new StorageError(
        magic === 0 || magic === 1 ? StorageErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT : StorageErrorCode.CORRUPT_MESSAGE,
        magic === 0 || magic === 1
          ? `message format v${magic} at byte ${at} is not supported: this broker stores record batches (magic 2) only`
          : `record batch at byte ${at} has unknown magic ${magic}`,
        where,
      );
    }
    if (size < BATCH_HEADER_BYTES || size > records.length - at) {
      throw new StorageError(
        StorageErrorCode.CORRUPT_MESSAGE,
        `record batch at byte ${at} declares ${size} bytes but ${records.length - at} remain (minimum ${BATCH_HEADER_BYTES})`,
        where,
      );
    }
    const batch = new RecordBatch(records.subarray(at, at + size));
    validateHeader(batch, at, where);
    if (options.verifyCrc !== false && !batch.hasValidCrc()) {
      throw new StorageError(
        StorageErrorCode.CORRUPT_MESSAGE,
        `record batch at byte ${at} fails its CRC-32C check (stored ${batch.crc.toString(16)}, computed ${crc32c(batch.buffer, ATTRIBUTES).toString(16)})`,
        where,
      );
    }
    batches.push(batch);
    at += size;
  }
  return batches;
}

function validateHeader(batch: RecordBatch, at: number, where: { partition?: string }): void {
  const count = batch.recordCount;
  const delta = batch.lastOffsetDelta;
  if (count <= 0 || delta < 0 || delta < count - 1) {
    throw new StorageError(
      StorageErrorCode.INVALID_RECORD,
      `record batch at byte ${at} has ${count} records and lastOffsetDelta ${delta}`,
      where,
    );
  }
  if (batch.compression === null) {
    throw new StorageError(
      StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `record batch at byte ${at} uses unknown compression codec ${batch.attributes & COMPRESSION_MASK}`,
      where,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Records inside a batch: encoding for internal topics, decoding for readers in the broker.

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: readonly RecordHeader[];
  /** Defaults to the batch timestamp. */
  timestamp?: number;
}

export interface BuildBatchOptions {
  baseOffset?: number;
  /** Base timestamp; defaults to the first record's timestamp, else now. */
  timestamp?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  compression?: 'none' | 'gzip';
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** A decompressor for codecs Node has no built-in for (snappy, lz4, zstd). */
export type Decompressor = (compressed: Buffer) => Buffer;

/** Encodes records into one v2 batch (uncompressed or gzip) with a valid CRC. */
export function buildBatch(records: readonly RecordInput[], options: BuildBatchOptions = {}): Buffer {
  if (records.length === 0) {
    throw new StorageError(StorageErrorCode.INVALID_RECORD, 'a record batch needs at least one record');
  }
  const baseTimestamp = options.timestamp ?? records[0]?.timestamp ?? Date.now();
  let maxTimestamp = -1;
  const encoded = records.map((record, index) => {
    const timestamp = record.timestamp ?? baseTimestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    return encodeRecord(record, index, timestamp - baseTimestamp);
  });
  let body = Buffer.concat(encoded);
  const compression = options.compression ?? 'none';
  if (compression === 'gzip') body = gzipSync(body);

  const batch = Buffer.alloc(BATCH_HEADER_BYTES + body.length);
  writeInt64(batch, BASE_OFFSET, options.baseOffset ?? 0);
  batch.writeInt32BE(batch.length - BATCH_LENGTH_PREFIX_BYTES, BATCH_LENGTH);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH);
  batch.writeInt8(CURRENT_MAGIC, MAGIC);
  const attributes =
    Compression[compression] | (options.isTransactional ? TRANSACTIONAL_BIT : 0) | (options.isControl ? CONTROL_BIT : 0);
  batch.writeInt16BE(attributes, ATTRIBUTES);
  batch.writeInt32BE(records.length - 1, LAST_OFFSET_DELTA);
  writeInt64(batch, BASE_TIMESTAMP, baseTimestamp);
  writeInt64(batch, MAX_TIMESTAMP, maxTimestamp);
  writeInt64(batch, PRODUCER_ID, options.producerId ?? -1);
  batch.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH);
  batch.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE);
  batch.writeInt32BE(records.length, RECORD_COUNT);
  body.copy(batch, BATCH_HEADER_BYTES);
  batch.writeUInt32BE(crc32c(batch, ATTRIBUTES), CRC);
  return batch;
}

/**
 * Decodes a batch's records. Uncompressed and gzip batches decode with Node alone; other
 * codecs need a decompressor in `decompressors`.
 */
export function decodeRecords(
  batch: RecordBatch,
  decompressors: Partial<Record<CompressionName, Decompressor>> = {},
): DecodedRecord[] {
  const raw = batch.buffer.subarray(BATCH_HEADER_BYTES);
  const compression = batch.compression;
  if (compression === null) {
    throw new StorageError(
      StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `cannot decode the batch at offset ${batch.baseOffset}: unknown compression codec ${batch.attributes & COMPRESSION_MASK}`,
    );
  }
  let body: Buffer;
  if (compression === 'none') body = raw;
  else {
    const decompress = decompressors[compression] ?? (compression === 'gzip' ? gunzipSync : undefined);
    if (!decompress) {
      throw new StorageError(
        StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        `cannot decode a ${compression} batch at offset ${batch.baseOffset}: no ${compression} decompressor given`,
      );
    }
    body = decompress(raw);
  }
  const baseOffset = batch.baseOffset;
  const baseTimestamp = batch.baseTimestamp;
  const logAppendTime = batch.timestampType === 'LogAppendTime' ? batch.maxTimestamp : null;
  const reader = new VarReader(body, baseOffset);
  const records: DecodedRecord[] = [];
  for (let i = 0; i < batch.recordCount; i++) {
    const length = reader.varint();
    const end = reader.at + length;
    reader.at += 1; // record attributes, unused in v2
    const timestampDelta = reader.varint();
    const offsetDelta = reader.varint();
    const key = reader.bytes();
    const value = reader.bytes();
    const headerCount = reader.varint();
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const headerKey = reader.bytes();
      headers.push({ key: headerKey ? headerKey.toString('utf8') : '', value: reader.bytes() });
    }
    if (reader.at !== end) reader.fail(`record ${i} is ${length} bytes but its fields take ${reader.at - end + length}`);
    records.push({
      offset: baseOffset + offsetDelta,
      timestamp: logAppendTime ?? baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  }
  return records;
}

function encodeRecord(record: RecordInput, offsetDelta: number, timestampDelta: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0]), varint(timestampDelta), varint(offsetDelta)];
  pushBytes(parts, record.key ?? null);
  pushBytes(parts, record.value);
  const headers = record.headers ?? [];
  parts.push(varint(headers.length));
  for (const header of headers) {
    pushBytes(parts, Buffer.from(header.key, 'utf8'));
    pushBytes(parts, header.value);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(body.length), body]);
}

function pushBytes(parts: Buffer[], bytes: Buffer | null): void {
  if (bytes === null) parts.push(varint(-1));
  else parts.push(varint(bytes.length), bytes);
}

/** Zigzag varint/varlong of a safe integer (numbers, so up to 2^53 without BigInt). */
function varint(value: number): Buffer {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const out: number[] = [];
  while (zigzag >= 0x80) {
    out.push((zigzag % 0x80) | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  out.push(zigzag);
  return Buffer.from(out);
}

class VarReader {
  at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly baseOffset: number,
  ) {}

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.buf.length) this.fail('a varint runs past the end of the records');
      const byte = this.buf[this.at++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
    }
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  bytes(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    if (this.at + length > this.buf.length) this.fail(`a ${length}-byte field runs past the end of the records`);
    const bytes = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }

  fail(reason: string): never {
    throw new StorageError(StorageErrorCode.CORRUPT_MESSAGE, `batch at offset ${this.baseOffset}: ${reason}`);
  }
}
