// The cluster metadata image: built by applying records in order, answering the queries the
// broker needs, refusing records that do not fit with an error naming the record (and staying
// as it was), and surviving snapshot → restore unchanged.
import { describe, expect, it } from 'vitest';
import { ClusterMetadataApplier } from '../../broker/controller/cluster/applier.js';
import { ClusterImage, ClusterImageError, ClusterSnapshotError } from '../../broker/controller/cluster/image.js';
import {
  ConfigResourceType,
  LEADER_UNCHANGED,
  NO_LEADER,
  encodeClusterRecord,
  type ClusterRecord,
} from '../../broker/controller/cluster/records.js';
import { applyAll, incarnation, liveCluster, topicUuid } from '../support/cluster-images.js';

const ordersId = topicUuid(1);

/** Three live brokers and topic `orders` with two partitions of three replicas. */
function ordersCluster(): ClusterImage {
  return applyAll(liveCluster([0, 1, 2]), [
    { type: 'topic', name: 'orders', topicId: ordersId },
    { type: 'partition', topicId: ordersId, partitionIndex: 0, replicas: [0, 1, 2], isr: [0, 1, 2], leader: 0, leaderEpoch: 0, partitionEpoch: 0 },
    { type: 'partition', topicId: ordersId, partitionIndex: 1, replicas: [1, 2, 0], isr: [1, 2, 0], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
    { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'min.insync.replicas', value: '2' },
  ]);
}

function rejection(image: ClusterImage, record: ClusterRecord): ClusterImageError {
  const before = image.snapshot();
  try {
    image.apply(record);
  } catch (error) {
    expect(error).toBeInstanceOf(ClusterImageError);
    expect(image.snapshot()).toEqual(before);
    return error as ClusterImageError;
  }
  throw new Error(`expected ${record.type} to be refused`);
}

describe('cluster image queries', () => {
  it('is controller-ready only once the cluster id and metadata version are applied', () => {
    const image = new ClusterImage();
    expect(image.controllerReady()).toBe(false);
    image.apply({ type: 'cluster-id', clusterId: 'c1' });
    expect(image.controllerReady()).toBe(false);
    image.apply({ type: 'feature-level', name: 'metadata.version', featureLevel: 1 });
    expect(image.controllerReady()).toBe(true);
    expect(image.clusterId).toBe('c1');
    expect(image.featureLevel('metadata.version')).toBe(1);
  });

  it('tracks brokers: registration starts fenced, unfence and fence flip liveness, endpoints per listener', () => {
    const image = liveCluster([0]);
    image.apply({
      type: 'register-broker',
      brokerId: 5,
      incarnationId: incarnation(5),
      brokerEpoch: 1,
      listeners: [
        { name: 'INTERNAL', host: 'b5.internal', port: 9092 },
        { name: 'EXTERNAL', host: '10.0.0.5', port: 30092 },
      ],
      rack: 'r1',
      fenced: true,
    });
    expect(image.isLive(5)).toBe(false);
    expect(image.liveBrokers().map((b) => b.brokerId)).toEqual([0]);
    expect(image.brokers().map((b) => b.brokerId)).toEqual([0, 5]);
    expect(image.endpoint(5, 'EXTERNAL')).toEqual({ name: 'EXTERNAL', host: '10.0.0.5', port: 30092 });
    expect(image.endpoint(5, 'NOPE')).toBeUndefined();
    expect(image.broker(5)?.rack).toBe('r1');
    image.apply({ type: 'unfence-broker', brokerId: 5, brokerEpoch: 1 });
    expect(image.isLive(5)).toBe(true);
    expect(image.liveBrokers().map((b) => b.brokerId)).toEqual([0, 5]);
    image.apply({ type: 'fence-broker', brokerId: 5, brokerEpoch: 1 });
    expect(image.isLive(5)).toBe(false);
    expect(image.lastBrokerEpoch).toBe(1);
  });

  it('finds topics by name and id with their partition state and configs', () => {
    const image = ordersCluster();
    expect(image.topic('orders')?.topicId).toBe(ordersId);
    expect(image.topicById(ordersId)?.name).toBe('orders');
    expect(image.partition(ordersId, 1)).toEqual({
      topicId: ordersId,
      partitionIndex: 1,
      replicas: [1, 2, 0],
      isr: [1, 2, 0],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
    });
    expect(image.partition(ordersId, 2)).toBeUndefined();
    expect(image.topicConfigs('orders')).toEqual({ 'min.insync.replicas': '2' });
    expect(image.minInsyncReplicas('orders', 1)).toBe(2);
    expect(image.topics().map((t) => t.name)).toEqual(['orders']);
  });

  it('takes min.insync.replicas and unclean election from the topic, else the cluster default, else the broker flag', () => {
    const image = ordersCluster();
    expect(image.uncleanLeaderElection('orders', false)).toBe(false);
    expect(image.uncleanLeaderElection('orders', true)).toBe(true);
    image.apply({ type: 'config', resourceType: ConfigResourceType.broker, resourceName: '', name: 'unclean.leader.election.enable', value: 'true' });
    expect(image.uncleanLeaderElection('orders', false)).toBe(true);
    image.apply({ type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'unclean.leader.election.enable', value: 'false' });
    expect(image.uncleanLeaderElection('orders', true)).toBe(false);
    image.apply({ type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'min.insync.replicas', value: null });
    expect(image.minInsyncReplicas('orders', 1)).toBe(1);
    expect(image.topicConfigs('orders')).toEqual({ 'unclean.leader.election.enable': 'false' });
    expect(image.brokerConfigs('')).toEqual({ 'unclean.leader.election.enable': 'true' });
  });

  it('a partition change bumps the leader epoch only when the leader changes, the partition epoch always', () => {
    const image = ordersCluster();
    image.apply({ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0, 1], leader: LEADER_UNCHANGED });
    expect(image.partition(ordersId, 0)).toMatchObject({ isr: [0, 1], leader: 0, leaderEpoch: 0, partitionEpoch: 1 });
    image.apply({ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [1], leader: 1 });
    expect(image.partition(ordersId, 0)).toMatchObject({ isr: [1], leader: 1, leaderEpoch: 1, partitionEpoch: 2 });
    image.apply({ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: null, leader: NO_LEADER });
    expect(image.partition(ordersId, 0)).toMatchObject({ isr: [1], leader: NO_LEADER, leaderEpoch: 2, partitionEpoch: 3 });
  });

  it('hands out frozen state that later records do not change', () => {
    const image = ordersCluster();
    const before = image.partition(ordersId, 0)!;
    image.apply({ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0], leader: LEADER_UNCHANGED });
    expect(before.isr).toEqual([0, 1, 2]);
    expect(Object.isFrozen(before)).toBe(true);
    expect(Object.isFrozen(before.isr)).toBe(true);
  });

  it('removing a topic forgets it, its partitions and its configs; the name may be used again', () => {
    const image = ordersCluster();
    image.apply({ type: 'remove-topic', topicId: ordersId });
    expect(image.topic('orders')).toBeUndefined();
    expect(image.topicById(ordersId)).toBeUndefined();
    expect(image.topicConfigs('orders')).toEqual({});
    image.apply({ type: 'topic', name: 'orders', topicId: topicUuid(2) });
    expect(image.topic('orders')?.partitions).toEqual([]);
  });
});

