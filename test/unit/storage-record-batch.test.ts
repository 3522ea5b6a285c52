import { describe, expect, it } from 'vitest';
import { crc32c } from '../../broker/storage/crc32c.js';
import { StorageErrorCode } from '../../broker/storage/errors.js';
import { buildBatch, decodeRecords, RecordBatch, splitBatches } from '../../broker/storage/record-batch.js';
import { kafkajsBatch } from '../support/storage-batches.js';
import { storageErrorOf } from '../support/storage-errors.js';

describe('crc32c', () => {
  it('matches the published CRC-32C check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });

  it('agrees with a bitwise reference at every alignment and length', () => {
    const reference = (bytes: Uint8Array): number => {
      let crc = ~0;
      for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return ~crc >>> 0;
    };
    const backing = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 73 + 5) & 0xff));
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length < 100; length += 3) {
        const view = backing.subarray(offset, offset + length);
        expect(crc32c(view)).toBe(reference(view));
      }
    }
  });

  it('gives the same result in pieces as in one call, at every split point', () => {
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    const whole = crc32c(data);
    for (let split = 0; split <= data.length; split += 7) {
      expect(crc32c(data, split, data.length, crc32c(data, 0, split))).toBe(whole);
    }
  });

  it('joins its two halves exactly on long inputs (odd and even step counts, any alignment, with seeds)', () => {
    const reference = (bytes: Uint8Array, seed = 0): number => {
      let crc = ~seed;
      for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return ~crc >>> 0;
    };
    const backing = Buffer.alloc(40_000);
    for (let i = 0; i < backing.length; i++) backing[i] = (Math.imul(i, 0x9e3779b1) >>> 11) & 0xff;
    for (const length of [8191, 8192, 8208, 8224, 8239, 16_400, 33_333]) {
      for (const offset of [0, 1, 3]) {
        const view = backing.subarray(offset, offset + length);
        expect(crc32c(view)).toBe(reference(view));
        expect(crc32c(view, 0, view.length, 0x1234abcd)).toBe(reference(view, 0x1234abcd));
        expect(crc32c(view, 5000, view.length, crc32c(view, 0, 5000))).toBe(reference(view));
      }
    }
  });
});

describe('splitBatches', () => {
  it('accepts real kafkajs batches of every codec and reads their headers', async () => {
    for (const compression of ['none', 'gzip', 'snappy', 'lz4'] as const) {
      const bytes = await kafkajsBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { compression, producerId: 9, firstSequence: 4 });
      const [batch, extra] = splitBatches(bytes);
      expect(extra).toBeUndefined();
      expect(batch!.compression).toBe(compression);
      expect(batch!.recordCount).toBe(3);
      expect(batch!.lastOffsetDelta).toBe(2);
      expect(batch!.producerId).toBe(9);
      expect(batch!.baseSequence).toBe(4);
      expect(batch!.sizeInBytes).toBe(bytes.length);
    }
  });

  it('splits several batches sent back to back', async () => {
    const one = await kafkajsBatch([{ value: 'x' }]);
    const two = await kafkajsBatch([{ value: 'y' }, { value: 'z' }], { compression: 'gzip' });
    const batches = splitBatches(Buffer.concat([one, two]));
    expect(batches.map((b) => b.recordCount)).toEqual([1, 2]);
  });

  it('rejects a flipped byte with CORRUPT_MESSAGE', async () => {
    const bytes = await kafkajsBatch([{ value: 'payload' }]);
    bytes[bytes.length - 2]! ^= 0x01;
    const error = storageErrorOf(() => splitBatches(bytes, { partition: 't-0' }));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toMatch(/t-0: .*CRC-32C/);
  });

  it('rejects a torn batch and trailing bytes with CORRUPT_MESSAGE', async () => {
    const bytes = await kafkajsBatch([{ value: 'payload' }]);
    expect(storageErrorOf(() => splitBatches(bytes.subarray(0, bytes.length - 1))).kafkaErrorCode).toBe(
      StorageErrorCode.CORRUPT_MESSAGE,
    );
    expect(storageErrorOf(() => splitBatches(Buffer.concat([bytes, Buffer.alloc(5)]))).kafkaErrorCode).toBe(
      StorageErrorCode.CORRUPT_MESSAGE,
    );
  });

  it('rejects magic 0/1 message sets as an unsupported format', async () => {
    const bytes = await kafkajsBatch([{ value: 'old' }]);
    bytes[16] = 1;
    const error = storageErrorOf(() => splitBatches(bytes));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
    expect(error.message).toMatch(/v1 .*magic 2/);
  });

  it('rejects a batch claiming zero records with INVALID_RECORD', () => {
    const bytes = buildBatch([{ value: Buffer.from('v') }]);
    bytes.writeInt32BE(0, 57);
    // Re-sign it so only the header rule can fail.
    bytes.writeUInt32BE(crc32c(bytes, 21), 17);
    expect(storageErrorOf(() => splitBatches(bytes)).kafkaErrorCode).toBe(StorageErrorCode.INVALID_RECORD);
  });
});

