// The group coordinator as the broker runs it: created by the startup wiring, but the
// GroupCoordinator itself (and `__consumer_offsets`) only on first use, as Kafka creates the
// topic when the first FindCoordinator arrives. Group records go through the broker's ordinary
// partition logs, so they share the log's durability and recovery, and later its replication:
// a broker that takes over as coordinator rebuilds the same state by replaying the same topic.
import type { MetadataService } from '../controller/metadata-service.js';
import { describeError, type Logger } from '../log.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import { systemClock } from './clock.js';
import { GroupCoordinator, defaultGroupCoordinatorConfig } from './group-coordinator.js';
import { CoordinatorRecordError, decodeCoordinatorRecord } from './offsets-records.js';
import { OFFSETS_TOPIC, OffsetsTopic } from './offsets-topic.js';

async function loadGroups(topic: OffsetsTopic, groups: GroupCoordinator, log: Logger): Promise<void> {
  const partitions = groups.config.offsetsTopicPartitions;
  await topic.ensureCreated(partitions);
  const records = await topic.replay(partitions, (record, partition, offset) => {
    try {
      groups.replay(decodeCoordinatorRecord(record.key, record.value));
    } catch (error) {
      if (!(error instanceof CoordinatorRecordError)) throw error;
      // One unreadable record must not cost every group its offsets: it is skipped, loudly.
      log.error('skipping an unreadable record', { topic: OFFSETS_TOPIC, partition, offset, reason: error.message });
    }
  });
  groups.finishLoading();
  log.info('group state loaded', { topic: OFFSETS_TOPIC, partitions, records });
}

export class GroupService {
  private groups: GroupCoordinator | null = null;
  private offsetsTopic: OffsetsTopic | null = null;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly metadata: MetadataService,
    private readonly replicas: ReplicaManager,
    private readonly log: Logger,
  ) {}

  /** The group coordinator; the first call creates it and starts loading its state. */
  coordinator(): GroupCoordinator {
    if (this.groups) return this.groups;
    const existing = this.metadata.topic(OFFSETS_TOPIC);
    this.offsetsTopic = new OffsetsTopic(this.metadata, this.replicas, this.log);
    this.groups = new GroupCoordinator(
      this.offsetsTopic,
      {
        partitionExists: (topic, partition) => {
          const image = this.metadata.topic(topic);
          return image !== undefined && partition >= 0 && partition < image.partitions;
        },
      },
      systemClock,
      { warn: (message) => this.log.warn(message) },
      // An existing topic keeps its partition count: groups must hash to where their records are.
      { ...defaultGroupCoordinatorConfig, offsetsTopicPartitions: existing?.partitions ?? defaultGroupCoordinatorConfig.offsetsTopicPartitions },
    );
    // Start loading right away; requests meanwhile are answered COORDINATOR_LOAD_IN_PROGRESS.
    this.ensureLoaded().catch(() => undefined);
    return this.groups;
  }

  /** Resolves once `__consumer_offsets` exists and has been replayed (retrying a failed load). */
  ensureLoaded(): Promise<void> {
    const groups = this.coordinator();
    if (!groups.isLoading) return Promise.resolve();
    this.loading ??= loadGroups(this.offsetsTopic!, groups, this.log).catch((error: unknown) => {
      this.loading = null;
      this.log.error('loading group state failed; the next FindCoordinator retries', { reason: describeError(error) });
      throw error;
    });
    return this.loading;
  }

  /**
   * After a topic is deleted: removes every group's committed offsets for it, durably (see
   * GroupCoordinator.removeTopicOffsets). Without `__consumer_offsets` there are none; otherwise
   * the coordinator is loaded first, so offsets still being replayed are removed too.
   */
  async forgetCommittedOffsets(topic: string): Promise<void> {
    if (!this.metadata.topic(OFFSETS_TOPIC)) return;
    await this.ensureLoaded();
    await this.coordinator().removeTopicOffsets(topic);
  }

  /** Stops the coordinator's timers and parked requests (a coordinator never used has none). */
  close(): void {
    this.groups?.close();
  }
}
