// Decompression of Kafka's snappy, lz4 and zstd record batches, for the broker paths that must
// see the records inside a stored batch (ListOffsets by timestamp); produce and fetch never
// decompress. Node 20 ships none of the three codecs, so each comes from a maintained pure-JS
// package that the build bundles into the broker; gzip comes from node:zlib.
//
// What producers write: LZ4 is always the LZ4 frame format in v2 batches. Snappy is raw snappy
// from librdkafka, kafkajs and most non-Java clients, but the Java client writes the xerial
// snappy-java stream framing; like librdkafka, reading accepts both.
import { gunzipSync } from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';
import lz4 from 'lz4js';
import snappy from 'snappyjs';
import { StorageError, StorageErrorCode } from './errors.js';
import { decodeRecords, type CompressionName, type DecodedRecord, type Decompressor, type RecordBatch } from './record-batch.js';
import { describeError } from '../log.js';

/** "\x82SNAPPY\0", the first bytes of a snappy-java (xerial) stream. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** The magic, then the stream's version and minimum compatible version (int32 each). */
const XERIAL_HEADER_BYTES = 16;
const XERIAL_CHUNK_LENGTH_BYTES = 4;

/**
 * Most bytes one batch may decompress to. Produce stores batches without decompressing them,
 * so a batch built to expand enormously is accepted as sent; this bound keeps a later
 * timestamp lookup on it from allocating gigabytes. Real batches stay far below it: a batch
 * is at most max.message.bytes (1 MiB by default) compressed, and records rarely shrink 64×.
 */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Views a library's Uint8Array result as a Buffer without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A batch that would decompress past the bound: refused, not damaged. */
class DecompressedTooLarge extends Error {
  constructor(limit: number, what = 'decompresses to') {
    super(`${what} more than ${limit} bytes`);
  }
}

/** lz4js stops silently at its output limit: asking for one byte more tells. */
function bounded(output: Uint8Array, limit: number): Buffer {
  if (output.length > limit) throw new DecompressedTooLarge(limit);
  return asBuffer(output);
}

const ZSTD_FRAME_MAGIC = 0xfd2fb528;
/** Skippable frames carry 0x184D2A50..0x184D2A5F, then their size. */
const ZSTD_SKIPPABLE_MAGIC = 0x184d2a50;
const ZSTD_RLE_BLOCK = 1;
const ZSTD_RESERVED_BLOCK = 3;

/**
 * The largest window any frame of a zstd payload asks for (RFC 8878, section 3.1.1). fzstd
 * allocates and clears that window before it decodes a byte, so a ten-byte frame declaring a
 * 1 GiB window would cost a gigabyte: frames are walked, header by header and block by block,
 * before any is decoded. A payload this walk cannot follow is left to fzstd to reject.
 */
function largestZstdWindow(data: Buffer): number {
  let largest = 0;
  let at = 0;
  while (at + 8 <= data.length) {
    const magic = data.readUInt32LE(at);
    if ((magic & 0xfffffff0) === ZSTD_SKIPPABLE_MAGIC) {
      at += 8 + data.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== ZSTD_FRAME_MAGIC) break;
    const descriptor = data[at + 4]!;
    const singleSegment = (descriptor & 0x20) !== 0;
    let position = at + 5;
    let window = 0;
    if (!singleSegment) {
      const windowDescriptor = data[position++]!;
      const base = 2 ** (10 + (windowDescriptor >> 3));
      window = base + (base / 8) * (windowDescriptor & 0x07);
    }
    position += [0, 1, 2, 4][descriptor & 0x03]!; // dictionary id
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
    if (singleSegment && position + contentSizeBytes <= data.length) {
      // A single-segment frame's window is its content size; the 2-byte form counts from 256.
      window = data.readUIntLE(position, Math.min(contentSizeBytes, 6)) + (contentSizeBytes === 2 ? 256 : 0);
      if (contentSizeBytes === 8 && data.readUInt16LE(position + 6) !== 0) window = Number.MAX_SAFE_INTEGER;
    }
    largest = Math.max(largest, window);
    position += contentSizeBytes;
    for (let last = false; !last; ) {
      if (position + 3 > data.length) return largest;
      const header = data.readUIntLE(position, 3);
      last = (header & 1) === 1;
      const type = (header >> 1) & 0x03;
      if (type === ZSTD_RESERVED_BLOCK) return largest;
      position += 3 + (type === ZSTD_RLE_BLOCK ? 1 : header >>> 3);
    }
    at = position + ((descriptor & 0x04) !== 0 ? 4 : 0); // content checksum
  }
  return largest;
}

/**
 * Block by block, so the bound holds while unpacking: a zstd frame need not declare its size,
 * and each tiny block may expand to 128 KiB.
 */
