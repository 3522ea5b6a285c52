// Record batches encoded by a real client: kafkajs 2.2.4's own RecordBatch and Record encoders,
// called the way its Produce v3+ request builds them (offset deltas from 0, timestamps relative
// to the first message, compression through its codec table). Storage tests feed these bytes
// to the log and compare what comes back byte for byte.
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { registerKafkajsCodecs } from './kafkajs-codecs.js';

interface KafkajsEncoder {
  buffer: Buffer;
}

type RecordEncoder = (record: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string>;
}) => KafkajsEncoder;

type RecordBatchEncoder = (batch: {
  compression: number;
  records: KafkajsEncoder[];
  firstTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  producerId?: number;
  producerEpoch?: number;
  firstSequence?: number;
  transactional?: boolean;
}) => Promise<KafkajsEncoder>;

const require = createRequire(import.meta.url);
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordEncoder;
const { RecordBatch: encodeRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: RecordBatchEncoder;
};

export type KafkajsCompression = 'none' | 'gzip' | 'snappy' | 'lz4';

export interface KafkajsMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  timestamp?: number;
  headers?: Record<string, string>;
}

export interface KafkajsBatchOptions {
  compression?: KafkajsCompression;
  producerId?: number;
  producerEpoch?: number;
  firstSequence?: number;
}

const compressionTypes: Record<KafkajsCompression, number> = {
  none: kafkajs.CompressionTypes.None,
  gzip: kafkajs.CompressionTypes.GZIP,
  snappy: kafkajs.CompressionTypes.Snappy,
  lz4: kafkajs.CompressionTypes.LZ4,
};

/** One v2 batch exactly as kafkajs would put it in a Produce request. */
export async function kafkajsBatch(messages: KafkajsMessage[], options: KafkajsBatchOptions = {}): Promise<Buffer> {
  registerKafkajsCodecs();
  const now = Date.now();
  const timestamps = messages.map((m) => m.timestamp ?? now);
  const firstTimestamp = Math.min(...timestamps);
  const records = messages.map((message, i) =>
    encodeRecord({
      key: message.key ?? null,
      value: message.value,
      headers: message.headers ?? {},
      offsetDelta: i,
      timestampDelta: timestamps[i]! - firstTimestamp,
    }),
  );
  const batch = await encodeRecordBatch({
    compression: compressionTypes[options.compression ?? 'none'],
    records,
    firstTimestamp,
    maxTimestamp: Math.max(...timestamps),
    lastOffsetDelta: records.length - 1,
    ...(options.producerId === undefined
      ? {}
      : { producerId: options.producerId, producerEpoch: options.producerEpoch ?? 0, firstSequence: options.firstSequence ?? 0 }),
  });
  return Buffer.from(batch.buffer);
}
