// The cluster metadata image: brokers, topics, partitions and configs as the committed metadata
// records say, built only by applying them in log order (Kafka's MetadataImage, with each
// apply as a one-record MetadataDelta). Every broker holds the same image; the active
// controller reads it to decide, and the broker reads it to serve. Objects handed out are
// frozen and replaced, never changed in place, so a reader holding one sees a consistent
// state. A record that does not fit (a partition of an unknown topic, a fence of a broker
// that never registered) is a ClusterImageError naming the record, and leaves the image as it
// was: a replica whose log says something impossible must stop, not guess.
import { Reader, Writer, decodeMessage, encodeMessageInto } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { MessageSchema } from '../../protocol/schema.js';
import {
  ConfigResourceType,
  LEADER_UNCHANGED,
  NO_LEADER,
  decodeClusterRecord,
  describeRecord,
  encodeClusterRecord,
  type ClusterRecord,
  type ClusterRecordOf,
} from './records.js';

export interface ListenerEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface BrokerRegistration {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly brokerEpoch: number;
  readonly listeners: readonly ListenerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
}

export interface PartitionState {
  readonly topicId: string;
  readonly partitionIndex: number;
  /** Preference order: replicas[0] is the preferred leader. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** NO_LEADER (-1) when the partition is offline. */
  readonly leader: number;
  /** Grows by one on every leader change; followers and clients fence stale leaders by it. */
  readonly leaderEpoch: number;
  /** Grows by one on every change of the partition; ISR updates must name the current one. */
  readonly partitionEpoch: number;
}

export interface TopicState {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: readonly PartitionState[];
}

/** The feature every controller sets first; the quorum serves nothing before it is known. */
export const METADATA_VERSION_FEATURE = 'metadata.version';

/** The resource name of the cluster-wide broker config defaults (Kafka's default broker resource). */
export const CLUSTER_DEFAULT_RESOURCE = '';

export class ClusterImageError extends Error {
  override readonly name = 'ClusterImageError';

  constructor(
    readonly record: ClusterRecord,
    reason: string,
  ) {
    super(`cannot apply ${describeRecord(record)}: ${reason}`);
  }
}

export class ClusterSnapshotError extends Error {
  override readonly name = 'ClusterSnapshotError';
}

const snapshotSchema = {
  name: 'ClusterMetadataSnapshot',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [{ name: 'records', type: '[]bytes', versions: '0+' }],
} as const satisfies MessageSchema;

const snapshotVersion = 0;

type ConfigMap = ReadonlyMap<string, string>;

export class ClusterImage {
  private clusterIdValue: string | null = null;
  private readonly featureLevels = new Map<string, number>();
  private readonly brokersById = new Map<number, BrokerRegistration>();
  private highestBrokerEpoch = -1;
  private readonly topicsByName = new Map<string, TopicState>();
  private readonly topicsById = new Map<string, TopicState>();
  /** Topic configs by topic name, broker configs by broker id text ('' = cluster default). */
  private readonly topicConfigMaps = new Map<string, ConfigMap>();
  private readonly brokerConfigMaps = new Map<string, ConfigMap>();
  private nextProducerIdValue = 0n;

  // ---- queries -------------------------------------------------------------------------------

  get clusterId(): string | null {
    return this.clusterIdValue;
  }

  featureLevel(name: string): number | undefined {
    return this.featureLevels.get(name);
  }

  /** The quorum's metadata is usable: the controller has written the cluster id and metadata version. */
  controllerReady(): boolean {
    return this.clusterIdValue !== null && this.featureLevels.has(METADATA_VERSION_FEATURE);
  }


  broker(brokerId: number): BrokerRegistration | undefined {
    return this.brokersById.get(brokerId);
  }

  /** Every registered broker, fenced or not, by id. */
  brokers(): BrokerRegistration[] {
    return [...this.brokersById.values()].sort((a, b) => a.brokerId - b.brokerId);
  }

  /** The unfenced brokers by id: the ones that may lead, follow in an ISR or take new replicas. */
  liveBrokers(): BrokerRegistration[] {
    return this.brokers().filter((broker) => !broker.fenced);
  }

  /**
   * Registered and unfenced: may lead, sit in an ISR and take new replicas. A broker's
   * /readyz is this and its own catch-up with the metadata log.
   */
  isLive(brokerId: number): boolean {
    return this.brokersById.get(brokerId)?.fenced === false;
  }