describe('buildBatch / decodeRecords', () => {
  it('round-trips keys, values, nulls, headers and timestamps, uncompressed and gzip', () => {
    for (const compression of ['none', 'gzip'] as const) {
      const bytes = buildBatch(
        [
          { key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: 1_700_000_000_000 },
          { key: null, value: null, timestamp: 1_700_000_000_500, headers: [{ key: 'h', value: Buffer.from('hv') }] },
          { value: Buffer.alloc(300, 7), timestamp: 1_699_999_999_000 },
        ],
        { baseOffset: 40, compression, producerId: 12, producerEpoch: 3, baseSequence: 0 },
      );
      const [batch] = splitBatches(bytes);
      expect(batch!.baseOffset).toBe(40);
      expect(batch!.maxTimestamp).toBe(1_700_000_000_500);
      expect(batch!.producerId).toBe(12);
      const records = decodeRecords(batch!);
      expect(records.map((r) => r.offset)).toEqual([40, 41, 42]);
      expect(records.map((r) => r.timestamp)).toEqual([1_700_000_000_000, 1_700_000_000_500, 1_699_999_999_000]);
      expect(records[0]!.key?.toString()).toBe('k1');
      expect(records[1]!.key).toBeNull();
      expect(records[1]!.value).toBeNull();
      expect(records[1]!.headers).toEqual([{ key: 'h', value: Buffer.from('hv') }]);
      expect(records[2]!.value).toEqual(Buffer.alloc(300, 7));
    }
  });

  it('decodes what a real client encoded', async () => {
    const bytes = await kafkajsBatch(
      [
        { key: 'a', value: 'first', timestamp: 1000, headers: { trace: 'x1' } },
        { key: null, value: 'second', timestamp: 1005 },
      ],
      { compression: 'gzip' },
    );
    const records = decodeRecords(splitBatches(bytes)[0]!);
    expect(records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString()])).toEqual([
      [0, 1000, 'a', 'first'],
      [1, 1005, null, 'second'],
    ]);
    expect(records[0]!.headers).toEqual([{ key: 'trace', value: Buffer.from('x1') }]);
  });

  it('asks for a decompressor for codecs Node lacks', async () => {
    const batch = splitBatches(await kafkajsBatch([{ value: 'v' }], { compression: 'lz4' }))[0]!;
    expect(storageErrorOf(() => decodeRecords(batch)).kafkaErrorCode).toBe(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });

  it('refuses to decode a codec Kafka does not define rather than reading its bytes as records', async () => {
    const batch = splitBatches(await kafkajsBatch([{ value: 'v' }]))[0]!;
    batch.buffer.writeInt16BE(batch.attributes | 0x07, 21);
    expect(batch.compression).toBeNull();
    const error = storageErrorOf(() => decodeRecords(batch));
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    expect(error.message).toMatch(/unknown compression codec 7/);
  });

  it('keeps the CRC valid when stamping LogAppendTime and changes no other byte', async () => {
    const bytes = await kafkajsBatch([{ value: 'v', timestamp: 5 }], { compression: 'snappy' });
    const original = Buffer.from(bytes);
    const batch = new RecordBatch(bytes);
    batch.setLogAppendTime(1_800_000_000_000);
    expect(batch.hasValidCrc()).toBe(true);
    expect(batch.timestampType).toBe('LogAppendTime');
    expect(batch.maxTimestamp).toBe(1_800_000_000_000);
    expect(batch.compression).toBe('snappy');
    const changed = [...bytes.keys()].filter((i) => bytes[i] !== original[i]);
    expect(changed.every((i) => (i >= 17 && i < 23) || (i >= 35 && i < 43))).toBe(true);
  });
});
