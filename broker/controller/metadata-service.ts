// The metadata as request handlers use it, and the one place topics change: a change is made
// durable in the metadata store first, then the replica manager opens or removes the logs it
// implies (as a Kafka broker applies a metadata delta to its ReplicaManager). It also holds
// this node's identity as clients see it: node id, cluster id and the advertised address of
// each listener. With a Raft quorum the store's commits become the controller's, and the rest
// stays as it is.
import type { BrokerConfig, HostPort } from '../config.js';
import { formatHostPort } from '../config.js';
import { describeError, type Logger } from '../log.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { TopicImage } from './metadata-image.js';
import { invalidTopicNameReason, isInternalTopic, type MetadataStore } from './metadata-store.js';

export class MetadataService {
  private readonly creating = new Map<string, Promise<TopicImage>>();
  /** By listener name; each listener's entry is set once it is bound. */
  private readonly advertised = new Map<string, HostPort>();

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: MetadataStore,
    private readonly replicas: ReplicaManager,
    private readonly logger: Logger,
  ) {}

  get nodeId(): number {
    return this.config.nodeId;
  }

  get clusterId(): string {
    return this.store.clusterId;
  }

  /**
   * Where clients connected to `listener` reach this node: a client is always told addresses
   * on the listener it came in on (inside or outside the cluster network).
   */
  advertisedAddress(listener: string): HostPort {
    const address = this.advertised.get(listener);
    if (!address) throw new Error(`listener ${listener} has no advertised address: it is not bound`);
    return address;
  }

  /** Every listener's advertised address, in the order the listeners were bound. */
  advertisedListeners(): ReadonlyMap<string, HostPort> {
    return this.advertised;
  }

  setAdvertisedAddress(listener: string, address: HostPort): void {
    this.advertised.set(listener, address);
    this.logger.info(`advertising ${formatHostPort(address)} on listener ${listener}`);
  }

  // ---- reading -------------------------------------------------------------------------------

  /** A topic whose partition logs are all open (a topic being created is not yet visible here). */
  topic(name: string): TopicImage | undefined {
    return this.creating.has(name) ? undefined : this.store.image.topic(name);
  }

  topicById(topicId: string): TopicImage | undefined {
    return this.store.image.topicById(topicId);
  }

  /** Every topic in the metadata, including one whose logs are still being created. */
  topics(): IterableIterator<TopicImage> {
    return this.store.image.topics();
  }

  // ---- changing ------------------------------------------------------------------------------

  /**
   * Creates a topic durably in metadata, then its partition logs. A topic that exists or is
   * being created already is returned as it is, so racing creators get the same topic.
   */
  createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<TopicImage> {
    const pending = this.creating.get(name);
    if (pending) return pending;
    const existing = this.store.image.topic(name);
    if (existing) return Promise.resolve(existing);
    const topic = this.store.createTopic(name, partitions, configs);
    const created = (async () => {
      try {
        await this.replicas.openNewTopic(name, partitions);
        this.logger.info('topic created', { topic: name, topicId: topic.topicId, partitions });
        return topic;
      } finally {
        this.creating.delete(name);
      }
    })();
    this.creating.set(name, created);
    return created;
  }

  /**
   * The topic for a write or metadata request naming a topic that does not exist: created with
   * the default partition count when auto-creation is on, else the error code to answer.
   * Internal topics are never created this way: their owner gives them their shape (a
   * `__consumer_offsets` with the default partition count would put groups on the wrong partitions).
   */
  async autoCreateTopic(name: string): Promise<TopicImage | number> {
    const pending = this.creating.get(name);
    if (pending) return pending;
    const existing = this.store.image.topic(name);
    if (existing) return existing;
    if (invalidTopicNameReason(name)) return ErrorCode.INVALID_TOPIC_EXCEPTION;
    if (!this.config.autoCreateTopics || isInternalTopic(name)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    try {
      return await this.createTopic(name, this.config.defaultPartitions, {});
    } catch (error) {
      this.logger.error('auto-creating a topic failed', { topic: name, reason: describeError(error) });
      return ErrorCode.KAFKA_STORAGE_ERROR;
    }
  }

  async deleteTopic(topic: TopicImage): Promise<void> {
    this.store.removeTopic(topic);
    await this.replicas.deleteTopic(topic.name, topic.partitions);
    this.logger.info('topic deleted', { topic: topic.name, topicId: topic.topicId });
  }

  async addPartitions(topic: TopicImage, count: number): Promise<void> {
    const previous = topic.partitions;
    this.store.setPartitionCount(topic, count);
    await this.replicas.openPartitions(topic.name, previous, count);
    this.logger.info('partitions added', { topic: topic.name, from: previous, to: count });
  }

  // ---- startup -------------------------------------------------------------------------------

  /**
   * Makes disk and metadata agree after a crash: partitions the metadata has but the disk
   * lacks are created (a crash during topic creation); leftovers of removed topics are
   * deleted (a crash during deletion); partition directories of topics the metadata never
   * knew are adopted as topics rather than deleted, so data is never lost to a missing record.
   */
  async reconcile(): Promise<void> {
    const image = this.store.image;
    const found = new Map<string, number>();
    for (const { topic, partition } of this.replicas.allLogs()) {
      const known = image.topic(topic);
      if (known && partition < known.partitions) continue;
      if (known) {
        this.logger.warn('keeping a partition log beyond the topic\'s partition count untouched', { topic, partition });
        continue;
      }
      if (image.removedTopicNames.has(topic)) {
        this.logger.warn('removing leftover partition log', { topic, partition });
        await this.replicas.deletePartition(topic, partition);
        continue;
      }
      found.set(topic, Math.max(found.get(topic) ?? 0, partition + 1));
    }
    for (const [topic, partitions] of found) {
      this.logger.warn('adopting partition logs missing from the metadata log', { topic, partitions });
      this.store.createTopic(topic, partitions, {});
    }
    for (const topic of image.topics()) {
      try {
        await this.replicas.openPartitions(topic.name, 0, topic.partitions);
      } catch (error) {
        // One partition the disk cannot hold now must not keep the others offline.
        this.logger.error('cannot create a missing partition log; it stays unavailable', {
          topic: topic.name,
          reason: describeError(error),
        });
      }
    }
  }
}
