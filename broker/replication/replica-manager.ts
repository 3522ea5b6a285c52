// The replica manager owns partition state, as Kafka's ReplicaManager does: every partition
// replica on this broker (its log through the LogManager, its role and leader epoch, the high
// watermark, the acks=all writes waiting on it), the fetchers that copy from leaders, and the
// fetches long-polling for the next append. It follows the metadata image: each applied change
// is reconciled here (open the logs of new replicas, become leader or follower at the new epoch,
// delete the replicas of removed topics). Produce appends and Fetch reads go through it.
import type { HostPort } from '../config.js';
import type { ClusterImage, PartitionState } from '../controller/cluster/image.js';
import { NO_LEADER } from '../controller/cluster/records.js';
import { describeError, type Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { StorageError } from '../storage/errors.js';
import { partitionDirName, type LogManager, type TopicPartitionLog } from '../storage/log-manager.js';
import type { AppendResult } from '../storage/partition-log.js';
import { readHighWatermarks, writeHighWatermarks } from './high-watermark-checkpoint.js';
import { Partition } from './partition.js';
import { ReplicaFetcher, type FetcherHost } from './replica-fetcher.js';

interface AppendWaiter {
  wake(): void;
}

/** A leader's ISR change, sent to the active controller (Kafka's AlterPartition). */
export interface IsrChange {
  readonly topicId: string;
  readonly partitionIndex: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

export interface ReplicationSettings {
  readonly nodeId: number;
  /** Where the high-watermark checkpoint lives. */
  readonly dataDir: string;
  readonly interBrokerListener: string;
  readonly replicaLagTimeMaxMs: number;
  /** min.insync.replicas where the topic does not set it. */
  readonly minInsyncReplicas: number;
}

export type LeaderLookup = Partition | number;

/** How often moved high watermarks are written to the checkpoint (Kafka: replica.high.watermark.checkpoint.interval.ms). */
const highWatermarkCheckpointMs = 1_000;

/** A replica here became leader or follower at a new leader epoch, or went away ('none'). */
export interface LeadershipChange {
  readonly topic: string;
  readonly partition: number;
  readonly role: 'leader' | 'follower' | 'none';
  readonly leaderEpoch: number;
}

export class ReplicaManager {
  private stopping = false;
  private readonly partitions = new Map<string, Partition>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private readonly appendCounts = new Map<string, number>();
  private readonly waitersByKey = new Map<string, Set<AppendWaiter>>();
  private readonly waiters = new Set<AppendWaiter>();
  private image: ClusterImage | null = null;
  private reconciling: Promise<void> = Promise.resolve();
  private nextImage: ClusterImage | null = null;
  private readonly isrTimer: NodeJS.Timeout;
  private readonly checkpointTimer: NodeJS.Timeout;
  /** High watermarks from the checkpoint, for replicas opened after a restart. */
  private readonly checkpointed: Map<string, number>;
  private lastCheckpoint = '';
  private checkpointing: Promise<void> = Promise.resolve();
  private sendIsrChange: ((change: IsrChange) => Promise<void>) | null = null;
  private readonly fetcherHost: FetcherHost;
  private readonly leadershipListeners = new Set<(change: LeadershipChange) => void>();

  constructor(
    private readonly logs: LogManager,
    private readonly settings: ReplicationSettings,
    private readonly metrics: BrokerMetrics,
    private readonly logger: Logger,
  ) {
    metrics.watchLogEndOffsets(() =>
      this.logs.all().map(({ topic, partition, log }) => [{ topic, partition: String(partition) }, log.logEndOffset]),
    );
    metrics.watchLedPartitions(() => this.ledPartitions());
    this.fetcherHost = {
      selfId: settings.nodeId,
      logger: logger.child('fetcher'),
      endpoint: (brokerId) => this.endpoint(brokerId),
      followerAppended: (partition) => this.countAppend(partition.key),
    };
    this.isrTimer = setInterval(() => this.checkIsrs(), Math.max(50, Math.min(1000, Math.floor(settings.replicaLagTimeMaxMs / 2))));
    this.isrTimer.unref();
    this.checkpointed = readHighWatermarks(settings.dataDir, logger);
    this.checkpointTimer = setInterval(() => void this.checkpointHighWatermarks(), highWatermarkCheckpointMs);
    this.checkpointTimer.unref();
  }

  /** Where ISR changes go: the active controller, through the broker's controller channel. */
  connectController(send: (change: IsrChange) => Promise<void>): void {
    this.sendIsrChange = send;
  }

  /**
   * Calls `listener` whenever a replica here changes role or leader epoch, or is removed (the
   * group coordinator loads and unloads the groups of `__consumer_offsets` partitions by it).
   * Returns the unsubscribe.
   */
  onLeadershipChange(listener: (change: LeadershipChange) => void): () => void {
    this.leadershipListeners.add(listener);
    return () => this.leadershipListeners.delete(listener);
  }

  private announce(partition: Partition, role: LeadershipChange['role']): void {
    const change: LeadershipChange = { topic: partition.topic, partition: partition.index, role, leaderEpoch: partition.leaderEpoch };
    for (const listener of this.leadershipListeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error('a leadership listener failed', { partition: partition.key, reason: describeError(error) });
      }
    }
  }

  /** True once shutdown began: long polls answer at once. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  get nodeId(): number {
    return this.settings.nodeId;
  }

  // ---- following the metadata ----------------------------------------------------------------

  /**
   * Brings the replicas on this broker in line with `image`; changes are applied one image at
   * a time, and an image arriving meanwhile replaces any not yet started.
   */
  applyImage(image: ClusterImage): Promise<void> {
    this.image = image;
    this.nextImage = image;
    this.reconciling = this.reconciling.then(async () => {
      const next = this.nextImage;
      if (!next) return;
      this.nextImage = null;
      try {
        await this.reconcile(next);
      } catch (error) {
        this.logger.error('applying the metadata to the partition replicas failed; retrying on the next change', { reason: describeError(error) });
      }
    });
    return this.reconciling;
  }

  private async reconcile(image: ClusterImage): Promise<void> {
    const self = this.settings.nodeId;
    const now = Date.now();
    const assigned = new Set<string>();
    for (const topic of image.topics()) {
      for (const state of topic.partitions) {
        if (!state.replicas.includes(self)) continue;
        const key = partitionDirName(topic.name, state.partitionIndex);
        assigned.add(key);
        let partition = this.partitions.get(key);
        if (partition && partition.state.topicId !== topic.topicId) {
          // The topic was deleted and created again under the same name.
          await this.removePartition(partition, true);
          partition = undefined;
        }
        if (!partition) {
          const log = this.logs.get(topic.name, state.partitionIndex) ?? (await this.logs.create(topic.name, state.partitionIndex));
          partition = new Partition(topic.name, state.partitionIndex, key, log, self, state, this.checkpointed.get(key) ?? 0, now);
          this.partitions.set(key, partition);
          if (partition.role === 'leader') {
            await this.lead(partition);
            partition.afterLeaderAppend();
          } else this.follow(partition);
          this.announce(partition, partition.role);
          this.wake(key);
          continue;
        }
        const { epochChanged } = partition.update(state, now);
        if (epochChanged) {
          this.unfollow(partition);
          if (partition.role === 'leader') await this.lead(partition);
          else this.follow(partition);
          this.announce(partition, partition.role);
        }
        this.wake(key);
      }
    }
    for (const partition of [...this.partitions.values()]) {
      if (!assigned.has(partition.key)) await this.removePartition(partition, true);
    }
  }

  private async lead(partition: Partition): Promise<void> {
    const { leaderEpoch, isr } = partition.state;
    await partition.log.beginLeaderEpoch(leaderEpoch);
    // Every append queued before the leadership has landed: this is where the epoch begins.
    if (partition.leaderEpoch === leaderEpoch && partition.role === 'leader') partition.setEpochStartOffset(partition.log.logEndOffset);
    this.logger.info('leading partition', { partition: partition.key, leaderEpoch, isr: isr.join(',') });
  }

  private follow(partition: Partition): void {
    const leader = partition.state.leader;
    if (leader === NO_LEADER) {
      this.logger.warn('partition has no leader; waiting for one', { partition: partition.key, isr: partition.state.isr.join(',') });
      return;
    }
    let fetcher = this.fetchers.get(leader);
    if (!fetcher) this.fetchers.set(leader, (fetcher = new ReplicaFetcher(leader, this.fetcherHost)));
    fetcher.add(partition);
    this.logger.info('following partition', { partition: partition.key, leader, leaderEpoch: partition.leaderEpoch });
  }

  private unfollow(partition: Partition): void {
    for (const fetcher of this.fetchers.values()) fetcher.remove(partition);
  }

  private async removePartition(partition: Partition, deleteLog: boolean): Promise<void> {
    this.unfollow(partition);
    partition.failWaiters(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    this.partitions.delete(partition.key);
    this.appendCounts.delete(partition.key);
    this.announce(partition, 'none');
    this.wake(partition.key);
    if (deleteLog) {
      await this.logs.deletePartition(partition.topic, partition.index);
      this.logger.info('removed partition replica', { partition: partition.key });
    }
  }

  /** Deletes partition logs on disk that are no replica here in the applied metadata (see MetadataService.adoptOrphanLogs). */
  async removeStrayLogs(): Promise<void> {
    await this.reconciling;
    for (const { topic, partition } of this.logs.all()) {
      if (this.partitions.has(partitionDirName(topic, partition))) continue;
      this.logger.warn('deleting a stray partition log: the cluster metadata has no replica of it on this broker', { partition: partitionDirName(topic, partition) });
      await this.logs.deletePartition(topic, partition);
    }
  }

  private endpoint(brokerId: number): HostPort | null {
    const endpoint = this.image?.endpoint(brokerId, this.settings.interBrokerListener);
    return endpoint ? { host: endpoint.host, port: endpoint.port } : null;
  }

  // ---- partitions ----------------------------------------------------------------------------

  partitionKey(topic: string, partition: number): string {
    return partitionDirName(topic, partition);
  }

  /** The replica of a partition on this broker, leader or follower. */
  partition(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(partitionDirName(topic, partition));
  }

  /**
   * The partition if this broker leads it at `currentLeaderEpoch` (-1: any), else the error to
   * answer: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH.
   */
  leaderFor(topic: string, index: number, currentLeaderEpoch = -1): LeaderLookup {
    const partition = this.partitions.get(partitionDirName(topic, index));
    if (!partition) {
      const known = this.image?.topic(topic)?.partitions[index];
      return known ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    }
    const error = partition.leaderError(currentLeaderEpoch);
    return error === ErrorCode.NONE ? partition : error;
  }

  /** Applies a topic's configs, as the metadata now holds them, to its open logs here. */
  reloadTopicConfig(topic: string): void {
    this.logs.reloadTopicConfig(topic);
  }

  /** Every open partition log (for metrics and startup checks). */
  allLogs(): TopicPartitionLog[] {
    return this.logs.all();
  }

  /** min.insync.replicas for `topic`: the topic's setting, else the broker's. */
  minInsyncReplicas(topic: string): number {
    return this.image?.minInsyncReplicas(topic, this.settings.minInsyncReplicas) ?? this.settings.minInsyncReplicas;
  }

  // ---- appends and long polls ----------------------------------------------------------------

  /**
   * Appends record batches as the partition's leader, at its leader epoch. With acks=all the
   * ISR must be at least min.insync.replicas before the append (NOT_ENOUGH_REPLICAS), and the
   * caller then waits with waitForIsr. The storage's own promise is returned on the fast path.
   */
  appendAsLeader(partition: Partition, records: Buffer): Promise<AppendResult> {
    return partition.log.append(records, { leaderEpoch: partition.leaderEpoch });
  }

  /** The error an acks=all write to `partition` gets before it is appended, or NONE. */
  isrShortfall(partition: Partition): number {
    return partition.state.isr.length < this.minInsyncReplicas(partition.topic) ? ErrorCode.NOT_ENOUGH_REPLICAS : ErrorCode.NONE;
  }

  /**
   * After an acks=all append: resolves NONE once every ISR member has it, or the error to
   * answer (leadership moved, timed out, the ISR fell below min.insync.replicas meanwhile).
   */
  async waitForIsr(partition: Partition, lastOffset: number, timeoutMs: number): Promise<number> {
    const errorCode = await partition.waitForReplication(lastOffset, timeoutMs);
    if (errorCode !== ErrorCode.NONE) return errorCode;
    return partition.state.isr.length < this.minInsyncReplicas(partition.topic) ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : ErrorCode.NONE;
  }

  /** Counts a leader append (metrics), moves the high watermark if it can, and wakes fetches waiting on that partition. */
  recordAppend(partition: Partition, bytes: number, records: number): void {
    this.metrics.producedBytes.inc({ topic: partition.topic }, bytes);
    this.metrics.producedRecords.inc({ topic: partition.topic }, records);
    partition.afterLeaderAppend();
    this.countAppend(partition.key);
  }

  /** A follower fetched `fetchOffset`: it has everything below. Moves the high watermark and may grow the ISR. */
  recordFollowerFetch(partition: Partition, replicaId: number, fetchOffset: number): void {
    if (partition.recordFollowerFetch(replicaId, fetchOffset, Date.now())) this.countAppend(partition.key);
    if (partition.canJoinIsr(replicaId)) this.proposeIsr(partition, [...partition.state.isr, replicaId], `broker ${replicaId} caught up`);
  }

  recordFetch(topic: string, bytes: number): void {
    this.metrics.fetchedBytes.inc({ topic }, bytes);
  }

  appendCount(key: string): number {
    return this.appendCounts.get(key) ?? 0;
  }

  /**
   * Resolves when any watched partition has been appended to (or its high watermark moved)
   * since its count was taken, or after `timeoutMs`, or at shutdown — whichever comes first.
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

  private countAppend(key: string): void {
    this.appendCounts.set(key, (this.appendCounts.get(key) ?? 0) + 1);
    this.wake(key);
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

  // ---- the ISR -------------------------------------------------------------------------------

  /** The assignments of the partitions this broker leads (the replication gauges read them). */
  ledPartitions(): PartitionState[] {
    return [...this.partitions.values()].filter((partition) => partition.role === 'leader').map((partition) => partition.state);
  }

  /** Followers that fell behind for longer than replica.lag.time.max.ms leave the ISR of the partitions this broker leads. */
  private checkIsrs(): void {
    const now = Date.now();
    for (const partition of this.partitions.values()) {
      if (partition.role !== 'leader' || partition.pendingIsr) continue;
      const lagging = partition.laggingIsrMembers(now, this.settings.replicaLagTimeMaxMs);
      if (lagging.length === 0) continue;
      this.proposeIsr(
        partition,
        partition.state.isr.filter((id) => !lagging.includes(id)),
        `broker(s) ${lagging.join(',')} fell behind for over ${this.settings.replicaLagTimeMaxMs} ms`,
      );
    }
  }

  private proposeIsr(partition: Partition, isr: readonly number[], reason: string): void {
    const send = this.sendIsrChange;
    if (!send || partition.pendingIsr) return;
    const state = partition.state;
    partition.pendingIsr = isr;
    this.logger.info('asking the controller to change an ISR', { partition: partition.key, from: state.isr.join(','), to: isr.join(','), reason });
    send({ topicId: state.topicId, partitionIndex: partition.index, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, isr })
      .then(() => (isr.length < state.isr.length ? this.metrics.isrShrinks : this.metrics.isrExpands).inc())
      .catch((error: unknown) => this.logger.warn('ISR change refused or failed; the leader will try again', { partition: partition.key, reason: describeError(error) }))
      .finally(() => {
        if (partition.pendingIsr === isr) partition.pendingIsr = null;
      });
  }

  // ---- the high-watermark checkpoint ---------------------------------------------------------

  /** Writes every replica's high watermark if any moved since the last write; one write at a time. */
  checkpointHighWatermarks(): Promise<void> {
    this.checkpointing = this.checkpointing.then(async () => {
      const marks = [...this.partitions.values()].map((partition) => ({ topic: partition.topic, partition: partition.index, highWatermark: partition.highWatermark }));
      const summary = marks.map((mark) => `${mark.topic} ${mark.partition} ${mark.highWatermark}`).join('\n');
      if (summary === this.lastCheckpoint) return;
      try {
        await writeHighWatermarks(this.settings.dataDir, marks);
        this.lastCheckpoint = summary;
      } catch (error) {
        // Only availability after a restart depends on it; the next tick tries again.
        this.logger.warn('writing the high-watermark checkpoint failed', { reason: describeError(error) });
      }
    });
    return this.checkpointing;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Stops long polls from waiting, so in-flight fetches answer now. */
  beginShutdown(): void {
    this.stopping = true;
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  /** Stops the fetchers, then flushes and closes every log. */
  async close(): Promise<void> {
    this.beginShutdown();
    clearInterval(this.isrTimer);
    clearInterval(this.checkpointTimer);
    await Promise.all([...this.fetchers.values()].map((fetcher) => fetcher.stop()));
    await this.reconciling;
    await this.checkpointHighWatermarks();
    for (const partition of this.partitions.values()) partition.failWaiters(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    await this.logs.close();
  }
}
