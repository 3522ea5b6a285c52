// The replica manager owns partition state, as Kafka's ReplicaManager does: every partition
// log (through the LogManager), the leader epoch, how many appends each partition has seen,
// and the fetches long-polling for the next append. Produce appends and Fetch reads go
// through it; topic lifecycle (controller/metadata-service.ts) tells it which logs to open or
// remove. On a single node this broker leads every partition at epoch 0; replication makes
// the epoch, leadership and high watermark per partition state kept here.
import type { Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { StorageError } from '../storage/errors.js';
import { partitionDirName, type LogManager, type TopicPartitionLog } from '../storage/log-manager.js';
import type { AppendResult, PartitionLog } from '../storage/partition-log.js';

interface AppendWaiter {
  wake(): void;
}

export class ReplicaManager {
  /** Leader epoch of every partition: fixed at 0 until replication elects leaders. */
  readonly leaderEpoch = 0;
  private stopping = false;
  /** Topics whose logs are being opened as a new topic: none of them serves until all are open. */
  private readonly openingTopics = new Set<string>();
  private readonly appendCounts = new Map<string, number>();
  private readonly waitersByKey = new Map<string, Set<AppendWaiter>>();
  private readonly waiters = new Set<AppendWaiter>();

  constructor(
    private readonly logs: LogManager,
    private readonly metrics: BrokerMetrics,
    private readonly logger: Logger,
  ) {
    metrics.watchLogEndOffsets(() =>
      this.logs.all().map(({ topic, partition, log }) => [{ topic, partition: String(partition) }, log.logEndOffset]),
    );
  }

  /** True once shutdown began: long polls answer at once. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  // ---- partitions ----------------------------------------------------------------------------

  partitionKey(topic: string, partition: number): string {
    return partitionDirName(topic, partition);
  }

  /** The log of a partition this node serves (a topic whose logs are still being created serves none). */
  partitionLog(topic: string, partition: number): PartitionLog | undefined {
    if (this.openingTopics.has(topic)) return undefined;
    return this.logs.get(topic, partition);
  }

  /** Every open partition log, including those of topics being created. */
  allLogs(): TopicPartitionLog[] {
    return this.logs.all();
  }

  /** Opens (creating where missing) the logs of partitions `from` up to `to` (exclusive). */
  async openPartitions(topic: string, from: number, to: number): Promise<void> {
    for (let partition = from; partition < to; partition++) await this.logs.create(topic, partition);
  }

  /** Opens a new topic's logs; none of them serves reads or writes before all are open. */
  async openNewTopic(topic: string, partitions: number): Promise<void> {
    this.openingTopics.add(topic);
    try {
      await this.openPartitions(topic, 0, partitions);
    } finally {
      this.openingTopics.delete(topic);
    }
  }

  /** Removes every log of a topic; fetches waiting on its partitions answer now. */
  async deleteTopic(topic: string, partitions: number): Promise<void> {
    await this.logs.deleteTopic(topic);
    for (let partition = 0; partition < partitions; partition++) {
      const key = this.partitionKey(topic, partition);
      this.appendCounts.delete(key);
      this.wake(key);
    }
  }

  /** Removes one partition's log (leftovers of a topic the metadata no longer has). */
  deletePartition(topic: string, partition: number): Promise<void> {
    return this.logs.deletePartition(topic, partition);
  }

  leaderEpochError(requestedEpoch: number): number {
    if (requestedEpoch === -1 || requestedEpoch === this.leaderEpoch) return ErrorCode.NONE;
    return requestedEpoch > this.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
  }

  // ---- appends and long polls ----------------------------------------------------------------

  /**
   * Appends record batches as the partition's leader. The storage's own promise is returned,
   * so the produce path allocates nothing more than the append itself; the caller reports a
   * stored (not duplicate) append with recordAppend.
   */
  appendAsLeader(log: PartitionLog, records: Buffer): Promise<AppendResult> {
    return log.append(records, { leaderEpoch: this.leaderEpoch });
  }

  /** Counts an append (metrics) and wakes fetches waiting on that partition. */
  recordAppend(topic: string, partition: number, bytes: number, records: number): void {
    const key = this.partitionKey(topic, partition);
    this.appendCounts.set(key, (this.appendCounts.get(key) ?? 0) + 1);
    this.metrics.producedBytes.inc({ topic }, bytes);
    this.metrics.producedRecords.inc({ topic }, records);
    this.wake(key);
  }

  recordFetch(topic: string, bytes: number): void {
    this.metrics.fetchedBytes.inc({ topic }, bytes);
  }

  appendCount(key: string): number {
    return this.appendCounts.get(key) ?? 0;
  }

  /**
   * Resolves when any watched partition has been appended to since its count was taken, or
   * after `timeoutMs`, or at shutdown — whichever comes first.
   */
  waitForAppend(watched: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
    for (const [key, count] of watched) if (this.appendCount(key) !== count) return Promise.resolve();
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const keys = [...watched.keys()];
      const waiter: AppendWaiter = {
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          for (const key of keys) this.waitersByKey.get(key)?.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      this.waiters.add(waiter);
      for (const key of keys) {
        let waiters = this.waitersByKey.get(key);
        if (!waiters) this.waitersByKey.set(key, (waiters = new Set()));
        waiters.add(waiter);
      }
    });
  }

  private wake(key: string): void {
    const waiters = this.waitersByKey.get(key);
    if (!waiters) return;
    this.waitersByKey.delete(key);
    for (const waiter of waiters) waiter.wake();
  }

  reportStorageError(operation: string, error: StorageError): void {
    this.metrics.storageErrors.inc({ operation, error: errorName(error.kafkaErrorCode) });
    if (error.kafkaErrorCode === ErrorCode.KAFKA_STORAGE_ERROR) {
      this.logger.error('storage error', { operation, partition: error.partition, reason: error.message });
    } else {
      this.logger.debug('request rejected by storage', { operation, partition: error.partition, reason: error.message });
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Stops long polls from waiting, so in-flight fetches answer now. */
  beginShutdown(): void {
    this.stopping = true;
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  /** Flushes and closes every log. */
  async close(): Promise<void> {
    this.beginShutdown();
    await this.logs.close();
  }
}
