// Records of the internal topic `__consumer_offsets`, in Apache Kafka's own formats so the
// topic reads the same as Kafka's (its console formatters would decode it):
//
//   key   = int16 key version + key body      value = int16 value version + value body
//   key v0/v1  OffsetCommitKey   (group, topic, partition) → OffsetCommitValue   (written as v3)
//   key v2     GroupMetadataKey  (group)                   → GroupMetadataValue  (written as v3)
//
// A null value is a tombstone: the committed offset, or the whole group, is gone. Values of
// versions 0–4 are read (4 is flexible, with tagged fields); keys of other versions (Kafka's
// newer consumer-group records) are reported as `unknown` so a loader can skip them.
import { Reader, decodeMessage, encodeMessage } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import type { MessageSchema, MessageValue } from '../protocol/schema.js';

const offsetCommitKeySchema = {
  name: 'OffsetCommitKey',
  apiKey: -1,
  flexibleVersions: 'none',
  fields: [
    { name: 'group', type: 'string', versions: '0-1' },
    { name: 'topic', type: 'string', versions: '0-1' },
    { name: 'partition', type: 'int32', versions: '0-1' },
  ],
} as const satisfies MessageSchema;

const offsetCommitValueSchema = {
  name: 'OffsetCommitValue',
  apiKey: -1,
  flexibleVersions: '4+',
  fields: [
    { name: 'offset', type: 'int64', versions: '0+' },
    { name: 'leaderEpoch', type: 'int32', versions: '3+', default: -1 },
    { name: 'metadata', type: 'string', versions: '0+' },
    { name: 'commitTimestamp', type: 'int64', versions: '0+' },
    { name: 'expireTimestamp', type: 'int64', versions: '1', default: -1n },
  ],
} as const satisfies MessageSchema;

const groupMetadataKeySchema = {
  name: 'GroupMetadataKey',
  apiKey: -1,
  flexibleVersions: 'none',
  fields: [{ name: 'group', type: 'string', versions: '2' }],
} as const satisfies MessageSchema;

