// The metadata as request handlers use it: the cluster image this broker has applied from the
// metadata quorum, this node's identity as clients see it (node id, cluster id, the advertised
// address of each listener), and the one way topics change: a request to the active
// controller (in-process or over the network, see controller-channel.ts), answered once this
// broker's own image and replicas show the change, so a client's next request here sees it.
import { randomUUID } from 'node:crypto';
import type { BrokerConfig, HostPort } from '../config.js';
import { formatHostPort } from '../config.js';
import { describeError, type Logger } from '../log.js';
import type { KafkaClient } from '../net/kafka-client.js';
import { alterConfigsApi } from '../protocol/apis/33-alter-configs.js';
import { createPartitionsApi } from '../protocol/apis/37-create-partitions.js';
import { createTopicsApi } from '../protocol/apis/19-create-topics.js';
import { deleteTopicsApi } from '../protocol/apis/20-delete-topics.js';
import { alterPartitionApi } from '../protocol/apis/56-alter-partition.js';
import { electLeadersApi } from '../protocol/apis/43-elect-leaders.js';
import { ConfigOperation, incrementalAlterConfigsApi } from '../protocol/apis/44-incremental-alter-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import type { IsrChange, ReplicaManager } from '../replication/replica-manager.js';
import type { ClusterMetadataApplier } from './cluster/applier.js';
import { ControllerDecisionError } from './cluster/elections.js';
import type { BrokerRegistration, ClusterImage, TopicState } from './cluster/image.js';
import { changeIsr, electLeaders, type ElectionResult, type ElectionType, type PartitionRef } from './cluster/partition-decisions.js';
import { NO_LEADER, type ClusterRecord } from './cluster/records.js';
import { alterTopicConfigs, createPartitions, createTopic, deleteTopic, replaceTopicConfigs } from './cluster/topic-decisions.js';
import { ConfigResourceType } from './cluster/records.js';
import { ControllerUnavailableError, throwIfControllerRefused, type ControllerChannel } from './controller-channel.js';
import type { QuorumDriver } from './quorum/driver.js';
import { invalidTopicNameReason, isInternalTopic } from './topic-names.js';

/** What a topic change came to: NONE, or the error code and a message for the client. */
export interface ChangeOutcome {
  readonly errorCode: number;
  readonly message: string | null;
}

export interface NewTopic {
  readonly name: string;
  /** -1: the broker's default. */
  readonly partitions: number;
  /** -1: the broker's default. */
  readonly replicationFactor: number;
  /** Explicit replicas per partition, instead of a count and replication factor. */
  readonly assignments: readonly (readonly number[])[] | null;
  readonly configs: Readonly<Record<string, string>>;
}

const ok: ChangeOutcome = { errorCode: ErrorCode.NONE, message: null };
/** How long a topic change may wait for the controller, then for this broker to apply it. */
const changeTimeoutMs = 30_000;

export class MetadataService {
  /** By listener name; each listener's entry is set once it is bound. */
  private readonly advertised = new Map<string, HostPort>();
  private readonly appliedWaiters = new Set<() => void>();
  private readonly topicRemovedListeners = new Set<(name: string) => void>();
  /** Topic name → topic id as last applied, to tell which topics each change removed. */
  private appliedTopics: ReadonlyMap<string, string>;
  /**
   * Topic name → its config overrides (as JSON) as the logs last took them. Starts empty: the
   * logs opened at startup, before the metadata was replayed, took the broker defaults.
   */
  private readonly appliedTopicConfigs = new Map<string, string>();
  /** False until the broker has caught up with the metadata (see startPublishing). */
  private publishing = false;

