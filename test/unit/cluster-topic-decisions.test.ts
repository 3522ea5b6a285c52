// The controller's topic decisions: placement "replica j of partition i on broker (i + j) mod n"
// over the live brokers, growing a topic the same way, deleting it and changing its configs;
// every refusal is a ControllerDecisionError with the Kafka error code and a message naming
// the topic and what to change.
import { describe, expect, it } from 'vitest';
import type { ClusterImage } from '../../broker/controller/cluster/image.js';
import {
  alterTopicConfigs,
  replaceTopicConfigs,
  createPartitions,
  createTopic,
  deleteTopic,
  type CreateTopicRequest,
} from '../../broker/controller/cluster/topic-decisions.js';
import { validateTopicConfigs } from '../../broker/controller/topic-configs.js';
import { ConfigResourceType } from '../../broker/controller/cluster/records.js';
import { ErrorCode, errorName } from '../../broker/protocol/errors.js';
import { ClusterInvariants, applyAll, decisionRefusal, liveCluster, topicUuid } from '../support/cluster-images.js';

function request(overrides: Partial<CreateTopicRequest> = {}): CreateTopicRequest {
  return { name: 'orders', topicId: topicUuid(1), partitions: 4, replicationFactor: 3, configs: {}, ...overrides };
}

function placements(image: ClusterImage, name: string): number[][] {
  return image.topic(name)!.partitions.map((partition) => [...partition.replicas]);
}

describe('create topic', () => {
  it('places replica j of partition i on live broker (i + j) mod n, leader first, full ISR, epochs 0', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, request({ configs: { 'min.insync.replicas': '2', 'retention.ms': '60000' } })));
    new ClusterInvariants().check(image);
    expect(placements(image, 'orders')).toEqual([
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
      [0, 1, 2],
    ]);
    for (const partition of image.topic('orders')!.partitions) {
      expect(partition.isr).toEqual(partition.replicas);
      expect(partition.leader).toBe(partition.replicas[0]);
      expect(partition.leaderEpoch).toBe(0);
      expect(partition.partitionEpoch).toBe(0);
    }
    expect(image.topic('orders')!.topicId).toBe(topicUuid(1));
    expect(image.topicConfigs('orders')).toEqual({ 'min.insync.replicas': '2', 'retention.ms': '60000' });
    expect(image.minInsyncReplicas('orders', 1)).toBe(2);
  });

  it('places over the live brokers only, in id order', () => {
    const image = liveCluster([7, 1, 5, 3]);
    applyAll(image, [{ type: 'fence-broker', brokerId: 5, brokerEpoch: 2 }]);
    applyAll(image, createTopic(image, request({ partitions: 3, replicationFactor: 2 })));
    expect(placements(image, 'orders')).toEqual([
      [1, 3],
      [3, 7],
      [7, 1],
    ]);
  });

  it('refuses a replication factor above the live broker count, naming the live brokers', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, [{ type: 'fence-broker', brokerId: 2, brokerEpoch: 2 }]);
    const error = decisionRefusal(() => createTopic(image, request({ replicationFactor: 3 })));
    expect(errorName(error.errorCode)).toBe('INVALID_REPLICATION_FACTOR');
    expect(error.message).toBe(
      'topic orders: replication factor 3 is larger than the 2 live broker(s) (0, 1); use a smaller replication factor or start more brokers',
    );
    expect(decisionRefusal(() => createTopic(image, request({ replicationFactor: 0 }))).errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });

  it('refuses with no live broker at all', () => {
    const image = liveCluster([]);
    expect(decisionRefusal(() => createTopic(image, request({ replicationFactor: 1 }))).message).toContain('larger than the 0 live broker(s);');
  });

  it.each([
    ['an existing name', () => request(), 'TOPIC_ALREADY_EXISTS', 'topic orders already exists'],
    ['an illegal name', () => request({ name: 'a b' }), 'INVALID_TOPIC_EXCEPTION', 'has characters other than'],
    ['no partitions', () => request({ name: 'x', topicId: topicUuid(2), partitions: 0 }), 'INVALID_PARTITIONS', 'partition count 0 must be at least 1'],
    ['an upper-case topic id', () => request({ name: 'x', topicId: topicUuid(2).toUpperCase() }), 'INVALID_REQUEST', 'is not a lowercase, non-zero UUID'],
    ['the zero topic id', () => request({ name: 'x', topicId: '00000000-0000-0000-0000-000000000000' }), 'INVALID_REQUEST', 'topic x: topic id "00000000-0000-0000-0000-000000000000" is not'],
    ['a taken topic id', () => request({ name: 'x' }), 'INVALID_REQUEST', `topic id ${topicUuid(1)} is already taken by topic orders`],
    ['an unsupported config', () => request({ name: 'x', topicId: topicUuid(2), configs: { 'compression.typo': 'x' } }), 'INVALID_CONFIG', 'unsupported topic config "compression.typo"'],
    ['min.insync.replicas 0', () => request({ name: 'x', topicId: topicUuid(2), configs: { 'min.insync.replicas': '0' } }), 'INVALID_CONFIG', 'min.insync.replicas="0" is invalid: expected an integer ≥ 1'],
    ['unclean election "yes"', () => request({ name: 'x', topicId: topicUuid(2), configs: { 'unclean.leader.election.enable': 'yes' } }), 'INVALID_CONFIG', 'expected "true" or "false"'],
  ])('refuses %s', (_, make, code, message) => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, request()));
    const error = decisionRefusal(() => createTopic(image, make()));
    expect(errorName(error.errorCode)).toBe(code);
    expect(error.message).toContain(message);
  });

  it('accepts every single-node topic config and the replication ones', () => {
    expect(validateTopicConfigs({ 'retention.ms': '-1', 'cleanup.policy': 'delete', 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'true' })).toBeNull();
  });
});

