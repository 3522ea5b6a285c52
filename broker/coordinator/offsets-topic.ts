// `__consumer_offsets` as the coordinator uses it: created with Kafka's shape on first use,
// appended to through the broker's ordinary partition logs (uncompressed batches) while this
// broker leads the partition at the epoch its groups were loaded at, replayed in log order when
// it becomes the leader, and kept small by the writer itself.
//
// The broker has no log compaction, so this class does the equivalent for its own topic: it
// remembers the latest record of every key per partition it leads (a tombstone forgets the key;
// rebuilt by each replay, so only for the leader epoch that replay ran at), and when a partition
// holds many more records than live keys it appends the live records again and then moves the
// log start past the older copies (DeleteRecords). A crash in between only leaves both copies,
// which replay to the same state. The rewrite happens only while no other append to that
// partition is in flight, so every record older than the rewrite is already in the remembered
// set and every newer one lands after it in the log.
import type { MetadataService } from '../controller/metadata-service.js';
import type { Logger } from '../log.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { Partition } from '../replication/partition.js';
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
/** How long a group write waits for the in-sync replicas (Kafka's offsets.commit.timeout.ms). */
const appendTimeoutMs = 5_000;

/** The latest record of every key of one partition, as replayed at one leader epoch and appended since. */
interface LiveKeys {
  readonly leaderEpoch: number;
  /** The replay read the whole partition: only then may a rewrite rely on `keys`. */
  complete: boolean;
  readonly keys: Map<string, EncodedRecord>;
}

export class OffsetsTopic implements GroupLog {
  private readonly live = new Map<number, LiveKeys>();
  private readonly busy = new Map<number, number>();

  constructor(
    private readonly metadata: MetadataService,
    private readonly replicas: ReplicaManager,
    private readonly log: Logger,
  ) {}

