// The group coordinator as the broker runs it, following Kafka's GroupCoordinator: a group's
// coordinator is the leader of partition hash(group id) mod N of `__consumer_offsets`, an
// ordinary replicated topic created by the first FindCoordinator. This service follows the
// replica manager: when this broker becomes leader of an offsets partition it replays that
// partition into the coordinator (at that leader epoch), and when it stops leading it (follower,
// or the replica removed) the partition's groups are unloaded. The broker that takes over
// rebuilds the same groups by replaying the same replicated records. Every broker also drops
// the committed offsets of a deleted topic from the groups it coordinates, as it applies the
// deletion.
import type { TopicState } from '../controller/cluster/image.js';
import type { MetadataService } from '../controller/metadata-service.js';
import { describeError, type Logger } from '../log.js';
import { ErrorCode } from '../protocol/errors.js';
import type { LeadershipChange, ReplicaManager } from '../replication/replica-manager.js';
import { systemClock } from './clock.js';
import { GroupCoordinator, defaultGroupCoordinatorConfig } from './group-coordinator.js';
import { CoordinatorRecordError, decodeCoordinatorRecord } from './offsets-records.js';
import { OFFSETS_TOPIC, OffsetsTopic } from './offsets-topic.js';

/** A load of one offsets partition in flight; resolves true once its groups are served. */
interface Loading {
  readonly leaderEpoch: number;
  readonly done: Promise<boolean>;
}

export class GroupService {
  private readonly groups: GroupCoordinator;
  private readonly offsetsTopic: OffsetsTopic;
  private readonly loading = new Map<number, Loading>();
  /** Removals of a deleted topic's offsets still being stored, by topic. */
  private readonly removals = new Map<string, Promise<void>>();
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly metadata: MetadataService,
    private readonly replicas: ReplicaManager,
    private readonly log: Logger,
  ) {
    const existing = metadata.topic(OFFSETS_TOPIC);
    this.offsetsTopic = new OffsetsTopic(metadata, replicas, log);
    this.groups = new GroupCoordinator(
      this.offsetsTopic,
      {
        partitionExists: (topic, partition) => {
          const image = this.metadata.topic(topic);
          return image !== undefined && partition >= 0 && partition < image.partitions.length;
        },
      },
      systemClock,
      { warn: (message) => this.log.warn(message) },
      // An existing topic keeps its partition count: groups must hash to where their records are.
      { ...defaultGroupCoordinatorConfig, offsetsTopicPartitions: existing?.partitions.length ?? defaultGroupCoordinatorConfig.offsetsTopicPartitions },
    );
    this.unsubscribe = [
      replicas.onLeadershipChange((change) => this.leadershipChanged(change)),
      metadata.onTopicRemoved((topic) => this.topicRemoved(topic)),
    ];
    // Leaderships this broker took before the service listened are loaded too.
    for (let partition = 0; partition < (existing?.partitions.length ?? 0); partition++) {
      const replica = replicas.partition(OFFSETS_TOPIC, partition);
      if (replica?.role === 'leader') void this.load(partition, replica.leaderEpoch);
    }
  }

  /** The group coordinator: serves the groups of the offsets partitions this broker leads. */
  coordinator(): GroupCoordinator {
    return this.groups;
  }

  /**
   * `__consumer_offsets` as this broker's metadata has it, created first (with the coordinator's
   * partition count) when it does not exist. Rejects, with `kafkaErrorCode`
   * COORDINATOR_NOT_AVAILABLE, when it cannot be created.
   */
  async offsetsTopicState(): Promise<TopicState> {
    await this.offsetsTopic.ensureCreated(this.groups.config.offsetsTopicPartitions);
    const topic = this.metadata.topic(OFFSETS_TOPIC);
    if (!topic) {
      throw Object.assign(new Error(`${OFFSETS_TOPIC} was created but is not yet in this broker's metadata`), {
        kafkaErrorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      });
    }
    this.groups.useOffsetsTopicPartitions(topic.partitions.length);
    return topic;
  }

  /**
   * Resolves true once the groups of `partition` are served here; false when this broker does
   * not lead it or loading failed. A failed load is started again (as the next FindCoordinator
   * calls this).
   */
  whenLoaded(partition: number): Promise<boolean> {
    if (this.groups.isLoaded(partition)) return Promise.resolve(true);
    const replica = this.replicas.partition(OFFSETS_TOPIC, partition);
    if (replica?.role !== 'leader') return Promise.resolve(false);
    return this.load(partition, replica.leaderEpoch);
  }

  private leadershipChanged(change: LeadershipChange): void {
    if (change.topic !== OFFSETS_TOPIC) return;
    if (change.role === 'leader') {
      void this.load(change.partition, change.leaderEpoch);
      return;
    }
    this.loading.delete(change.partition);
    this.offsetsTopic.forget(change.partition);
    const dropped = this.groups.unloadPartition(change.partition);
    if (dropped >= 0) this.log.info('groups unloaded: no longer the leader', { topic: OFFSETS_TOPIC, partition: change.partition, role: change.role, groups: dropped });
  }

  /** Loads `partition` at `leaderEpoch`, unless that load is already running or done. */
  private load(partition: number, leaderEpoch: number): Promise<boolean> {
    const running = this.loading.get(partition);
    if (running?.leaderEpoch === leaderEpoch) return running.done;
    const topic = this.metadata.topic(OFFSETS_TOPIC);
    if (topic) this.groups.useOffsetsTopicPartitions(topic.partitions.length);
    const load = this.groups.loadPartition(partition, leaderEpoch);
    if (!load) return Promise.resolve(this.groups.isLoaded(partition));
    const apply = (record: { key: Buffer; value: Buffer | null }, offset: number) => {
      try {
        load.replay(decodeCoordinatorRecord(record.key, record.value));
      } catch (error) {
        if (!(error instanceof CoordinatorRecordError)) throw error;
        // One unreadable record must not cost every group its offsets: it is skipped, loudly.
        this.log.error('skipping an unreadable record', { topic: OFFSETS_TOPIC, partition, offset, reason: error.message });
      }
    };
    const done = this.offsetsTopic.replay(partition, leaderEpoch, apply, () => load.current).then(
      (records) => {
        if (!load.finish()) return false;
        this.log.info('groups loaded', { topic: OFFSETS_TOPIC, partition, leaderEpoch, records });
        return true;
      },
      (error: unknown) => {
        if (load.current) {
          this.log.error('loading groups failed; the next FindCoordinator for one of them retries', {
            topic: OFFSETS_TOPIC,
            partition,
            leaderEpoch,
            reason: describeError(error),
          });
        }
        return false;
      },
    );
    const entry = { leaderEpoch, done };
    this.loading.set(partition, entry);
    void done.then(() => {
      if (this.loading.get(partition) === entry) this.loading.delete(partition);
    });
    return done;
  }

  private topicRemoved(topic: string): void {
    if (topic === OFFSETS_TOPIC) return;
    const removal = this.groups.removeTopicOffsets(topic);
    this.removals.set(topic, removal);
    void removal.then(() => {
      if (this.removals.get(topic) === removal) this.removals.delete(topic);
    });
  }

  /**
   * Resolves once this broker has forgotten (and stored the tombstones of) the committed offsets
   * of `topic`, deleted, in the groups it coordinates. Every broker starts that by itself as it
   * applies the deletion; DeleteTopics waits for it so its answer comes after.
   */
  async forgetCommittedOffsets(topic: string): Promise<void> {
    await this.removals.get(topic);
  }

  /** Stops following leaderships, then the coordinator's timers and parked requests. */
  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.groups.close();
  }
}
