// Every cluster metadata record survives encode → decode unchanged, carries Kafka's record type
// number in its frame, and bytes that are not a record are refused with a ClusterRecordError
// that says what is wrong.
import { describe, expect, it } from 'vitest';
import {
  ClusterRecordError,
  ConfigResourceType,
  LEADER_UNCHANGED,
  NO_LEADER,
  decodeClusterRecord,
  describeRecord,
  encodeClusterRecord,
  type ClusterRecord,
} from '../../broker/controller/cluster/records.js';

const topicId = '5f1c1e39-3a0b-4c55-9d8e-2b7f00c1a2b3';

const samples: { record: ClusterRecord; wireType: number }[] = [
  {
    wireType: 0,
    record: {
      type: 'register-broker',
      brokerId: 2,
      incarnationId: '0b7c7d1e-8a61-4f0f-a1c2-d3e4f5a6b7c8',
      brokerEpoch: 17,
      listeners: [
        { name: 'INTERNAL', host: 'klab-broker-2.klab-broker', port: 9092 },
        { name: 'EXTERNAL', host: '192.168.56.12', port: 30092 },
      ],
      rack: 'rack-b',
      fenced: true,
    },
  },
  {
    wireType: 0,
    record: {
      type: 'register-broker',
      brokerId: 0,
      incarnationId: '00000000-0000-0000-0000-000000000001',
      brokerEpoch: 0,
      listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 65535 }],
      rack: null,
      fenced: false,
    },
  },
  { wireType: 7, record: { type: 'fence-broker', brokerId: 1, brokerEpoch: 4 } },
  { wireType: 8, record: { type: 'unfence-broker', brokerId: 1, brokerEpoch: 4 } },
  { wireType: 2, record: { type: 'topic', name: 'orders', topicId } },
  {
    wireType: 3,
    record: { type: 'partition', topicId, partitionIndex: 3, replicas: [2, 0, 1], isr: [2, 1], leader: 2, leaderEpoch: 5, partitionEpoch: 9 },
  },
  {
    wireType: 3,
    record: { type: 'partition', topicId, partitionIndex: 0, replicas: [1], isr: [1], leader: NO_LEADER, leaderEpoch: 0, partitionEpoch: 0 },
  },
  { wireType: 5, record: { type: 'partition-change', topicId, partitionIndex: 3, isr: [2], leader: LEADER_UNCHANGED } },
  { wireType: 5, record: { type: 'partition-change', topicId, partitionIndex: 3, isr: null, leader: 0 } },
  { wireType: 5, record: { type: 'partition-change', topicId, partitionIndex: 1, isr: [0, 1], leader: NO_LEADER } },
  { wireType: 4, record: { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'min.insync.replicas', value: '2' } },
  { wireType: 4, record: { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'retention.ms', value: null } },
  { wireType: 4, record: { type: 'config', resourceType: ConfigResourceType.broker, resourceName: '', name: 'unclean.leader.election.enable', value: 'true' } },
  { wireType: 9, record: { type: 'remove-topic', topicId } },
  { wireType: 12, record: { type: 'feature-level', name: 'metadata.version', featureLevel: 1 } },
  { wireType: 100, record: { type: 'cluster-id', clusterId: 'q2ZkbK4xTj-9o3l1GxwXEg' } },
];

describe('cluster metadata records', () => {
  it.each(samples.map((sample) => [describeRecord(sample.record), sample] as const))('%s round-trips', (_, { record, wireType }) => {
    const bytes = encodeClusterRecord(record);
    expect(bytes.readInt16BE(0)).toBe(wireType);
    expect(bytes.readInt16BE(2)).toBe(0);
    expect(decodeClusterRecord(bytes)).toEqual(record);
  });

  it('a partition change left at its defaults changes neither the ISR nor the leader', () => {
    const bytes = encodeClusterRecord({ type: 'partition-change', topicId, partitionIndex: 0 } as ClusterRecord);
    expect(decodeClusterRecord(bytes)).toEqual({ type: 'partition-change', topicId, partitionIndex: 0, isr: null, leader: LEADER_UNCHANGED });
  });

  it('decodes from a Uint8Array view into a larger buffer', () => {
    const record: ClusterRecord = { type: 'topic', name: 't', topicId };
    const bytes = encodeClusterRecord(record);
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(decodeClusterRecord(padded.subarray(5, 5 + bytes.length))).toEqual(record);
  });

  it('names the record in its description', () => {
    expect(describeRecord({ type: 'partition-change', topicId, partitionIndex: 3, isr: null, leader: 1 })).toBe(
      `PartitionChangeRecord(topicId=${topicId}, partitionIndex=3)`,
    );
  });

  it('refuses an unknown record type', () => {
    const bytes = Buffer.from([0x00, 0x33, 0x00, 0x00, 0x00]);
    expect(() => decodeClusterRecord(bytes)).toThrow(ClusterRecordError);
    expect(() => decodeClusterRecord(bytes)).toThrow('unknown metadata record type 51');
  });

  it('refuses a version newer than this broker reads', () => {
    const bytes = encodeClusterRecord({ type: 'topic', name: 't', topicId });
    bytes.writeInt16BE(3, 2);
    expect(() => decodeClusterRecord(bytes)).toThrow('TopicRecord version 3 is not supported (this broker reads up to 0)');
  });

  it('refuses bytes too short for a frame', () => {
    expect(() => decodeClusterRecord(Buffer.from([0x00, 0x02]))).toThrow('metadata record of 2 bytes is too short');
  });

  it('refuses a truncated body, naming the record', () => {
    const bytes = encodeClusterRecord({ type: 'topic', name: 'orders', topicId });
    const error = captured(() => decodeClusterRecord(bytes.subarray(0, bytes.length - 6)));
    expect(error).toBeInstanceOf(ClusterRecordError);
    expect(error.message).toMatch(/^unreadable TopicRecord: .*truncated/);
  });

  it('refuses bytes after the last field', () => {
    const bytes = Buffer.concat([encodeClusterRecord({ type: 'remove-topic', topicId }), Buffer.from([0])]);
    expect(() => decodeClusterRecord(bytes)).toThrow('RemoveTopicRecord has 1 bytes after its last field');
  });

  it('refuses to encode a value its field cannot hold, naming the record', () => {
    const error = captured(() => encodeClusterRecord({ type: 'topic', name: 'orders', topicId: 'not-a-uuid' }));
    expect(error).toBeInstanceOf(ClusterRecordError);
    expect(error.message).toContain('cannot encode TopicRecord(name=orders, topicId=not-a-uuid)');
  });
});

function captured(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