  /** Where a client on `listener` reaches `brokerId`, or undefined when it has no such listener. */
  endpoint(brokerId: number, listener: string): ListenerEndpoint | undefined {
    return this.brokersById.get(brokerId)?.listeners.find((endpoint) => endpoint.name === listener);
  }

  /** The highest broker epoch ever registered; a new registration takes the next one. */
  get lastBrokerEpoch(): number {
    return this.highestBrokerEpoch;
  }

  /** The first producer id no broker has been given: the next block starts here. */
  get nextProducerId(): bigint {
    return this.nextProducerIdValue;
  }

  topic(name: string): TopicState | undefined {
    return this.topicsByName.get(name);
  }

  topicById(topicId: string): TopicState | undefined {
    return this.topicsById.get(topicId);
  }

  /** Every topic by name. */
  topics(): TopicState[] {
    return [...this.topicsByName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  partition(topicId: string, partitionIndex: number): PartitionState | undefined {
    return this.topicsById.get(topicId)?.partitions[partitionIndex];
  }

  /** The topic's own config overrides. */
  topicConfigs(topicName: string): Readonly<Record<string, string>> {
    return Object.fromEntries(this.topicConfigMaps.get(topicName) ?? []);
  }

  /** Dynamic broker configs of one broker id, or of the cluster default (''). */
  brokerConfigs(resourceName: string): Readonly<Record<string, string>> {
    return Object.fromEntries(this.brokerConfigMaps.get(resourceName) ?? []);
  }

  /** A topic config as it applies: the topic's override, else the cluster-wide dynamic default, else undefined. */
  topicConfig(topicName: string, key: string): string | undefined {
    return this.topicConfigMaps.get(topicName)?.get(key) ?? this.brokerConfigMaps.get(CLUSTER_DEFAULT_RESOURCE)?.get(key);
  }

  /** How many ISR members an acks=all write needs (the broker's static default when no config sets it). */
  minInsyncReplicas(topicName: string, brokerDefault: number): number {
    const value = this.topicConfig(topicName, 'min.insync.replicas');
    return value === undefined ? brokerDefault : Number(value);
  }

  /** Whether a partition whose whole ISR is gone may take a live replica outside it as leader. */
  uncleanLeaderElection(topicName: string, brokerDefault: boolean): boolean {
    const value = this.topicConfig(topicName, 'unclean.leader.election.enable');
    return value === undefined ? brokerDefault : value === 'true';
  }

  // ---- applying ------------------------------------------------------------------------------

  apply(record: ClusterRecord): void {
    switch (record.type) {
      case 'cluster-id':
        if (this.clusterIdValue !== null && this.clusterIdValue !== record.clusterId) {
          throw new ClusterImageError(record, `the cluster id is already ${this.clusterIdValue}`);
        }
        this.clusterIdValue = record.clusterId;
        return;
      case 'feature-level':
        this.featureLevels.set(record.name, record.featureLevel);
        return;
      case 'register-broker':
        return this.applyRegistration(record);
      case 'fence-broker':
      case 'unfence-broker':
        return this.applyFencing(record);
      case 'topic':
        return this.applyTopic(record);
      case 'partition':
        return this.applyPartition(record);
      case 'partition-change':
        return this.applyPartitionChange(record);
      case 'config':
        return this.applyConfig(record);
      case 'remove-topic':
        return this.applyRemoveTopic(record);
      case 'producer-ids':
        return this.applyProducerIds(record);
    }
  }

  private applyRegistration(record: ClusterRecordOf<'register-broker'>): void {
    if (record.brokerEpoch <= this.highestBrokerEpoch) {
      throw new ClusterImageError(record, `broker epoch ${record.brokerEpoch} is not above the last one, ${this.highestBrokerEpoch}`);
    }
    const names = record.listeners.map((listener) => listener.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) throw new ClusterImageError(record, `listener ${repeated} is named twice`);
    this.brokersById.set(
      record.brokerId,
      Object.freeze({
        brokerId: record.brokerId,
        incarnationId: record.incarnationId,
        brokerEpoch: record.brokerEpoch,
        listeners: Object.freeze(record.listeners.map((listener) => Object.freeze({ ...listener }))),
        rack: record.rack,
        fenced: record.fenced,
      }),
    );
    this.highestBrokerEpoch = record.brokerEpoch;
  }

  private applyFencing(record: ClusterRecordOf<'fence-broker' | 'unfence-broker'>): void {
    const broker = this.brokersById.get(record.brokerId);
    if (!broker) throw new ClusterImageError(record, `broker ${record.brokerId} is not registered`);
    if (broker.brokerEpoch !== record.brokerEpoch) {
      throw new ClusterImageError(record, `broker ${record.brokerId} is registered with epoch ${broker.brokerEpoch}, not ${record.brokerEpoch}`);
    }
    this.brokersById.set(record.brokerId, Object.freeze({ ...broker, fenced: record.type === 'fence-broker' }));
  }

  private applyTopic(record: ClusterRecordOf<'topic'>): void {
    if (this.topicsByName.has(record.name)) throw new ClusterImageError(record, `topic ${record.name} already exists`);
    if (this.topicsById.has(record.topicId)) throw new ClusterImageError(record, `topic id ${record.topicId} is already taken`);
    this.putTopic(Object.freeze({ name: record.name, topicId: record.topicId, partitions: Object.freeze([]) }));
  }

  private applyPartition(record: ClusterRecordOf<'partition'>): void {
    const topic = this.knownTopic(record, record.topicId);
    if (record.partitionIndex !== topic.partitions.length) {
      throw new ClusterImageError(record, `topic ${topic.name} has ${topic.partitions.length} partitions, so the next is ${topic.partitions.length}`);
    }
    if (record.replicas.length === 0) throw new ClusterImageError(record, 'a partition needs at least one replica');
    if (new Set(record.replicas).size !== record.replicas.length) throw new ClusterImageError(record, `replicas [${record.replicas}] repeat a broker`);
    const partition: PartitionState = {
      topicId: record.topicId,
      partitionIndex: record.partitionIndex,
      replicas: record.replicas,
      isr: record.isr,
      leader: record.leader,
      leaderEpoch: record.leaderEpoch,
      partitionEpoch: record.partitionEpoch,
    };
    checkLeaderAndIsr(record, partition);
    this.putTopic(Object.freeze({ ...topic, partitions: Object.freeze([...topic.partitions, freezePartition(partition)]) }));
  }

  private applyPartitionChange(record: ClusterRecordOf<'partition-change'>): void {
    const topic = this.knownTopic(record, record.topicId);
    const current = topic.partitions[record.partitionIndex];
    if (!current) throw new ClusterImageError(record, `topic ${topic.name} has no partition ${record.partitionIndex}`);
    if (record.leader < LEADER_UNCHANGED) throw new ClusterImageError(record, `leader ${record.leader} is not a broker id`);
    const leader = record.leader === LEADER_UNCHANGED ? current.leader : record.leader;
    const next: PartitionState = {
      ...current,
      isr: record.isr ?? current.isr,
      leader,
      leaderEpoch: leader === current.leader ? current.leaderEpoch : current.leaderEpoch + 1,
      partitionEpoch: current.partitionEpoch + 1,
    };
    checkLeaderAndIsr(record, next);
    const partitions = [...topic.partitions];
    partitions[record.partitionIndex] = freezePartition(next);
    this.putTopic(Object.freeze({ ...topic, partitions: Object.freeze(partitions) }));
  }

  private applyConfig(record: ClusterRecordOf<'config'>): void {
    let maps: Map<string, ConfigMap>;
    if (record.resourceType === ConfigResourceType.topic) {
      if (!this.topicsByName.has(record.resourceName)) throw new ClusterImageError(record, `topic ${record.resourceName} does not exist`);
      maps = this.topicConfigMaps;
    } else if (record.resourceType === ConfigResourceType.broker) {
      maps = this.brokerConfigMaps;
    } else {
      throw new ClusterImageError(record, `config resource type ${record.resourceType} is neither a topic (2) nor a broker (4)`);
    }
    const next = new Map(maps.get(record.resourceName));
    if (record.value === null) next.delete(record.name);
    else next.set(record.name, record.value);
    if (next.size === 0) maps.delete(record.resourceName);
    else maps.set(record.resourceName, next);
  }

  private applyRemoveTopic(record: ClusterRecordOf<'remove-topic'>): void {
    const topic = this.knownTopic(record, record.topicId);
    this.topicsById.delete(topic.topicId);
    this.topicsByName.delete(topic.name);
    this.topicConfigMaps.delete(topic.name);
  }

  private applyProducerIds(record: ClusterRecordOf<'producer-ids'>): void {
    // Going back would hand out ids that may still be in use by producers of an earlier block.
    if (record.nextProducerId <= this.nextProducerIdValue) {
      throw new ClusterImageError(record, `next producer id ${record.nextProducerId} is not above the current one, ${this.nextProducerIdValue}`);
    }
    this.nextProducerIdValue = record.nextProducerId;
  }

  private knownTopic(record: ClusterRecord, topicId: string): TopicState {
    const topic = this.topicsById.get(topicId);
    if (!topic) throw new ClusterImageError(record, `topic id ${topicId} is unknown`);
    return topic;
  }

  private putTopic(topic: TopicState): void {
    this.topicsByName.set(topic.name, topic);
    this.topicsById.set(topic.topicId, topic);
  }

  // ---- snapshots -----------------------------------------------------------------------------

  /** Records that rebuild this image from an empty one, in an order it accepts. */
  records(): ClusterRecord[] {
    const records: ClusterRecord[] = [];
    if (this.clusterIdValue !== null) records.push({ type: 'cluster-id', clusterId: this.clusterIdValue });
    for (const [name, featureLevel] of this.featureLevels) records.push({ type: 'feature-level', name, featureLevel });
    for (const broker of [...this.brokersById.values()].sort((a, b) => a.brokerEpoch - b.brokerEpoch)) {
      records.push({ type: 'register-broker', ...broker, listeners: [...broker.listeners] });
    }
    if (this.nextProducerIdValue > 0n) {
      records.push({ type: 'producer-ids', brokerId: -1, brokerEpoch: -1n, nextProducerId: this.nextProducerIdValue });
    }
    for (const [resourceName, configs] of this.brokerConfigMaps) {
      for (const [name, value] of configs) records.push({ type: 'config', resourceType: ConfigResourceType.broker, resourceName, name, value });
    }
    for (const topic of this.topics()) {
      records.push({ type: 'topic', name: topic.name, topicId: topic.topicId });
      for (const partition of topic.partitions) {
        records.push({ type: 'partition', ...partition, replicas: [...partition.replicas], isr: [...partition.isr] });
      }
      for (const [name, value] of this.topicConfigMaps.get(topic.name) ?? []) {
        records.push({ type: 'config', resourceType: ConfigResourceType.topic, resourceName: topic.name, name, value });
      }
    }
    return records;
  }

  /** The image as bytes: a version, then its records (a Raft snapshot's data). */
  snapshot(): Buffer {
    const writer = new Writer();
    writer.int16(snapshotVersion);
    encodeMessageInto(snapshotSchema, snapshotVersion, { records: this.records().map(encodeClusterRecord) }, writer);
    return writer.toBuffer();
  }

  /** An image rebuilt from `snapshot()`'s bytes. */
  static restore(bytes: Uint8Array): ClusterImage {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buffer.length < 2) throw new ClusterSnapshotError(`cluster metadata snapshot of ${buffer.length} bytes has no version`);
    const version = buffer.readInt16BE(0);
    if (version !== snapshotVersion) throw new ClusterSnapshotError(`cluster metadata snapshot version ${version} is not supported (expected ${snapshotVersion})`);
    let encoded: Buffer[];
    try {
      const reader = new Reader(buffer, 2);
      encoded = decodeMessage(snapshotSchema, version, reader).records;
      if (reader.remaining !== 0) throw new ClusterSnapshotError(`cluster metadata snapshot has ${reader.remaining} bytes after its records`);
    } catch (error) {
      if (error instanceof ProtocolError) throw new ClusterSnapshotError(`unreadable cluster metadata snapshot: ${error.message}`, { cause: error });
      throw error;
    }
    const image = new ClusterImage();
    for (const record of encoded) image.apply(decodeClusterRecord(record));
    return image;
  }
}

function freezePartition(partition: PartitionState): PartitionState {
  return Object.freeze({ ...partition, replicas: Object.freeze([...partition.replicas]), isr: Object.freeze([...partition.isr]) });
}

/** leader ∈ ISR ⊆ replicas (or no leader), with no broker twice in the ISR. */
function checkLeaderAndIsr(record: ClusterRecord, partition: PartitionState): void {
  const outside = partition.isr.filter((id) => !partition.replicas.includes(id));
  if (outside.length > 0) throw new ClusterImageError(record, `ISR [${partition.isr}] names brokers outside the replicas [${partition.replicas}]`);
  if (new Set(partition.isr).size !== partition.isr.length) throw new ClusterImageError(record, `ISR [${partition.isr}] repeats a broker`);
  if (partition.leader !== NO_LEADER && !partition.isr.includes(partition.leader)) {
    throw new ClusterImageError(record, `leader ${partition.leader} is not in the ISR [${partition.isr}]`);
  }
  if (partition.leader < NO_LEADER) throw new ClusterImageError(record, `leader ${partition.leader} is not a broker id`);
}
