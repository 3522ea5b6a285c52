// The replicated cluster metadata records: what the controller writes to the Raft log and every
// broker applies, in the manner of KRaft (KIP-631). Each record type is a declarative schema
// encoded with the protocol codec, framed as
//
//   int16 record type | int16 record version | body (the schema at that version)
//
// so a Raft entry's data is exactly one framed record. Type numbers follow Kafka's
// MetadataRecordType where Kafka has the record; the cluster-id record is klab's own (Kafka
// keeps the cluster id in meta.properties, outside the log).
import { Reader, Writer, decodeMessage, encodeMessageInto } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { MessageSchema, MessageValue } from '../../protocol/schema.js';

const registerBrokerSchema = {
  name: 'RegisterBrokerRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'brokerId', type: 'int32', versions: '0+' },
    /** A fresh UUID per process start: a new one for a known id is a restart. */
    { name: 'incarnationId', type: 'uuid', versions: '0+' },
    /** Grows with every registration of any broker; heartbeats and fencing name it. */
    { name: 'brokerEpoch', type: 'int32', versions: '0+' },
    {
      name: 'listeners',
      type: '[]struct',
      versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'host', type: 'string', versions: '0+' },
        { name: 'port', type: 'uint16', versions: '0+' },
      ],
    },
    { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    /** A registration starts fenced; the broker is unfenced once it has caught up. */
    { name: 'fenced', type: 'bool', versions: '0+', default: true },
  ],
} as const satisfies MessageSchema;

const brokerEpochSchema = (name: string) =>
  ({
    name,
    apiKey: -1,
    flexibleVersions: '0+',
    fields: [
      { name: 'brokerId', type: 'int32', versions: '0+' },
      { name: 'brokerEpoch', type: 'int32', versions: '0+' },
    ],
  }) as const satisfies MessageSchema;

const fenceBrokerSchema = brokerEpochSchema('FenceBrokerRecord');
const unfenceBrokerSchema = brokerEpochSchema('UnfenceBrokerRecord');

const topicSchema = {
  name: 'TopicRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'name', type: 'string', versions: '0+' },
    { name: 'topicId', type: 'uuid', versions: '0+' },
  ],
} as const satisfies MessageSchema;

const partitionSchema = {
  name: 'PartitionRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'topicId', type: 'uuid', versions: '0+' },
    { name: 'partitionIndex', type: 'int32', versions: '0+' },
    /** In preference order: the first is the preferred leader. */
    { name: 'replicas', type: '[]int32', versions: '0+' },
    { name: 'isr', type: '[]int32', versions: '0+' },
    /** -1: no leader (the partition is offline). */
    { name: 'leader', type: 'int32', versions: '0+' },
    { name: 'leaderEpoch', type: 'int32', versions: '0+' },
    { name: 'partitionEpoch', type: 'int32', versions: '0+' },
  ],
} as const satisfies MessageSchema;

/** Leader value of a partition change that leaves the leader as it is. */
export const LEADER_UNCHANGED = -2;
/** Leader value of a partition without a leader. */
export const NO_LEADER = -1;

const partitionChangeSchema = {
  name: 'PartitionChangeRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'topicId', type: 'uuid', versions: '0+' },
    { name: 'partitionIndex', type: 'int32', versions: '0+' },
    /** Null: the ISR is unchanged. */
    { name: 'isr', type: '[]int32', versions: '0+', nullableVersions: '0+', default: null },
    /** LEADER_UNCHANGED, NO_LEADER or a broker id; a new leader bumps the leader epoch. */
    { name: 'leader', type: 'int32', versions: '0+', default: LEADER_UNCHANGED },
  ],
} as const satisfies MessageSchema;

/** Kafka's ConfigResource types, as ConfigRecord carries them. */
export const ConfigResourceType = { topic: 2, broker: 4 } as const;

const configSchema = {
  name: 'ConfigRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'resourceType', type: 'int8', versions: '0+' },
    /** A topic name, a broker id, or '' for the cluster-wide broker default. */
    { name: 'resourceName', type: 'string', versions: '0+' },
    { name: 'name', type: 'string', versions: '0+' },
    /** Null removes the setting (back to its default). */
    { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
  ],
} as const satisfies MessageSchema;

const removeTopicSchema = {
  name: 'RemoveTopicRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [{ name: 'topicId', type: 'uuid', versions: '0+' }],
} as const satisfies MessageSchema;

const featureLevelSchema = {
  name: 'FeatureLevelRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'name', type: 'string', versions: '0+' },
    { name: 'featureLevel', type: 'int16', versions: '0+' },
  ],
} as const satisfies MessageSchema;

/**
 * A block of producer ids handed to one broker (Kafka's ProducerIdsRecord): every id below
 * nextProducerId may be in use, so the next block starts there. A snapshot carries it with
 * broker id -1, as the broker that took the last block may have registered again since.
 */