describe('create partitions', () => {
  it('adds partitions placed by the same rule with the topic replication factor', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, request({ partitions: 2, replicationFactor: 2 })));
    applyAll(image, createPartitions(image, { name: 'orders', count: 5 }));
    new ClusterInvariants().check(image);
    expect(placements(image, 'orders')).toEqual([
      [0, 1],
      [1, 2],
      [2, 0],
      [0, 1],
      [1, 2],
    ]);
  });

  it('refuses a count that does not grow the topic, an unknown topic, and too few live brokers', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, request({ partitions: 2 })));
    const shrink = decisionRefusal(() => createPartitions(image, { name: 'orders', count: 2 }));
    expect(shrink.errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(shrink.message).toBe('topic orders has 2 partitions; the new count (2) must be larger (partitions cannot be removed)');
    expect(decisionRefusal(() => createPartitions(image, { name: 'nope', count: 3 })).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    applyAll(image, [{ type: 'fence-broker', brokerId: 0, brokerEpoch: 0 }]);
    expect(decisionRefusal(() => createPartitions(image, { name: 'orders', count: 3 })).errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });
});

describe('caller-given replica assignments', () => {
  it('creates a topic with the given replicas, the first leading', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, { name: 'orders', topicId: topicUuid(1), configs: {}, assignments: [[2, 0], [1, 2]] }));
    new ClusterInvariants().check(image);
    expect(placements(image, 'orders')).toEqual([
      [2, 0],
      [1, 2],
    ]);
    expect(image.topic('orders')!.partitions.map((p) => p.leader)).toEqual([2, 1]);
  });

  it('grows a topic with the given replicas for the new partitions', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, request({ partitions: 1, replicationFactor: 2 })));
    applyAll(image, createPartitions(image, { name: 'orders', count: 3, assignments: [[2, 1], [0, 2]] }));
    expect(placements(image, 'orders')).toEqual([
      [0, 1],
      [2, 1],
      [0, 2],
    ]);
  });

  it.each([
    ['no partition', [], 'topic orders: the replica assignment names no partition'],
    ['an empty replica list', [[]], 'topic orders partition 0: replicas [] are empty'],
    ['uneven replica counts', [[0, 1], [2]], "topic orders partition 1: replicas [2] are not 2, the topic's replication factor"],
    ['a repeated broker', [[1, 1]], 'topic orders partition 0: replicas [1,1] repeat a broker'],
    ['an unregistered broker', [[0, 9]], 'topic orders partition 0: replicas [0,9] name broker 9, which is not registered'],
    ['a fenced broker', [[2, 0]], 'topic orders partition 0: replicas [2,0] name broker 2, which is fenced'],
  ])('refuses a topic assignment with %s', (_, assignments, message) => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, [{ type: 'fence-broker', brokerId: 2, brokerEpoch: 2 }]);
    const error = decisionRefusal(() => createTopic(image, { name: 'orders', topicId: topicUuid(1), configs: {}, assignments }));
    expect(error.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(error.message).toBe(message);
  });

  it('refuses new-partition assignments of the wrong count or replication factor', () => {
    const image = liveCluster([0, 1, 2]);
    applyAll(image, createTopic(image, request({ partitions: 1, replicationFactor: 2 })));
    expect(decisionRefusal(() => createPartitions(image, { name: 'orders', count: 3, assignments: [[0, 1]] })).message).toBe(
      'topic orders: 1 replica assignment(s) given for 2 new partition(s)',
    );
    expect(decisionRefusal(() => createPartitions(image, { name: 'orders', count: 2, assignments: [[0, 1, 2]] })).message).toBe(
      "topic orders partition 1: replicas [0,1,2] are not 2, the topic's replication factor",
    );
  });
});