  constructor(
    private readonly config: BrokerConfig,
    readonly clusterId: string,
    private readonly quorum: QuorumDriver,
    private readonly applier: ClusterMetadataApplier,
    private readonly channel: ControllerChannel,
    private readonly replicas: ReplicaManager,
    private readonly logger: Logger,
  ) {
    this.appliedTopics = topicIdsOf(applier.image);
    quorum.subscribe((event) => {
      if (event.kind !== 'applied') return;
      if (this.publishing) void this.replicas.applyImage(this.applier.image);
      this.reloadChangedTopicConfigs();
      this.announceRemovedTopics();
      for (const wake of [...this.appliedWaiters]) wake();
    });
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  get image(): ClusterImage {
    return this.applier.image;
  }

  /** The metadata index this broker has applied. */
  get appliedIndex(): number {
    return this.quorum.status().appliedIndex;
  }

  /**
   * The controller id Metadata and DescribeCluster give clients: where to send CreateTopics,
   * DeleteTopics and the other controller-bound requests. Every broker forwards those to the
   * active controller, so, like Kafka's KRaft brokers (which name a random live broker), this is
   * never -1: the active controller while it is a live broker (one hop fewer), else this broker,
   * during an election or before a stopped controller is fenced. kafkajs' admin gives up at once
   * on a controller id of -1 or of a broker it cannot reach.
   */
  get controllerIdForClients(): number {
    const leader = this.quorum.status().leader;
    return leader !== null && this.applier.image.isLive(leader) ? leader : this.config.nodeId;
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

  /**
   * From now on every applied change reaches the replicas. Not before the broker has caught up
   * with the metadata log: a restarted broker's own log may still name it leader at an epoch
   * the cluster has long moved past (Kafka installs its metadata publishers at the same point).
   */
  startPublishing(): Promise<void> {
    this.publishing = true;
    this.reloadChangedTopicConfigs();
    return this.replicas.applyImage(this.applier.image);
  }

  /**
   * Calls `listener` with the name of every topic that leaves this broker's image (deleted, or
   * deleted and created again under the same name), as each change is applied: every broker
   * learns of a deletion, not only the one that handled DeleteTopics. Returns the unsubscribe.
   */
  onTopicRemoved(listener: (name: string) => void): () => void {
    this.topicRemovedListeners.add(listener);
    return () => this.topicRemovedListeners.delete(listener);
  }

  /** Retention, segment size, max.message.bytes and timestamp type act from the logs' next append or retention pass. */
  private reloadChangedTopicConfigs(): void {
    const image = this.applier.image;
    const names = new Set(image.topics().map((topic) => topic.name));
    for (const name of this.appliedTopicConfigs.keys()) if (!names.has(name)) this.appliedTopicConfigs.delete(name);
    for (const name of names) {
      const configs = JSON.stringify(Object.entries(image.topicConfigs(name)).sort(([a], [b]) => a.localeCompare(b)));
      if (this.appliedTopicConfigs.get(name) === configs) continue;
      this.appliedTopicConfigs.set(name, configs);
      this.replicas.reloadTopicConfig(name);
    }
  }

  private announceRemovedTopics(): void {
    const previous = this.appliedTopics;
    this.appliedTopics = topicIdsOf(this.applier.image);
    for (const [name, topicId] of previous) {
      if (this.appliedTopics.get(name) === topicId) continue;
      for (const listener of this.topicRemovedListeners) {
        try {
          listener(name);
        } catch (error) {
          this.logger.error('a topic-removed listener failed', { topic: name, reason: describeError(error) });
        }
      }
    }
  }

  // ---- reading -------------------------------------------------------------------------------

  topic(name: string): TopicState | undefined {
    return this.applier.image.topic(name);
  }

  topicById(topicId: string): TopicState | undefined {
    return this.applier.image.topicById(topicId);
  }

  topics(): TopicState[] {
    return this.applier.image.topics();
  }

  /** The unfenced brokers, each with its address on `listener` (brokers without that listener are left out). */
  liveBrokers(listener: string): Array<{ broker: BrokerRegistration; host: string; port: number }> {
    return this.applier.image.liveBrokers().flatMap((broker) => {
      const endpoint = broker.listeners.find((candidate) => candidate.name === listener);
      return endpoint ? [{ broker, host: endpoint.host, port: endpoint.port }] : [];
    });
  }

  // ---- changing ------------------------------------------------------------------------------

  /**
   * Creates a topic through the active controller; resolves once this broker has applied it
   * and opened its replicas here. `validateOnly` checks without creating.
   */
  async createTopic(topic: NewTopic, validateOnly = false): Promise<ChangeOutcome> {
    const partitions = topic.partitions === -1 ? this.config.defaultPartitions : topic.partitions;
    const replicationFactor = topic.replicationFactor === -1 ? this.config.defaultReplicationFactor : topic.replicationFactor;
    const topicId = randomUUID();
    const request = topic.assignments
      ? { name: topic.name, topicId, configs: topic.configs, assignments: topic.assignments }
      : { name: topic.name, topicId, configs: topic.configs, partitions, replicationFactor };
    const outcome = await this.change(
      `create topic ${topic.name}`,
      (controller) =>
        controller.decide(`create topic ${topic.name}`, (image) => {
          const records = createTopic(image, request);
          return { records: validateOnly ? [] : records, result: undefined };
        }),
      async (client) => {
        const response = await client.request(createTopicsApi, 5, {
          topics: [
            {
              name: topic.name,
              numPartitions: topic.assignments ? -1 : partitions,
              replicationFactor: topic.assignments ? -1 : replicationFactor,
              assignments: (topic.assignments ?? []).map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds: [...brokerIds] })),
              configs: Object.entries(topic.configs).map(([name, value]) => ({ name, value })),
            },
          ],
          timeoutMs: changeTimeoutMs,
          validateOnly,
        });
        const result = response.topics[0];
        return result ? { errorCode: result.errorCode, message: result.errorMessage } : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'the controller answered for no topic' };
      },
    );
    if (outcome.errorCode === ErrorCode.NONE && !validateOnly) await this.settle(() => this.image.topic(topic.name) !== undefined);
    if (outcome.errorCode === ErrorCode.NONE) this.logger.info(validateOnly ? 'topic creation validated' : 'topic created', { topic: topic.name });
    return outcome;
  }

  /**
   * The topic for a write or metadata request naming a topic that does not exist: created with
   * the default partition count and replication factor when auto-creation is on, else the
   * error code to answer. Internal topics are never created this way: their owner gives them
   * their shape.
   */
  async autoCreateTopic(name: string): Promise<TopicState | number> {
    const existing = this.topic(name);
    if (existing) return existing;
    if (invalidTopicNameReason(name)) return ErrorCode.INVALID_TOPIC_EXCEPTION;
    if (!this.config.autoCreateTopics || isInternalTopic(name)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const outcome = await this.createTopic({ name, partitions: -1, replicationFactor: -1, assignments: null, configs: {} });
    const created = this.topic(name);
    if (created) return created;
    if (outcome.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      this.logger.warn('auto-creating a topic failed', { topic: name, reason: outcome.message ?? String(outcome.errorCode) });
    }
    // A racing creator won: the topic reaches this broker's image shortly.
    return outcome.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS ? ErrorCode.LEADER_NOT_AVAILABLE : outcome.errorCode;
  }

  async deleteTopic(name: string): Promise<ChangeOutcome> {
    const outcome = await this.change(
      `delete topic ${name}`,
      (controller) => controller.decide(`delete topic ${name}`, (image) => ({ records: deleteTopic(image, name), result: undefined })),
      async (client) => {
        const response = await client.request(deleteTopicsApi, 4, { topicNames: [name], timeoutMs: changeTimeoutMs });
        const result = response.responses[0];
        return result ? { errorCode: result.errorCode, message: null } : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'the controller answered for no topic' };
      },
    );
    if (outcome.errorCode === ErrorCode.NONE) await this.settle(() => this.image.topic(name) === undefined);
    return outcome;
  }

  async addPartitions(name: string, count: number, assignments: readonly (readonly number[])[] | null, validateOnly = false): Promise<ChangeOutcome> {
    const request = { name, count, assignments: assignments ?? undefined };
    const outcome = await this.change(
      `add partitions to ${name}`,
      (controller) =>
        controller.decide(`add partitions to ${name}`, (image) => {
          const records = createPartitions(image, request);
          return { records: validateOnly ? [] : records, result: undefined };
        }),
      async (client) => {
        const response = await client.request(createPartitionsApi, 1, {
          topics: [{ name, count, assignments: assignments ? assignments.map((brokerIds) => ({ brokerIds: [...brokerIds] })) : null }],
          timeoutMs: changeTimeoutMs,
          validateOnly,
        });
        const result = response.results[0];
        return result ? { errorCode: result.errorCode, message: result.errorMessage } : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'the controller answered for no topic' };
      },
    );
    if (outcome.errorCode === ErrorCode.NONE && !validateOnly) await this.settle(() => (this.image.topic(name)?.partitions.length ?? 0) >= count);
    return outcome;
  }

  /**
   * Sets and removes a topic's config overrides through the active controller (configs not
   * named keep their values); resolves once this broker's image shows the change, so a
   * DescribeConfigs here sees it. `validateOnly` checks without changing. Whether the topic
   * exists is the controller's to say: this broker may not have applied it yet.
   */
  async alterTopicConfigs(name: string, set: Readonly<Record<string, string>>, remove: readonly string[], validateOnly = false): Promise<ChangeOutcome> {
    const what = `alter configs of topic ${name}`;
    return this.changeTopicConfigs(
      name,
      what,
      validateOnly,
      (image) => alterTopicConfigs(image, { name, set, remove }),
      async (client) => {
        const response = await client.request(incrementalAlterConfigsApi, 1, {
          resources: [
            {
              resourceType: ConfigResourceType.topic,
              resourceName: name,
              configs: [
                ...Object.entries(set).map(([key, value]) => ({ name: key, configOperation: ConfigOperation.set, value })),
                ...remove.map((key) => ({ name: key, configOperation: ConfigOperation.delete, value: null })),
              ],
            },
          ],
          validateOnly,
        });
        return response.responses[0];
      },
      (now) => Object.entries(set).every(([key, value]) => now[key] === value) && remove.every((key) => now[key] === undefined),
    );
  }

  /**
   * Makes `configs` a topic's whole set of overrides (AlterConfigs): every other override returns
   * to its default. Which overrides those are is read from the controller's image, not from this
   * broker's, which may trail it.
   */
  async replaceTopicConfigs(name: string, configs: Readonly<Record<string, string>>, validateOnly = false): Promise<ChangeOutcome> {
    const what = `replace configs of topic ${name}`;
    return this.changeTopicConfigs(
      name,
      what,
      validateOnly,
      (image) => replaceTopicConfigs(image, { name, configs }),
      async (client) => {
        const response = await client.request(alterConfigsApi, 1, {
          resources: [{ resourceType: ConfigResourceType.topic, resourceName: name, configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }],
          validateOnly,
        });
        return response.responses[0];
      },
      (now) => Object.keys(now).length === Object.keys(configs).length && Object.entries(configs).every(([key, value]) => now[key] === value),
    );
  }

  private async changeTopicConfigs(
    name: string,
    what: string,
    validateOnly: boolean,
    decide: (image: ClusterImage) => ClusterRecord[],
    remote: (client: KafkaClient) => Promise<{ errorCode: number; errorMessage: string | null } | undefined>,
    shown: (configs: Readonly<Record<string, string>>) => boolean,
  ): Promise<ChangeOutcome> {
    const outcome = await this.change(
      what,
      (controller) => controller.decide(what, (image) => ({ records: validateOnly ? [] : decide(image), result: undefined })),
      async (client) => {
        const result = await remote(client);
        if (result?.errorCode === ErrorCode.NOT_CONTROLLER) throwIfControllerRefused(result.errorCode, what);
        return result ? { errorCode: result.errorCode, message: result.errorMessage } : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'the controller answered for no topic' };
      },
    );
    if (outcome.errorCode === ErrorCode.NONE && !validateOnly) await this.settle(() => shown(this.image.topicConfigs(name)));
    return outcome;
  }

  /** A partition leader's ISR change (Kafka's AlterPartition); rejects when refused or the controller is out of reach. */
  async alterIsr(change: IsrChange): Promise<void> {
    const request = { brokerId: this.nodeId, ...change };
    const where = `ISR change of partition ${change.partitionIndex} of topic id ${change.topicId}`;
    await this.channel.call(
      where,
      changeTimeoutMs,
      (controller) => controller.decide(where, (image) => ({ records: changeIsr(image, request), result: undefined })),
      async (client) => {
        const response = await client.request(alterPartitionApi, 2, {
          brokerId: this.nodeId,
          brokerEpoch: -1n,
          topics: [
            {
              topicName: '',
              topicId: change.topicId,
              partitions: [{ partitionIndex: change.partitionIndex, leaderEpoch: change.leaderEpoch, newIsr: [...change.isr], leaderRecoveryState: 0, partitionEpoch: change.partitionEpoch }],
            },
          ],
        });
        const errorCode = response.errorCode !== ErrorCode.NONE ? response.errorCode : (response.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR);
        throwIfControllerRefused(errorCode, where);
      },
    );
  }

  /**
   * ElectLeaders through the active controller: moves each partition's leadership as `type`
   * asks (every partition when `partitions` is null) and says per partition why it could not.
   * Resolves once this broker's image shows the moved leaders, so a client's next Metadata
   * here sees them; rejects with ControllerUnavailableError when no controller answers.
   */
  async electLeaders(type: ElectionType, partitions: readonly PartitionRef[] | null): Promise<ElectionResult[]> {
    const what = `${type} leader election of ${partitions ? `${partitions.length} partition(s)` : 'every partition'}`;
    const results = await this.channel.call(
      what,
      changeTimeoutMs,
      (controller) =>
        controller.decide(what, (image) => {
          const decision = electLeaders(image, type, partitions);
          return { records: decision.records, result: decision.results };
        }),
      async (client) => {
        const byTopic = new Map<string, number[]>();
        for (const { topic, partitionIndex } of partitions ?? []) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partitionIndex]);
        const response = await client.request(electLeadersApi, 2, {
          electionType: type === 'preferred' ? 0 : 1,
          topicPartitions: partitions ? [...byTopic].map(([topic, indexes]) => ({ topic, partitions: indexes })) : null,
          timeoutMs: changeTimeoutMs,
        });
        throwIfControllerRefused(response.errorCode, what);
        return response.replicaElectionResults.flatMap(({ topic, partitionResult }) =>
          partitionResult.map((result): ElectionResult => ({ topic, partitionIndex: result.partitionId, errorCode: result.errorCode as ErrorCode, message: result.errorMessage })),
        );
      },
    );
    const moved = results.filter((result) => result.errorCode === ErrorCode.NONE);
    await this.settle(() =>
      moved.every(({ topic, partitionIndex }) => {
        const partition = this.image.topic(topic)?.partitions[partitionIndex];
        return partition !== undefined && (type === 'preferred' ? partition.leader === partition.replicas[0] : partition.leader !== NO_LEADER);
      }),
    );
    return results;
  }

  /** Runs a change on the controller and turns its refusal into an outcome. */
  private async change(
    what: string,
    local: Parameters<ControllerChannel['call']>[2],
    remote: (client: KafkaClient) => Promise<ChangeOutcome>,
  ): Promise<ChangeOutcome> {
    try {
      return await this.channel.call(what, changeTimeoutMs, async (controller) => {
        await local(controller);
        return ok;
      }, remote);
    } catch (error) {
      if (error instanceof ControllerDecisionError) return { errorCode: error.errorCode, message: error.message };
      if (error instanceof ControllerUnavailableError) return { errorCode: ErrorCode.REQUEST_TIMED_OUT, message: error.message };
      this.logger.error('topic change failed', { change: what, reason: describeError(error) });
      return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: `${what} failed: ${describeError(error)}` };
    }
  }

  /** Waits until this broker's image satisfies `done` (bounded) and its replicas have caught up with it. */
  private async settle(done: () => boolean): Promise<void> {
    const deadline = Date.now() + changeTimeoutMs;
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.appliedWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(1, deadline - Date.now()));
        this.appliedWaiters.add(wake);
      });
    }
    await this.replicas.applyImage(this.image);
  }

  // ---- startup -------------------------------------------------------------------------------

  /**
   * Partition logs on disk that no replica here accounts for, once caught up with the metadata.
   * A broker alone adopts them as topics (data from before the metadata quorum, or a lost
   * metadata dir) rather than lose them. A cluster member deletes them: the cluster's metadata
   * is authoritative, and such a log is a replica of a topic deleted (or moved) while this
   * broker was down, as Kafka removes stray partitions.
   */
  async adoptOrphanLogs(alone: boolean): Promise<void> {
    const found = new Map<string, number>();
    for (const { topic, partition } of this.replicas.allLogs()) {
      if (this.image.topic(topic)) continue;
      found.set(topic, Math.max(found.get(topic) ?? 0, partition + 1));
    }
    if (!alone) {
      await this.replicas.removeStrayLogs();
      return;
    }
    for (const [topic, partitions] of found) {
      this.logger.warn('adopting partition logs missing from the metadata', { topic, partitions });
      const outcome = await this.createTopic({ name: topic, partitions, replicationFactor: 1, assignments: null, configs: {} });
      if (outcome.errorCode !== ErrorCode.NONE) this.logger.error('cannot adopt partition logs', { topic, reason: outcome.message ?? String(outcome.errorCode) });
    }
  }
}

function topicIdsOf(image: ClusterImage): ReadonlyMap<string, string> {
  return new Map(image.topics().map((topic) => [topic.name, topic.topicId]));
}