const groupMetadataValueSchema = {
  name: 'GroupMetadataValue',
  apiKey: -1,
  flexibleVersions: '4+',
  fields: [
    { name: 'protocolType', type: 'string', versions: '0+' },
    { name: 'generation', type: 'int32', versions: '0+' },
    { name: 'protocol', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'leader', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'currentStateTimestamp', type: 'int64', versions: '2+', default: -1n },
    {
      name: 'members',
      type: '[]struct',
      versions: '0+',
      fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
        { name: 'clientId', type: 'string', versions: '0+' },
        { name: 'clientHost', type: 'string', versions: '0+' },
        { name: 'rebalanceTimeout', type: 'int32', versions: '1+', default: 0 },
        { name: 'sessionTimeout', type: 'int32', versions: '0+' },
        { name: 'subscription', type: 'bytes', versions: '0+' },
        { name: 'assignment', type: 'bytes', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

const OFFSET_KEY_VERSION = 1;
const OFFSET_VALUE_VERSION = 3;
const GROUP_KEY_VERSION = 2;
const GROUP_VALUE_VERSION = 3;
const MAX_VALUE_VERSION = 4;

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

export type GroupMetadataMember = MessageValue<(typeof groupMetadataValueSchema)['fields'][5]['fields']>;

/** What the log keeps of a group: enough to resume its current generation after a restart. */
export interface GroupMetadataSnapshot {
  protocolType: string;
  generationId: number;
  protocolName: string | null;
  leaderId: string | null;
  stateTimestamp: number;
  members: GroupMetadataMember[];
}

export type CoordinatorRecord =
  | { type: 'offset'; groupId: string; topic: string; partition: number; value: CommittedOffset | null }
  | { type: 'group'; groupId: string; value: GroupMetadataSnapshot | null }
  | { type: 'unknown'; keyVersion: number };

export interface EncodedRecord {
  key: Buffer;
  value: Buffer | null;
}

/** A record of `__consumer_offsets` that cannot be read: names the key version and the failure. */
export class CoordinatorRecordError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CoordinatorRecordError';
  }
}

function versioned(version: number, body: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeInt16BE(version);
  return Buffer.concat([prefix, body]);
}

export function encodeCoordinatorRecord(record: Exclude<CoordinatorRecord, { type: 'unknown' }>): EncodedRecord {
  if (record.type === 'offset') {
    const key = versioned(
      OFFSET_KEY_VERSION,
      encodeMessage(offsetCommitKeySchema, OFFSET_KEY_VERSION, {
        group: record.groupId,
        topic: record.topic,
        partition: record.partition,
      }),
    );
    if (record.value === null) return { key, value: null };
    const value = versioned(
      OFFSET_VALUE_VERSION,
      encodeMessage(offsetCommitValueSchema, OFFSET_VALUE_VERSION, {
        offset: record.value.offset,
        leaderEpoch: record.value.leaderEpoch,
        metadata: record.value.metadata,
        commitTimestamp: BigInt(record.value.commitTimestamp),
      }),
    );
    return { key, value };
  }
  const key = versioned(GROUP_KEY_VERSION, encodeMessage(groupMetadataKeySchema, GROUP_KEY_VERSION, { group: record.groupId }));
  if (record.value === null) return { key, value: null };
  const snapshot = record.value;
  const value = versioned(
    GROUP_VALUE_VERSION,
    encodeMessage(groupMetadataValueSchema, GROUP_VALUE_VERSION, {
      protocolType: snapshot.protocolType,
      generation: snapshot.generationId,
      protocol: snapshot.protocolName,
      leader: snapshot.leaderId,
      currentStateTimestamp: BigInt(snapshot.stateTimestamp),
      members: snapshot.members,
    }),
  );
  return { key, value };
}

export function decodeCoordinatorRecord(key: Buffer | null, value: Buffer | null): CoordinatorRecord {
  if (key === null || key.length < 2) throw new CoordinatorRecordError('record without a versioned key');
  const keyVersion = key.readInt16BE(0);
  try {
    if (keyVersion === 0 || keyVersion === 1) {
      const k = decodeMessage(offsetCommitKeySchema, keyVersion, new Reader(key, 2));
      const base = { type: 'offset', groupId: k.group, topic: k.topic, partition: k.partition } as const;
      if (value === null) return { ...base, value: null };
      const v = decodeMessage(offsetCommitValueSchema, valueVersion(value, 'OffsetCommitValue'), new Reader(value, 2));
      return {
        ...base,
        value: { offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, commitTimestamp: Number(v.commitTimestamp) },
      };
    }
    if (keyVersion === 2) {
      const k = decodeMessage(groupMetadataKeySchema, keyVersion, new Reader(key, 2));
      if (value === null) return { type: 'group', groupId: k.group, value: null };
      const v = decodeMessage(groupMetadataValueSchema, valueVersion(value, 'GroupMetadataValue'), new Reader(value, 2));
      return {
        type: 'group',
        groupId: k.group,
        value: {
          protocolType: v.protocolType,
          generationId: v.generation,
          protocolName: v.protocol,
          leaderId: v.leader,
          stateTimestamp: Number(v.currentStateTimestamp),
          members: v.members.map((member) => ({
            ...member,
            // Decoded bytes are views into the log's read buffer; a group outlives that buffer.
            subscription: Buffer.from(member.subscription),
            assignment: Buffer.from(member.assignment),
          })),
        },
      };
    }
  } catch (error) {
    if (error instanceof ProtocolError) {
      throw new CoordinatorRecordError(`unreadable __consumer_offsets record (key version ${keyVersion}): ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  return { type: 'unknown', keyVersion };
}

function valueVersion(value: Buffer, what: string): number {
  if (value.length < 2) throw new CoordinatorRecordError(`${what} without a version`);
  const version = value.readInt16BE(0);
  if (version < 0 || version > MAX_VALUE_VERSION) throw new CoordinatorRecordError(`${what} version ${version} is not supported`);
  return version;
}

/** Kafka's `String.hashCode` (UTF-16 code units, 32-bit wrap-around). */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The `__consumer_offsets` partition that holds a group, as Kafka computes it (Utils.abs(hashCode) % n). */
export function offsetsPartitionFor(groupId: string, partitionCount: number): number {
  const hash = javaStringHashCode(groupId);
  const abs = hash === -2147483648 ? 0 : Math.abs(hash);
  return abs % partitionCount;
}
