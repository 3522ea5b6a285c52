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
  constructor(readonly limit: number) {
    super(`decompresses to more than ${limit} bytes`);
  }
}

/** lz4js stops silently at its output limit: asking for one byte more tells. */
function bounded(output: Uint8Array, limit: number): Buffer {
  if (output.length > limit) throw new DecompressedTooLarge(limit);
  return asBuffer(output);
}

/**
 * Block by block, so the bound holds while unpacking: a zstd frame need not declare its size,
 * and each tiny block may expand to 128 KiB.
 */
function decompressZstd(compressed: Buffer, limit: number): Buffer {
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
    lz4: (compressed) => bounded(lz4.decompress(compressed, limit + 1), limit),
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
          : `${batchName} does not decompress (${error instanceof Error ? error.message : String(error)}): ` +
            `its bytes are not valid ${batch.compression} data`;
    const code = error instanceof StorageError ? error.kafkaErrorCode : StorageErrorCode.CORRUPT_MESSAGE;
    throw new StorageError(code, message, { partition, cause: error });
  }
}
