// Reading the records of stored batches in every Kafka codec. Compressed bytes come from real
// encoders: kafkajs's batch encoder with the snappy/lz4 codecs the broker tests register with
// it, the reference zstd CLI, and a hand-built snappy-java (xerial) stream as Java clients
// write it. Damaged bytes must surface as a StorageError that names partition and offsets.
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import lz4 from 'lz4js';
import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../broker/storage/crc32c.js';
import { decodeStoredRecords } from '../../broker/storage/decompress.js';
import { StorageErrorCode } from '../../broker/storage/errors.js';
import { BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES, Compression, decodeRecords, RecordBatch, splitBatches } from '../../broker/storage/record-batch.js';
import { kafkajsBatch, type KafkajsMessage } from '../support/storage-batches.js';
import { storageErrorOf } from '../support/storage-errors.js';

const PARTITION = 'orders-3';
const BASE_OFFSET = 4_000;
const ATTRIBUTES = 21;
const CRC = 17;
const XERIAL_MAGIC = Buffer.from([0x82, ...Buffer.from('SNAPPY'), 0x00]);

const messages: KafkajsMessage[] = Array.from({ length: 120 }, (_, i) => ({
  key: i % 4 === 0 ? null : `key-${i % 9}`,
  value: `value ${i} ${'ü→'.repeat(i % 17)}`,
  timestamp: 1_700_000_000_000 + i * 7,
  headers: { sequence: String(i) },
}));

/** A batch as stored: offsets assigned, so decoded offsets are absolute. */
function stored(bytes: Buffer): RecordBatch {
  const [batch] = splitBatches(bytes, { partition: PARTITION });
  batch!.setBaseOffset(BASE_OFFSET);
  return batch!;
}

/** `batch` with its records section replaced by `body` compressed with `codec`, CRC recomputed. */
function withBody(batch: Buffer, codec: number, body: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, BATCH_HEADER_BYTES), body]);
  out.writeInt32BE(out.length - BATCH_LENGTH_PREFIX_BYTES, 8);
  out.writeInt16BE((out.readInt16BE(ATTRIBUTES) & ~0x07) | codec, ATTRIBUTES);
  out.writeUInt32BE(crc32c(out, ATTRIBUTES), CRC);
  return out;
}

function xerial(chunks: Buffer[]): Buffer {
  const header = Buffer.alloc(16);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(1, 8); // stream version
  header.writeInt32BE(1, 12); // minimum compatible version
  const framed = chunks.flatMap((chunk) => {
    const block = Buffer.from(snappy.compress(chunk));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    return [length, block];
  });
  return Buffer.concat([header, ...framed]);
}

function zstdCompress(bytes: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: bytes });
}

const plain = await kafkajsBatch(messages);
const plainBody = plain.subarray(BATCH_HEADER_BYTES);
const expected = decodeRecords(stored(plain));

describe('decodeStoredRecords', () => {
  it('reads the uncompressed reference batch as sent', () => {
    expect(expected).toHaveLength(messages.length);
    expect(expected[57]).toMatchObject({ offset: BASE_OFFSET + 57, timestamp: 1_700_000_000_000 + 57 * 7 });
    expect(expected[57]!.value?.toString()).toBe(messages[57]!.value);
  });

  it.each(['gzip', 'snappy', 'lz4'] as const)('decodes a kafkajs %s batch to the same records', async (codec) => {
    const batch = stored(await kafkajsBatch(messages, { compression: codec }));
    expect(batch.compression).toBe(codec);
    expect(batch.sizeInBytes).toBeLessThan(plain.length);
    expect(decodeStoredRecords(batch, PARTITION)).toEqual(expected);
  });

  it('reads raw snappy (what kafkajs and librdkafka write) as well as the xerial framing', async () => {
    const raw = stored(await kafkajsBatch(messages, { compression: 'snappy' })).buffer.subarray(BATCH_HEADER_BYTES);
    expect(raw.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)).toBe(false);
    // Java's snappy-java splits its stream into chunks; three uneven ones exercise the loop.
    const cuts = [0, 1000, 1001, plainBody.length];
    const chunks = cuts.slice(1).map((end, i) => plainBody.subarray(cuts[i], end));
    const batch = stored(withBody(plain, Compression.snappy, xerial(chunks)));
    expect(decodeStoredRecords(batch, PARTITION)).toEqual(expected);
  });

  it('decodes a zstd batch compressed by the reference zstd encoder', () => {
    const batch = stored(withBody(plain, Compression.zstd, zstdCompress(plainBody)));
    expect(batch.compression).toBe('zstd');
    expect(decodeStoredRecords(batch, PARTITION)).toEqual(expected);
  });

  it('decodes a LogAppendTime batch with every record at the append time', async () => {
    const batch = stored(await kafkajsBatch(messages, { compression: 'lz4' }));
    batch.setLogAppendTime(1_800_000_000_000);
    expect(new Set(decodeStoredRecords(batch, PARTITION).map((record) => record.timestamp))).toEqual(new Set([1_800_000_000_000]));
  });
});