describe('delete topic and topic configs', () => {
  it('removes the topic by id', () => {
    const image = liveCluster([0]);
    applyAll(image, createTopic(image, request({ replicationFactor: 1 })));
    expect(deleteTopic(image, 'orders')).toEqual([{ type: 'remove-topic', topicId: topicUuid(1) }]);
    applyAll(image, deleteTopic(image, 'orders'));
    expect(image.topic('orders')).toBeUndefined();
    expect(decisionRefusal(() => deleteTopic(image, 'orders')).message).toBe('topic orders does not exist');
  });

  it('sets and removes configs as config records', () => {
    const image = liveCluster([0]);
    applyAll(image, createTopic(image, request({ replicationFactor: 1, configs: { 'retention.ms': '5' } })));
    const records = alterTopicConfigs(image, { name: 'orders', set: { 'unclean.leader.election.enable': 'true' }, remove: ['retention.ms'] });
    expect(records).toEqual([
      { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'unclean.leader.election.enable', value: 'true' },
      { type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'retention.ms', value: null },
    ]);
    applyAll(image, records);
    expect(image.topicConfigs('orders')).toEqual({ 'unclean.leader.election.enable': 'true' });
    expect(image.uncleanLeaderElection('orders', false)).toBe(true);
  });

  it('replaces the whole set of overrides from the image it decides on: those left out return to their defaults', () => {
    const image = liveCluster([0]);
    applyAll(image, createTopic(image, request({ replicationFactor: 1, configs: { 'retention.ms': '5', 'min.insync.replicas': '1' } })));
    const records = replaceTopicConfigs(image, { name: 'orders', configs: { 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true' } });
    applyAll(image, records);
    expect(image.topicConfigs('orders')).toEqual({ 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true' });
    applyAll(image, replaceTopicConfigs(image, { name: 'orders', configs: {} }));
    expect(image.topicConfigs('orders')).toEqual({});
    expect(decisionRefusal(() => replaceTopicConfigs(image, { name: 'gone', configs: {} })).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('refuses an invalid value, removing an unknown config, and an unknown topic', () => {
    const image = liveCluster([0]);
    applyAll(image, createTopic(image, request({ replicationFactor: 1 })));
    expect(decisionRefusal(() => alterTopicConfigs(image, { name: 'orders', set: { 'segment.bytes': '1' }, remove: [] })).message).toContain('segment.bytes="1" is invalid');
    const unknown = decisionRefusal(() => alterTopicConfigs(image, { name: 'orders', set: {}, remove: ['nope'] }));
    expect(unknown.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(unknown.message).toBe('topic orders: unsupported topic config "nope" cannot be removed');
    expect(decisionRefusal(() => alterTopicConfigs(image, { name: 'gone', set: {}, remove: [] })).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});