describe('cluster image refuses records that do not fit', () => {
  const cases: [string, ClusterRecord, string][] = [
    ['a partition of an unknown topic id', { type: 'partition', topicId: topicUuid(9), partitionIndex: 0, replicas: [0], isr: [0], leader: 0, leaderEpoch: 0, partitionEpoch: 0 }, `PartitionRecord(topicId=${topicUuid(9)}, partitionIndex=0): topic id ${topicUuid(9)} is unknown`],
    ['a partition out of order', { type: 'partition', topicId: ordersId, partitionIndex: 5, replicas: [0], isr: [0], leader: 0, leaderEpoch: 0, partitionEpoch: 0 }, 'topic orders has 2 partitions, so the next is 2'],
    ['a partition without replicas', { type: 'partition', topicId: ordersId, partitionIndex: 2, replicas: [], isr: [], leader: -1, leaderEpoch: 0, partitionEpoch: 0 }, 'a partition needs at least one replica'],
    ['a partition with a repeated replica', { type: 'partition', topicId: ordersId, partitionIndex: 2, replicas: [0, 0], isr: [0], leader: 0, leaderEpoch: 0, partitionEpoch: 0 }, 'replicas [0,0] repeat a broker'],
    ['a partition whose leader is outside the ISR', { type: 'partition', topicId: ordersId, partitionIndex: 2, replicas: [0, 1], isr: [1], leader: 0, leaderEpoch: 0, partitionEpoch: 0 }, 'leader 0 is not in the ISR [1]'],
    ['a change of an unknown partition', { type: 'partition-change', topicId: ordersId, partitionIndex: 7, isr: null, leader: 1 }, 'topic orders has no partition 7'],
    ['a change putting a non-replica in the ISR', { type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0, 3], leader: LEADER_UNCHANGED }, 'ISR [0,3] names brokers outside the replicas [0,1,2]'],
    ['a change electing a leader outside the ISR', { type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0, 1], leader: 2 }, 'leader 2 is not in the ISR [0,1]'],
    ['a change with a nonsense leader', { type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: null, leader: -7 }, 'leader -7 is not a broker id'],
    ['a second topic of the same name', { type: 'topic', name: 'orders', topicId: topicUuid(3) }, 'topic orders already exists'],
    ['a topic reusing an id', { type: 'topic', name: 'other', topicId: ordersId }, `topic id ${ordersId} is already taken`],
    ['removing an unknown topic', { type: 'remove-topic', topicId: topicUuid(4) }, `topic id ${topicUuid(4)} is unknown`],
    ['a config of an unknown topic', { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'nope', name: 'retention.ms', value: '1' }, 'topic nope does not exist'],
    ['a config of an unknown resource type', { type: 'config', resourceType: 7, resourceName: 'x', name: 'a', value: '1' }, 'config resource type 7 is neither a topic (2) nor a broker (4)'],
    ['fencing an unregistered broker', { type: 'fence-broker', brokerId: 9, brokerEpoch: 0 }, 'FenceBrokerRecord(brokerId=9): broker 9 is not registered'],
    ['unfencing with a stale epoch', { type: 'unfence-broker', brokerId: 1, brokerEpoch: 0 }, 'broker 1 is registered with epoch 1, not 0'],
    ['a registration with an old epoch', { type: 'register-broker', brokerId: 7, incarnationId: incarnation(7), brokerEpoch: 2, listeners: [], rack: null, fenced: true }, 'broker epoch 2 is not above the last one, 2'],
    ['a registration naming a listener twice', { type: 'register-broker', brokerId: 7, incarnationId: incarnation(7), brokerEpoch: 3, listeners: [{ name: 'A', host: 'h', port: 1 }, { name: 'A', host: 'h', port: 2 }], rack: null, fenced: true }, 'listener A is named twice'],
    ['a different cluster id', { type: 'cluster-id', clusterId: 'another' }, 'the cluster id is already test-cluster'],
  ];

  it.each(cases)('%s', (_, record, reason) => {
    const error = rejection(ordersCluster(), record);
    expect(error.message).toContain(reason);
    expect(error.message).toMatch(/^cannot apply \w+Record\(/);
    expect(error.record).toBe(record);
  });
});

