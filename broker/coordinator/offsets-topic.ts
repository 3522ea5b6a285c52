// `__consumer_offsets` as the coordinator uses it: created with Kafka's shape on first use,
// appended to through the broker's ordinary partition logs (uncompressed batches), replayed
// in log order at startup, and kept small by the writer itself.
//
// The broker has no log compaction, so this class does the equivalent for its own topic: it
// remembers the latest record of every key per partition (a tombstone forgets the key), and
// when a partition holds many more records than live keys it appends the live records again
// and then moves the log start past the older copies (DeleteRecords). A crash in between only
// leaves both copies, which replay to the same state. The rewrite happens only while no other
// append to that partition is in flight, so every record older than the rewrite is already in
// the remembered set and every newer one lands after it in the log.
import type { MetadataService } from '../controller/metadata-service.js';
import type { Logger } from '../log.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { buildBatch, decodeRecords, splitBatches } from '../storage/record-batch.js';
import type { GroupLog } from './group-coordinator.js';
import type { EncodedRecord } from './offsets-records.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** No time or size limit (the rewrite above bounds the topic); Kafka's 100 MiB segments. */
const offsetsTopicConfigs = { 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.bytes': String(100 * 1024 * 1024) };
const LOAD_READ_BYTES = 1024 * 1024;
/** A partition is rewritten once it holds more than this many records and twice its live keys. */
const MIN_RECORDS_BEFORE_REWRITE = 1000;
const RECORDS_PER_REWRITE_BATCH = 500;

export class OffsetsTopic implements GroupLog {
  private readonly live = new Map<number, Map<string, EncodedRecord>>();
  private readonly busy = new Map<number, number>();

  constructor(
    private readonly metadata: MetadataService,
    private readonly replicas: ReplicaManager,
    private readonly log: Logger,
  ) {}

  /** Creates the topic with `partitions` partitions unless it exists. */
  async ensureCreated(partitions: number): Promise<void> {
    if (!this.metadata.topic(OFFSETS_TOPIC)) await this.metadata.createTopic(OFFSETS_TOPIC, partitions, offsetsTopicConfigs);
  }

  /** Replays every partition from its log start, in offset order; returns how many records were read. */
  async replay(partitions: number, apply: (record: EncodedRecord, partition: number, offset: number) => void): Promise<number> {
    let count = 0;
    for (let partition = 0; partition < partitions; partition++) {
      const log = this.partitionLog(partition);
      let offset = log.logStartOffset;
      const end = log.highWatermark;
      while (offset < end) {
        const batches = splitBatches(await log.read(offset, LOAD_READ_BYTES), { partition: `${OFFSETS_TOPIC}-${partition}` });
        if (batches.length === 0) break;
        for (const batch of batches) {
          if (!batch.isControl) {
            for (const { offset: at, key, value } of decodeRecords(batch)) {
              // A read starts at the batch holding `offset`; records before it were deleted.
              if (at < offset || key === null) continue;
              const record = { key: Buffer.from(key), value: value === null ? null : Buffer.from(value) };
              this.remember(partition, record);
              apply(record, partition, at);
              count++;
            }
          }
          offset = batch.nextOffset;
        }
      }
    }
    return count;
  }

  async append(partition: number, records: readonly EncodedRecord[]): Promise<void> {
    const log = this.partitionLog(partition);
    const batch = buildBatch(records);
    this.busy.set(partition, (this.busy.get(partition) ?? 0) + 1);
    try {
      await this.replicas.appendAsLeader(log, batch);
      for (const record of records) this.remember(partition, record);
    } finally {
      this.busy.set(partition, (this.busy.get(partition) ?? 1) - 1);
    }
    this.replicas.recordAppend(OFFSETS_TOPIC, partition, batch.length, records.length);
    this.maybeRewrite(partition, log);
  }

  private partitionLog(partition: number): PartitionLog {
    const log = this.replicas.partitionLog(OFFSETS_TOPIC, partition);
    if (!log) {
      throw Object.assign(new Error(`${OFFSETS_TOPIC}-${partition} is not open`), {
        kafkaErrorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      });
    }
    return log;
  }

  private remember(partition: number, record: EncodedRecord): void {
    let keys = this.live.get(partition);
    if (!keys) this.live.set(partition, (keys = new Map()));
    const id = record.key.toString('latin1');
    if (record.value === null) keys.delete(id);
    else keys.set(id, record);
  }

  private maybeRewrite(partition: number, log: PartitionLog): void {
    if ((this.busy.get(partition) ?? 0) > 0) return;
    const liveKeys = this.live.get(partition);
    const held = log.logEndOffset - log.logStartOffset;
    if (held <= Math.max(MIN_RECORDS_BEFORE_REWRITE, 2 * (liveKeys?.size ?? 0))) return;
    const liveRecords = [...(liveKeys?.values() ?? [])];
    // Counted as an append in flight so no second rewrite (or snapshot of a half-written state) starts.
    this.busy.set(partition, (this.busy.get(partition) ?? 0) + 1);
    this.rewrite(partition, log, liveRecords)
      .catch((error: unknown) => {
        // Nothing is lost: the older copies stay until a later rewrite succeeds.
        this.log.warn('rewriting live group records failed', {
          partition,
          reason: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => this.busy.set(partition, (this.busy.get(partition) ?? 1) - 1));
  }

  private async rewrite(partition: number, log: PartitionLog, liveRecords: EncodedRecord[]): Promise<void> {
    const before = log.logStartOffset;
    let newStart = log.logEndOffset;
    if (liveRecords.length > 0) {
      const batches: Buffer[] = [];
      for (let i = 0; i < liveRecords.length; i += RECORDS_PER_REWRITE_BATCH) {
        const chunk = liveRecords.slice(i, i + RECORDS_PER_REWRITE_BATCH);
        batches.push(buildBatch(chunk));
      }
      const records = Buffer.concat(batches);
      newStart = (await this.replicas.appendAsLeader(log, records)).baseOffset;
      this.replicas.recordAppend(OFFSETS_TOPIC, partition, records.length, liveRecords.length);
    }
    await log.deleteRecordsBefore(newStart);
    this.log.info('rewrote live group records', { partition, live: liveRecords.length, droppedBefore: newStart, previousStart: before });
  }
}