const producerIdsSchema = {
  name: 'ProducerIdsRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [
    { name: 'brokerId', type: 'int32', versions: '0+' },
    { name: 'brokerEpoch', type: 'int64', versions: '0+' },
    { name: 'nextProducerId', type: 'int64', versions: '0+' },
  ],
} as const satisfies MessageSchema;

const clusterIdSchema = {
  name: 'ClusterIdRecord',
  apiKey: -1,
  flexibleVersions: '0+',
  fields: [{ name: 'clusterId', type: 'string', versions: '0+' }],
} as const satisfies MessageSchema;

/** Every record type: its wire type number, the version written, and its schema. */
const recordTypes = {
  'register-broker': { type: 0, version: 0, schema: registerBrokerSchema },
  topic: { type: 2, version: 0, schema: topicSchema },
  partition: { type: 3, version: 0, schema: partitionSchema },
  config: { type: 4, version: 0, schema: configSchema },
  'partition-change': { type: 5, version: 0, schema: partitionChangeSchema },
  'fence-broker': { type: 7, version: 0, schema: fenceBrokerSchema },
  'unfence-broker': { type: 8, version: 0, schema: unfenceBrokerSchema },
  'remove-topic': { type: 9, version: 0, schema: removeTopicSchema },
  'feature-level': { type: 12, version: 0, schema: featureLevelSchema },
  'producer-ids': { type: 15, version: 0, schema: producerIdsSchema },
  'cluster-id': { type: 100, version: 0, schema: clusterIdSchema },
} as const;

type RecordTypes = typeof recordTypes;
export type ClusterRecordType = keyof RecordTypes;

/** One metadata record: its kind and every field of its schema. */
export type ClusterRecordOf<K extends ClusterRecordType> = { type: K } & MessageValue<RecordTypes[K]['schema']>;
export type ClusterRecord = { [K in ClusterRecordType]: ClusterRecordOf<K> }[ClusterRecordType];

const kindByWireType = new Map<number, ClusterRecordType>(
  Object.entries(recordTypes).map(([kind, spec]) => [spec.type, kind as ClusterRecordType]),
);

/** The Kafka-style name of a record (e.g. 'PartitionChangeRecord'), for messages. */
export function recordName(record: ClusterRecord): string {
  return recordTypes[record.type].schema.name;
}

/** A record with its identifying fields, e.g. `PartitionChangeRecord(topicId=…, partitionIndex=0)`. */
export function describeRecord(record: ClusterRecord): string {
  const keys = ['brokerId', 'name', 'topicId', 'partitionIndex', 'resourceName'] as const;
  const fields = keys.flatMap((key) => (key in record ? [`${key}=${String((record as Record<string, unknown>)[key])}`] : []));
  return `${recordName(record)}(${fields.join(', ')})`;
}

export class ClusterRecordError extends Error {
  override readonly name = 'ClusterRecordError';
}

const highestVersion = 0;

export function encodeClusterRecord(record: ClusterRecord): Buffer {
  const spec = recordTypes[record.type];
  const writer = new Writer();
  writer.int16(spec.type).int16(spec.version);
  const { type: _kind, ...body } = record;
  try {
    encodeMessageInto(spec.schema as MessageSchema, spec.version, body, writer);
  } catch (error) {
    if (error instanceof ProtocolError) throw new ClusterRecordError(`cannot encode ${describeRecord(record)}: ${error.message}`, { cause: error });
    throw error;
  }
  return writer.toBuffer();
}

export function decodeClusterRecord(bytes: Uint8Array): ClusterRecord {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 4) throw new ClusterRecordError(`metadata record of ${buffer.length} bytes is too short for its type and version`);
  const wireType = buffer.readInt16BE(0);
  const version = buffer.readInt16BE(2);
  const kind = kindByWireType.get(wireType);
  if (kind === undefined) throw new ClusterRecordError(`unknown metadata record type ${wireType}`);
  const spec = recordTypes[kind];
  if (version < 0 || version > highestVersion) {
    throw new ClusterRecordError(`${spec.schema.name} version ${version} is not supported (this broker reads up to ${highestVersion})`);
  }
  const reader = new Reader(buffer, 4);
  try {
    const body = decodeMessage(spec.schema as MessageSchema, version, reader);
    if (reader.remaining !== 0) throw new ClusterRecordError(`${spec.schema.name} has ${reader.remaining} bytes after its last field`);
    return { type: kind, ...body } as ClusterRecord;
  } catch (error) {
    if (error instanceof ProtocolError) throw new ClusterRecordError(`unreadable ${spec.schema.name}: ${error.message}`, { cause: error });
    throw error;
  }
}