  /** Creates the topic with `partitions` partitions unless it exists. */
  async ensureCreated(partitions: number): Promise<void> {
    if (this.metadata.topic(OFFSETS_TOPIC)) return;
    const outcome = await this.metadata.createTopic({ name: OFFSETS_TOPIC, partitions, replicationFactor: -1, assignments: null, configs: offsetsTopicConfigs });
    if (outcome.errorCode !== ErrorCode.NONE && outcome.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw Object.assign(new Error(`cannot create ${OFFSETS_TOPIC}: ${outcome.message ?? outcome.errorCode}`), { kafkaErrorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    }
  }

  /**
   * Replays one partition this broker leads at `leaderEpoch` from its log start, in offset
   * order, while `current()` holds (a load that went stale stops reading); returns how many
   * records were read.
   */
  async replay(
    partition: number,
    leaderEpoch: number,
    apply: (record: EncodedRecord, offset: number) => void,
    current: () => boolean,
  ): Promise<number> {
    const log = this.leaderPartition(partition, leaderEpoch).log;
    // This replay's own set: a stale replay still running fills one nobody uses any more.
    const live: LiveKeys = { leaderEpoch, complete: false, keys: new Map() };
    this.live.set(partition, live);
    let count = 0;
    let offset = log.logStartOffset;
    const end = log.logEndOffset;
    while (offset < end && current()) {
      const batches = splitBatches(await log.read(offset, LOAD_READ_BYTES), { partition: `${OFFSETS_TOPIC}-${partition}` });
      if (batches.length === 0) break;
      for (const batch of batches) {
        if (!current()) return count;
        if (!batch.isControl) {
          for (const { offset: at, key, value } of decodeRecords(batch)) {
            // A read starts at the batch holding `offset`; records before it were deleted.
            if (at < offset || key === null) continue;
            const record = { key: Buffer.from(key), value: value === null ? null : Buffer.from(value) };
            remember(live, record);
            apply(record, at);
            count++;
          }
        }
        offset = batch.nextOffset;
      }
    }
    live.complete = current();
    return count;
  }

  /** This broker stopped leading `partition`: what it remembered of it is dropped. */
  forget(partition: number): void {
    this.live.delete(partition);
  }

  async append(partition: number, leaderEpoch: number, records: readonly EncodedRecord[]): Promise<void> {
    const leader = this.leaderPartition(partition, leaderEpoch);
    const batch = buildBatch(records);
    this.busy.set(partition, (this.busy.get(partition) ?? 0) + 1);
    try {
      const result = await this.replicas.appendAsLeader(leader, batch);
      const live = this.live.get(partition);
      if (live?.leaderEpoch === leaderEpoch) for (const record of records) remember(live, record);
      this.replicas.recordAppend(leader, batch.length, records.length);
      // A commit is acknowledged once every in-sync replica has it, as Kafka writes its offsets topic with acks=all.
      const errorCode = await this.replicas.waitForIsr(leader, result.lastOffset, appendTimeoutMs);
      if (errorCode !== ErrorCode.NONE) {
        throw Object.assign(new Error(`${OFFSETS_TOPIC}-${partition}: the write was not replicated (error ${errorCode})`), { kafkaErrorCode: errorCode });
      }
    } finally {
      this.busy.set(partition, (this.busy.get(partition) ?? 1) - 1);
    }
    this.maybeRewrite(partition, leader);
  }

  /**
   * The partition's replica here, which must lead it at `leaderEpoch`: the coordinator of its
   * groups is its leader, and writes from groups loaded at an older epoch must not land.
   */
  private leaderPartition(partition: number, leaderEpoch: number): Partition {
    const found = this.replicas.leaderFor(OFFSETS_TOPIC, partition, leaderEpoch);
    if (typeof found === 'number') {
      throw Object.assign(new Error(`${OFFSETS_TOPIC}-${partition} is not led by this broker at leader epoch ${leaderEpoch} (${errorName(found)})`), {
        kafkaErrorCode: found === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NOT_COORDINATOR,
      });
    }
    return found;
  }

  private maybeRewrite(partition: number, leader: Partition): void {
    const log = leader.log;
    if ((this.busy.get(partition) ?? 0) > 0) return;
    const live = this.live.get(partition);
    // Only a complete picture at the epoch this broker still leads at may replace the log's older copies.
    if (!live?.complete || this.replicas.leaderFor(OFFSETS_TOPIC, partition, live.leaderEpoch) !== leader) return;
    const held = log.logEndOffset - log.logStartOffset;
    if (held <= Math.max(MIN_RECORDS_BEFORE_REWRITE, 2 * live.keys.size)) return;
    const liveRecords = [...live.keys.values()];
    // Counted as an append in flight so no second rewrite (or snapshot of a half-written state) starts.
    this.busy.set(partition, (this.busy.get(partition) ?? 0) + 1);
    this.rewrite(partition, leader, liveRecords)
      .catch((error: unknown) => {
        // Nothing is lost: the older copies stay until a later rewrite succeeds.
        this.log.warn('rewriting live group records failed', {
          partition,
          reason: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => this.busy.set(partition, (this.busy.get(partition) ?? 1) - 1));
  }

  private async rewrite(partition: number, leader: Partition, liveRecords: EncodedRecord[]): Promise<void> {
    const log: PartitionLog = leader.log;
    const before = log.logStartOffset;
    let newStart = log.logEndOffset;
    if (liveRecords.length > 0) {
      const batches: Buffer[] = [];
      for (let i = 0; i < liveRecords.length; i += RECORDS_PER_REWRITE_BATCH) {
        const chunk = liveRecords.slice(i, i + RECORDS_PER_REWRITE_BATCH);
        batches.push(buildBatch(chunk));
      }
      const records = Buffer.concat(batches);
      const result = await this.replicas.appendAsLeader(leader, records);
      newStart = result.baseOffset;
      this.replicas.recordAppend(leader, records.length, liveRecords.length);
      // The older copies may go only once the rewritten ones are safe on every in-sync replica.
      const errorCode = await this.replicas.waitForIsr(leader, result.lastOffset, appendTimeoutMs);
      if (errorCode !== ErrorCode.NONE) throw new Error(`the rewritten records were not replicated (error ${errorCode})`);
    }
    await log.deleteRecordsBefore(newStart);
    this.log.info('rewrote live group records', { partition, live: liveRecords.length, droppedBefore: newStart, previousStart: before });
  }
}

function remember(live: LiveKeys, record: EncodedRecord): void {
  const id = record.key.toString('latin1');
  if (record.value === null) live.keys.delete(id);
  else live.keys.set(id, record);
}
