// The cluster invariant checker the randomized test relies on must be able to fail: each
// property is broken once, in a real image where the image accepts the state and in a
// hand-made view where it does not, and the checker must throw naming the property.
import { describe, expect, it } from 'vitest';
import type { PartitionState, TopicState } from '../../broker/controller/cluster/image.js';
import { NO_LEADER } from '../../broker/controller/cluster/records.js';
import { createTopic } from '../../broker/controller/cluster/topic-decisions.js';
import { ClusterInvariantError, ClusterInvariants, applyAll, liveCluster, topicUuid, type ClusterView } from '../support/cluster-images.js';
import { errorOf } from '../support/thrown.js';

const topicId = topicUuid(1);

function threeBrokerTopic() {
  const image = liveCluster([0, 1, 2]);
  applyAll(image, createTopic(image, { name: 't', topicId, partitions: 1, replicationFactor: 3, configs: {} }));
  return image;
}

function view(partition: Partial<PartitionState>, live: readonly number[] = [0, 1, 2]): ClusterView {
  const state: PartitionState = { topicId, partitionIndex: 0, replicas: [0, 1, 2], isr: [0, 1, 2], leader: 0, leaderEpoch: 0, partitionEpoch: 0, ...partition };
  const topic: TopicState = { name: 't', topicId, partitions: [state] };
  return { topics: () => [topic], isLive: (id) => live.includes(id) };
}

function violation(action: () => void): ClusterInvariantError {
  return errorOf(ClusterInvariantError, action);
}

describe('cluster invariant checker', () => {
  it('passes a valid image', () => {
    expect(() => new ClusterInvariants().check(threeBrokerTopic())).not.toThrow();
  });

  it('fails an image where a fenced broker still leads', () => {
    const image = applyAll(threeBrokerTopic(), [{ type: 'fence-broker', brokerId: 0, brokerEpoch: 0 }]);
    expect(violation(() => new ClusterInvariants().check(image)).message).toBe(
      'a fenced or unregistered broker leads: t-0 (replicas [0,1,2], isr [0,1,2], leader 0, epoch 0)',
    );
  });

  it('fails an image where a partition with live ISR members has no leader', () => {
    const image = applyAll(threeBrokerTopic(), [{ type: 'partition-change', topicId, partitionIndex: 0, isr: null, leader: NO_LEADER }]);
    expect(violation(() => new ClusterInvariants().check(image)).message).toContain('a partition with a live ISR member has no leader: t-0');
  });

  it.each([
    ['a leader outside the ISR', { isr: [1, 2] }, 'the leader is not in the ISR'],
    ['an ISR outside the replicas', { isr: [0, 5] }, 'the ISR is not a subset of the replicas'],
    ['an empty ISR', { isr: [], leader: NO_LEADER }, 'the ISR is empty'],
  ])('fails a view with %s', (_, partition, property) => {
    expect(violation(() => new ClusterInvariants().check(view(partition))).message).toContain(property);
  });

  it('fails a leader change that does not raise the leader epoch, and a falling epoch', () => {
    const unchanged = new ClusterInvariants();
    unchanged.check(view({ leader: 0, leaderEpoch: 3 }));
    expect(violation(() => unchanged.check(view({ leader: 1, leaderEpoch: 3 }))).message).toContain(
      'the leader changed from 0 without raising the leader epoch from 3',
    );
    const falling = new ClusterInvariants();
    falling.check(view({ leaderEpoch: 3 }));
    expect(violation(() => falling.check(view({ leaderEpoch: 2 }))).message).toContain('the leader epoch went down from 3');
  });

  it('accepts an offline partition whose ISR members are all fenced', () => {
    expect(() => new ClusterInvariants().check(view({ isr: [2], leader: NO_LEADER }, [0, 1]))).not.toThrow();
  });
});