function decompressZstd(compressed: Buffer, limit: number): Buffer {
  const window = largestZstdWindow(compressed);
  if (window > limit) throw new DecompressedTooLarge(limit, `needs a ${window}-byte zstd window,`);
  const blocks: Uint8Array[] = [];
  let total = 0;
  const stream = new ZstdStream((block) => {
    total += block.length;
    if (total > limit) throw new DecompressedTooLarge(limit);
    blocks.push(block);
  });
  stream.push(compressed, true);
  return Buffer.concat(blocks, total);
}

function gunzipUpTo(compressed: Buffer, limit: number): Buffer {
  try {
    return gunzipSync(compressed, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new DecompressedTooLarge(limit);
    throw error;
  }
}

/** A raw snappy block starts with its uncompressed length as a little-endian base-128 varint. */
function snappyLength(block: Buffer): number {
  let length = 0;
  for (let at = 0, shift = 0; at < Math.min(block.length, 5); at++, shift += 7) {
    length += (block[at]! & 0x7f) * 2 ** shift;
    if (block[at]! < 0x80) return length;
  }
  throw new Error('the snappy length preamble is malformed');
}

function uncompressSnappyBlock(block: Buffer, limit: number): Buffer {
  if (snappyLength(block) > limit) throw new DecompressedTooLarge(limit);
  return asBuffer(snappy.uncompress(block));
}

function isXerial(compressed: Buffer): boolean {
  return compressed.length >= XERIAL_HEADER_BYTES && compressed.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

function decompressSnappy(compressed: Buffer, limit: number): Buffer {
  if (!isXerial(compressed)) return uncompressSnappyBlock(compressed, limit);
  // After the header, [int32 big-endian length][raw snappy block] chunks to the end.
  const blocks: Buffer[] = [];
  let total = 0;
  let at = XERIAL_HEADER_BYTES;
  while (at < compressed.length) {
    const remaining = compressed.length - at - XERIAL_CHUNK_LENGTH_BYTES;
    if (remaining < 0) {
      throw new Error(`xerial snappy stream ends with ${compressed.length - at} bytes at byte ${at}, too few for a chunk length`);
    }
    const size = compressed.readInt32BE(at);
    if (size < 0 || size > remaining) {
      throw new Error(`xerial snappy chunk at byte ${at} declares ${size} bytes but ${remaining} remain`);
    }
    at += XERIAL_CHUNK_LENGTH_BYTES;
    const block = compressed.subarray(at, at + size);
    total += snappyLength(block);
    if (total > limit) throw new DecompressedTooLarge(limit);
    blocks.push(asBuffer(snappy.uncompress(block)));
    at += size;
  }
  return Buffer.concat(blocks);
}

/** Decompressors for every Kafka codec, each refusing to produce more than `limit` bytes. */
function decompressorsUpTo(limit: number): Readonly<Record<Exclude<CompressionName, 'none'>, Decompressor>> {
  return {
    gzip: (compressed) => gunzipUpTo(compressed, limit),
    snappy: (compressed) => decompressSnappy(compressed, limit),
    // lz4js allocates its whole output first: never more than the frame can hold, nor past the bound.
    lz4: (compressed) => bounded(lz4.decompress(compressed, Math.min(limit + 1, lz4.decompressBound(compressed))), limit),
    zstd: (compressed) => decompressZstd(compressed, limit),
  };
}

const defaultDecompressors = decompressorsUpTo(MAX_DECOMPRESSED_BYTES);

/**
 * Decodes the records of a batch read from `partition`'s log, whatever its codec. A batch whose
 * bytes do not decompress or decode throws CORRUPT_MESSAGE naming the partition and the batch's
 * offsets, never a library's bare error: a producer's encoder may have sent bad data under a
 * good CRC, or the disk may have damaged it since (readers here skip the CRC check).
 */
export function decodeStoredRecords(batch: RecordBatch, partition: string, limit = MAX_DECOMPRESSED_BYTES): DecodedRecord[] {
  try {
    return decodeRecords(batch, limit === MAX_DECOMPRESSED_BYTES ? defaultDecompressors : decompressorsUpTo(limit));
  } catch (error) {
    const batchName = `the ${batch.compression} batch at offsets ${batch.baseOffset}..${batch.lastOffset}`;
    // decodeRecords' own errors already name the batch; the codec libraries' do not.
    const message =
      error instanceof StorageError
        ? error.message
        : error instanceof DecompressedTooLarge
          ? `${batchName} ${error.message}, the most the broker unpacks to look inside one batch`
          : `${batchName} does not decompress (${describeError(error)}): ` +
            `its bytes are not valid ${batch.compression} data`;
    const code = error instanceof StorageError ? error.kafkaErrorCode : StorageErrorCode.CORRUPT_MESSAGE;
    throw new StorageError(code, message, { partition, cause: error });
  }
}
