import { describe, expect, it } from 'vitest';
import {
  CoordinatorRecordError,
  type CoordinatorRecord,
  decodeCoordinatorRecord,
  encodeCoordinatorRecord,
  javaStringHashCode,
  offsetsPartitionFor,
} from '../../broker/coordinator/offsets-records.js';

describe('__consumer_offsets records', () => {
  it('encodes an offset commit key exactly as Kafka (key version 1: group, topic, partition)', () => {
    const { key, value } = encodeCoordinatorRecord({
      type: 'offset',
      groupId: 'g',
      topic: 't',
      partition: 1,
      value: { offset: 42n, leaderEpoch: 3, metadata: 'm', commitTimestamp: 1_700_000_000_000 },
    });
    expect(key.toString('hex')).toBe('0001' + '000167' + '000174' + '00000001');
    // Value version 3: offset int64, leader epoch int32, metadata string, commit timestamp int64.
    expect(value?.subarray(0, 2).toString('hex')).toBe('0003');
    expect(value?.length).toBe(2 + 8 + 4 + 2 + 1 + 8);
  });

  it('round-trips offsets, group metadata and tombstones', () => {
    const records: Exclude<CoordinatorRecord, { type: 'unknown' }>[] = [
      {
        type: 'offset',
        groupId: 'group-ü',
        topic: 'orders',
        partition: 7,
        value: { offset: 9_007_199_254_740_993n, leaderEpoch: -1, metadata: '', commitTimestamp: 123 },
      },
      { type: 'offset', groupId: 'group-ü', topic: 'orders', partition: 7, value: null },
      {
        type: 'group',
        groupId: 'g',
        value: {
          protocolType: 'consumer',
          generationId: 12,
          protocolName: 'RoundRobinAssigner',
          leaderId: 'a-1',
          stateTimestamp: 1_700_000_000_000,
          members: [
            {
              memberId: 'a-1',
              groupInstanceId: null,
              clientId: 'a',
              clientHost: '/127.0.0.1',
              rebalanceTimeout: 60_000,
              sessionTimeout: 30_000,
              subscription: Buffer.from([0, 1, 2]),
              assignment: Buffer.from([3, 4]),
            },
            {
              memberId: 'b-1',
              groupInstanceId: 'static-b',
              clientId: 'b',
              clientHost: '/10.0.0.2',
              rebalanceTimeout: 1,
              sessionTimeout: 2,
              subscription: Buffer.alloc(0),
              assignment: Buffer.alloc(0),
            },
          ],
        },
      },
      { type: 'group', groupId: 'empty', value: { protocolType: '', generationId: 3, protocolName: null, leaderId: null, stateTimestamp: 5, members: [] } },
      { type: 'group', groupId: 'g', value: null },
    ];
    for (const record of records) {
      const encoded = encodeCoordinatorRecord(record);
      expect(decodeCoordinatorRecord(encoded.key, encoded.value)).toEqual(record);
    }
  });

  it('reads older value versions (offset value v1 with an expire timestamp)', () => {
    const { key } = encodeCoordinatorRecord({ type: 'offset', groupId: 'g', topic: 't', partition: 0, value: null });
    const value = Buffer.alloc(2 + 8 + 2 + 8 + 8);
    value.writeInt16BE(1, 0);
    value.writeBigInt64BE(77n, 2);
    value.writeInt16BE(0, 10);
    value.writeBigInt64BE(1000n, 12);
    value.writeBigInt64BE(2000n, 20);
    expect(decodeCoordinatorRecord(key, value)).toEqual({
      type: 'offset',
      groupId: 'g',
      topic: 't',
      partition: 0,
      value: { offset: 77n, leaderEpoch: -1, metadata: '', commitTimestamp: 1000 },
    });
  });

  it('reports unreadable records with a typed error and skips unknown key versions', () => {
    expect(() => decodeCoordinatorRecord(Buffer.from([0, 1, 0, 9, 0x61]), null)).toThrow(CoordinatorRecordError);
    expect(() => decodeCoordinatorRecord(null, null)).toThrow(/versioned key/);
    const { key } = encodeCoordinatorRecord({ type: 'group', groupId: 'g', value: null });
    expect(() => decodeCoordinatorRecord(key, Buffer.from([0, 9, 0]))).toThrow(/version 9 is not supported/);
    expect(decodeCoordinatorRecord(Buffer.from([0, 3, 0, 0]), null)).toEqual({ type: 'unknown', keyVersion: 3 });
  });

  it("places groups with Java's String.hashCode like Kafka", () => {
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('abc')).toBe(96354);
    expect(javaStringHashCode('hello')).toBe(99162322);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648);
    expect(offsetsPartitionFor('polygenelubricants', 50)).toBe(0);
    expect(offsetsPartitionFor('hello', 50)).toBe(99162322 % 50);
    // Negative hash codes use their absolute value.
    const negative = 'Aa-negative-ÿÿÿÿ';
    expect(javaStringHashCode(negative)).toBeLessThan(0);
    expect(offsetsPartitionFor(negative, 50)).toBe(Math.abs(javaStringHashCode(negative)) % 50);
  });
});