describe('cluster image snapshots', () => {
  function busyImage(): ClusterImage {
    const image = ordersCluster();
    return applyAll(image, [
      { type: 'fence-broker', brokerId: 2, brokerEpoch: 2 },
      { type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0, 1], leader: LEADER_UNCHANGED },
      { type: 'partition-change', topicId: ordersId, partitionIndex: 1, isr: [1, 0], leader: 0 },
      { type: 'register-broker', brokerId: 1, incarnationId: incarnation(1, 1), brokerEpoch: 3, listeners: [{ name: 'INTERNAL', host: 'b1', port: 9093 }], rack: 'r2', fenced: true },
      { type: 'topic', name: 'audit', topicId: topicUuid(2) },
      { type: 'partition', topicId: topicUuid(2), partitionIndex: 0, replicas: [2], isr: [2], leader: NO_LEADER, leaderEpoch: 4, partitionEpoch: 8 },
      { type: 'config', resourceType: ConfigResourceType.broker, resourceName: '', name: 'unclean.leader.election.enable', value: 'true' },
      { type: 'config', resourceType: ConfigResourceType.broker, resourceName: '1', name: 'log.retention.ms', value: '1000' },
      { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'audit', name: 'retention.ms', value: '60000' },
    ]);
  }

  it('restores to an image with the same records, queries and snapshot bytes', () => {
    const image = busyImage();
    const restored = ClusterImage.restore(image.snapshot());
    expect(restored.records()).toEqual(image.records());
    expect(restored.snapshot()).toEqual(image.snapshot());
    expect(restored.clusterId).toBe('test-cluster');
    expect(restored.controllerReady()).toBe(true);
    expect(restored.brokers()).toEqual(image.brokers());
    expect(restored.lastBrokerEpoch).toBe(3);
    expect(restored.topics()).toEqual(image.topics());
    expect(restored.partition(ordersId, 1)).toMatchObject({ leader: 0, leaderEpoch: 1, partitionEpoch: 1 });
    expect(restored.partition(topicUuid(2), 0)).toMatchObject({ leader: NO_LEADER, leaderEpoch: 4, partitionEpoch: 8 });
    expect(restored.topicConfigs('audit')).toEqual({ 'retention.ms': '60000' });
    expect(restored.brokerConfigs('1')).toEqual({ 'log.retention.ms': '1000' });
    expect(restored.uncleanLeaderElection('orders', false)).toBe(true);
  });

  it('a restored image goes on applying records like the original', () => {
    const image = busyImage();
    const restored = ClusterImage.restore(image.snapshot());
    const next: ClusterRecord = { type: 'partition-change', topicId: ordersId, partitionIndex: 1, isr: null, leader: 1 };
    image.apply(next);
    restored.apply(next);
    expect(restored.snapshot()).toEqual(image.snapshot());
  });

  it('an empty image round-trips', () => {
    expect(ClusterImage.restore(new ClusterImage().snapshot()).records()).toEqual([]);
  });

  it('refuses a snapshot of another version, a truncated one, and trailing bytes', () => {
    const bytes = busyImage().snapshot();
    const otherVersion = Buffer.from(bytes);
    otherVersion.writeInt16BE(4, 0);
    expect(() => ClusterImage.restore(otherVersion)).toThrow('cluster metadata snapshot version 4 is not supported (expected 0)');
    expect(() => ClusterImage.restore(bytes.subarray(0, 1))).toThrow(ClusterSnapshotError);
    expect(() => ClusterImage.restore(bytes.subarray(0, bytes.length - 20))).toThrow(/unreadable cluster metadata snapshot: .*truncated/);
    expect(() => ClusterImage.restore(Buffer.concat([bytes, Buffer.from([1, 2])]))).toThrow('has 2 bytes after its records');
  });
});

describe('cluster metadata applier', () => {
  it('applies committed records, snapshots and restores', () => {
    const applier = new ClusterMetadataApplier();
    const records = liveCluster([0, 1]).records();
    records.forEach((record, i) => applier.apply({ index: i + 1, term: 1, data: new Uint8Array(encodeClusterRecord(record)) }));
    expect(applier.image.liveBrokers().map((b) => b.brokerId)).toEqual([0, 1]);
    const snapshot = applier.snapshot();
    const other = new ClusterMetadataApplier();
    other.restore({ lastIndex: records.length, lastTerm: 1, data: snapshot });
    expect(other.image.records()).toEqual(records);
  });

  it('stops at an entry that does not fit the image', () => {
    const applier = new ClusterMetadataApplier();
    const record: ClusterRecord = { type: 'remove-topic', topicId: ordersId };
    expect(() => applier.apply({ index: 1, term: 1, data: encodeClusterRecord(record) })).toThrow(`cannot apply RemoveTopicRecord(topicId=${ordersId})`);
  });
});