describe('decodeStoredRecords on damaged batches', () => {
  const lastOffset = BASE_OFFSET + messages.length - 1;
  const cases: Array<[string, () => Promise<Buffer>, RegExp]> = [
    [
      'raw snappy that copies from before its start',
      async () => {
        const batch = Buffer.from(await kafkajsBatch(messages, { compression: 'snappy' }));
        const body = batch.subarray(BATCH_HEADER_BYTES);
        // After the varint of the uncompressed length, make the first element a copy.
        body[body.findIndex((byte) => byte < 0x80) + 1] = 0x01;
        return withBody(batch, Compression.snappy, body);
      },
      /Invalid Snappy bitstream/,
    ],
    [
      'a xerial chunk longer than the stream',
      async () => {
        const framed = xerial([plainBody]);
        framed.writeInt32BE(framed.length, 16);
        return withBody(plain, Compression.snappy, framed);
      },
      /xerial snappy chunk at byte 16 declares \d+ bytes but \d+ remain/,
    ],
    [
      'an lz4 frame with a damaged magic number',
      async () => {
        const batch = Buffer.from(await kafkajsBatch(messages, { compression: 'lz4' }));
        batch.writeUInt8(batch.readUInt8(BATCH_HEADER_BYTES) ^ 0xff, BATCH_HEADER_BYTES);
        return withBody(batch, Compression.lz4, batch.subarray(BATCH_HEADER_BYTES));
      },
      /invalid magic number/,
    ],
    [
      'truncated zstd',
      async () => {
        const compressed = zstdCompress(plainBody);
        return withBody(plain, Compression.zstd, compressed.subarray(0, compressed.length >> 1));
      },
      /unexpected EOF/i,
    ],
    [
      'damaged gzip',
      async () => {
        const batch = Buffer.from(await kafkajsBatch(messages, { compression: 'gzip' }));
        batch.writeUInt8(batch.readUInt8(BATCH_HEADER_BYTES) ^ 0xff, BATCH_HEADER_BYTES);
        return withBody(batch, Compression.gzip, batch.subarray(BATCH_HEADER_BYTES));
      },
      /incorrect header check/,
    ],
  ];

  it.each(cases)('%s: CORRUPT_MESSAGE naming partition, codec and offsets', async (_, damaged, reason) => {
    const batch = stored(await damaged());
    const error = storageErrorOf(() => decodeStoredRecords(batch, PARTITION));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.CORRUPT_MESSAGE);
    expect(error.partition).toBe(PARTITION);
    expect(error.message).toMatch(
      new RegExp(`^${PARTITION}: the ${batch.compression} batch at offsets ${BASE_OFFSET}\\.\\.${lastOffset} does not decompress`),
    );
    expect(error.message).toMatch(reason);
  });

  it.each([
    ['gzip', Compression.gzip, (body: Buffer) => gzipSync(body)],
    ['raw snappy', Compression.snappy, (body: Buffer) => Buffer.from(snappy.compress(body))],
    ['xerial snappy', Compression.snappy, (body: Buffer) => xerial([body.subarray(0, 40_000), body.subarray(40_000)])],
    ['lz4', Compression.lz4, (body: Buffer) => Buffer.from(lz4.compress(body))],
    ['zstd', Compression.zstd, zstdCompress],
  ] as const)('%s: a batch that would unpack past the bound is refused before it is unpacked whole', (_, codec, compress) => {
    const body = Buffer.alloc(70_000, 'x');
    const batch = stored(withBody(plain, codec, compress(body)));
    const error = storageErrorOf(() => decodeStoredRecords(batch, PARTITION, 65_536));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toMatch(new RegExp(`^${PARTITION}: the \\w+ batch at offsets ${BASE_OFFSET}\\.\\.${lastOffset} (decompresses to|needs a \\d+-byte zstd window,) more than 65536 bytes`));
    // Within the bound the same bytes are unpacked (and fail later, as they are not records). The
    // zstd CLI streaming from stdin declares a 2 MiB window, as Java's streaming encoder does.
    expect(storageErrorOf(() => decodeStoredRecords(batch, PARTITION, 4 * 1024 * 1024)).message).not.toMatch(/more than/);
  });

  it('refuses a zstd frame that declares a window beyond the bound before allocating it', () => {
    // Ten bytes: a frame asking for a 1 GiB window, then one raw block of one byte.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x09, 0x00, 0x00, 0x41]);
    const batch = stored(withBody(plain, Compression.zstd, frame));
    expect(storageErrorOf(() => decodeStoredRecords(batch, PARTITION)).message).toMatch(
      new RegExp(`^${PARTITION}: the zstd batch at offsets ${BASE_OFFSET}\\.\\.${lastOffset} needs a 1073741824-byte zstd window, more than 67108864 bytes`),
    );
    // The same window within the bound is decoded (and the byte is not a record).
    expect(storageErrorOf(() => decodeStoredRecords(batch, PARTITION, 2 ** 30)).message).toMatch(/batch at offset 4000: /);
  });

  it('names the partition when the bytes decompress but are not records', () => {
    const batch = stored(withBody(plain, Compression.lz4, Buffer.from(lz4.compress(Buffer.from('not a record')))));
    const error = storageErrorOf(() => decodeStoredRecords(batch, PARTITION));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toMatch(new RegExp(`^${PARTITION}: batch at offset ${BASE_OFFSET}: `));
  });
});
