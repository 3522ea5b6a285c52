// How a partition's leader and ISR change when brokers come and go: the one rule set every
// controller decision uses (Kafka's PartitionChangeBuilder). Pure: image in, records out.
//
// - A leader comes from the ISR: the first live ISR member in replica order.
// - A fenced broker leaves every ISR, except that the last member stays: a partition whose
//   whole ISR is gone keeps the last one listed, so that broker can take it back without
//   losing an acknowledged write (the clean choice), and the partition is offline till then.
// - With unclean.leader.election.enable, such a partition takes the first live replica instead,
//   whose ISR is then just itself: it may lack writes the old ISR acknowledged.
import { ErrorCode } from '../../protocol/errors.js';
import type { ClusterImage, PartitionState } from './image.js';
import { LEADER_UNCHANGED, NO_LEADER, type ClusterRecordOf } from './records.js';

/** A controller decision refused, with the Kafka error code the request is answered with. */
export class ControllerDecisionError extends Error {
  override readonly name = 'ControllerDecisionError';

  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface LeaderAndIsr {
  readonly leader: number;
  readonly isr: readonly number[];
}

/** Which brokers count as live for this decision (the image's view, with changes being decided). */
export type Liveness = (brokerId: number) => boolean;

export function imageLiveness(image: ClusterImage): Liveness {
  return (brokerId) => image.isLive(brokerId);
}

/** The first live ISR member in replica order, or NO_LEADER. */
export function cleanLeader(partition: PartitionState, isr: readonly number[], live: Liveness): number {
  return partition.replicas.find((id) => isr.includes(id) && live(id)) ?? NO_LEADER;
}

/**
 * The partition's leader and ISR with every broker that is not live out of the ISR (but the
 * last member) and the leader re-chosen if it is no longer live; unclean election only when
 * no ISR member is live.
 */
export function withoutDeadBrokers(partition: PartitionState, live: Liveness, unclean: boolean): LeaderAndIsr {
  const liveIsr = partition.isr.filter(live);
  const isr = liveIsr.length > 0 ? liveIsr : partition.isr.slice(-1);
  const leader = partition.leader !== NO_LEADER && live(partition.leader) ? partition.leader : cleanLeader(partition, isr, live);
  if (leader !== NO_LEADER || !unclean) return { leader, isr };
  const survivor = partition.replicas.find(live);
  return survivor === undefined ? { leader: NO_LEADER, isr } : { leader: survivor, isr: [survivor] };
}

/** The record moving `partition` to `next`, or null when nothing would change. */
export function partitionChange(partition: PartitionState, next: LeaderAndIsr): ClusterRecordOf<'partition-change'> | null {
  const isrChanged = !sameMembers(partition.isr, next.isr);
  const leaderChanged = partition.leader !== next.leader;
  if (!isrChanged && !leaderChanged) return null;
  return {
    type: 'partition-change',
    topicId: partition.topicId,
    partitionIndex: partition.partitionIndex,
    isr: isrChanged ? [...next.isr] : null,
    leader: leaderChanged ? next.leader : LEADER_UNCHANGED,
  };
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** Every partition of every topic, with its topic's name. */
export function* allPartitions(image: ClusterImage): Generator<{ topicName: string; partition: PartitionState }> {
  for (const topic of image.topics()) {
    for (const partition of topic.partitions) yield { topicName: topic.name, partition };
  }
}
