// Building cluster metadata images for tests, and the invariants every image the controller's
// decisions produce must keep. The checker remembers each partition's last leader and epoch,
// so it also sees a leader change that did not raise the leader epoch.
import { ControllerDecisionError } from '../../broker/controller/cluster/elections.js';
import { ClusterImage, type TopicState } from '../../broker/controller/cluster/image.js';
import { NO_LEADER, type ClusterRecord } from '../../broker/controller/cluster/records.js';
import { createTopic } from '../../broker/controller/cluster/topic-decisions.js';
import { errorOf } from './thrown.js';

export function incarnation(brokerId: number, generation = 0): string {
  return `00000000-0000-4000-8000-${(brokerId * 1000 + generation).toString(16).padStart(12, '0')}`;
}

export function topicUuid(n: number): string {
  return `7a000000-0000-4000-9000-${n.toString(16).padStart(12, '0')}`;
}

export function applyAll(image: ClusterImage, records: readonly ClusterRecord[]): ClusterImage {
  for (const record of records) image.apply(record);
  return image;
}

/** A ready image with brokers `ids`, registered (epochs in order) and unfenced. */
export function liveCluster(ids: readonly number[]): ClusterImage {
  const image = applyAll(new ClusterImage(), [
    { type: 'cluster-id', clusterId: 'test-cluster' },
    { type: 'feature-level', name: 'metadata.version', featureLevel: 1 },
  ]);
  ids.forEach((brokerId, epoch) => {
    image.apply({
      type: 'register-broker',
      brokerId,
      incarnationId: incarnation(brokerId),
      brokerEpoch: epoch,
      listeners: [{ name: 'INTERNAL', host: `broker-${brokerId}`, port: 9092 }],
      rack: null,
      fenced: false,
    });
  });
  return image;
}

export class ClusterInvariantError extends Error {
  override readonly name = 'ClusterInvariantError';
}

/** What the checker reads: an image, or a hand-made view of a state no image would accept. */
export interface ClusterView {
  topics(): readonly TopicState[];
  isLive(brokerId: number): boolean;
}

export class ClusterInvariants {
  private readonly lastLeader = new Map<string, { leader: number; leaderEpoch: number }>();

  /** Throws ClusterInvariantError naming the partition and the broken property. */
  check(image: ClusterView): void {
    for (const topic of image.topics()) {
      for (const partition of topic.partitions) {
        const fail = (property: string): never => {
          const where = `${topic.name}-${partition.partitionIndex} (replicas [${partition.replicas}], isr [${partition.isr}], leader ${partition.leader}, epoch ${partition.leaderEpoch})`;
          throw new ClusterInvariantError(`${property}: ${where}`);
        };
        if (partition.isr.length === 0) fail('the ISR is empty');
        if (!partition.isr.every((id) => partition.replicas.includes(id))) fail('the ISR is not a subset of the replicas');
        if (partition.leader !== NO_LEADER && !partition.isr.includes(partition.leader)) fail('the leader is not in the ISR');
        if (partition.leader !== NO_LEADER && !image.isLive(partition.leader)) fail('a fenced or unregistered broker leads');
        if (partition.leader === NO_LEADER && partition.isr.some((id) => image.isLive(id))) fail('a partition with a live ISR member has no leader');
        const key = `${topic.topicId}/${partition.partitionIndex}`;
        const before = this.lastLeader.get(key);
        if (before) {
          if (partition.leaderEpoch < before.leaderEpoch) fail(`the leader epoch went down from ${before.leaderEpoch}`);
          if (partition.leader !== before.leader && partition.leaderEpoch <= before.leaderEpoch) {
            fail(`the leader changed from ${before.leader} without raising the leader epoch from ${before.leaderEpoch}`);
          }
        }
        this.lastLeader.set(key, { leader: partition.leader, leaderEpoch: partition.leaderEpoch });
      }
    }
  }
}

export const ordersId = topicUuid(1);

/**
 * Brokers 0-2 and `orders` created by the controller: partitions [0,1,2], [1,2,0], [2,0,1].
 * `decide` applies a decision's records and checks the invariants after each one.
 */
export function clusterWithOrders(): { image: ClusterImage; decide: (records: ClusterRecord[]) => void } {
  const image = liveCluster([0, 1, 2]);
  const invariants = new ClusterInvariants();
  const decide = (records: ClusterRecord[]) => {
    applyAll(image, records);
    invariants.check(image);
  };
  decide(createTopic(image, { name: 'orders', topicId: ordersId, partitions: 3, replicationFactor: 3, configs: {} }));
  return { image, decide };
}

/** The ControllerDecisionError an action throws; any other outcome (another error, or none) fails the test. */
export function decisionRefusal(action: () => unknown): ControllerDecisionError {
  return errorOf(ControllerDecisionError, action);
}
