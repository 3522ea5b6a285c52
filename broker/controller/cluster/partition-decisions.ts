// The active controller's decisions about one partition's leader and ISR once brokers are
// settled: ISR changes a leader reports (Kafka's AlterPartition: a follower lagging past
// replica.lag.time.max.ms leaves, one caught up again rejoins) and leader elections (preferred
// leaders, by auto rebalance or ElectLeaders on demand, and unclean ones on demand). Pure.
import { ErrorCode } from '../../protocol/errors.js';
import type { ClusterImage, PartitionState } from './image.js';
import { ControllerDecisionError, allPartitions, cleanLeader, imageLiveness, partitionChange } from './elections.js';
import { NO_LEADER, type ClusterRecord } from './records.js';

export interface IsrChangeRequest {
  /** The leader sending the change. */
  readonly brokerId: number;
  readonly topicId: string;
  readonly partitionIndex: number;
  /** The leader epoch and partition epoch the leader knows: a stale change is refused. */
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

/** A leader's proposed ISR, checked against the image: the record that applies it, or none if unchanged. */
export function changeIsr(image: ClusterImage, request: IsrChangeRequest): ClusterRecord[] {
  const topic = image.topicById(request.topicId);
  if (!topic) throw new ControllerDecisionError(ErrorCode.UNKNOWN_TOPIC_ID, `topic id ${request.topicId} is unknown`);
  const partition = topic.partitions[request.partitionIndex];
  const where = `${topic.name}-${request.partitionIndex}`;
  if (!partition) throw new ControllerDecisionError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic.name} has no partition ${request.partitionIndex}`);
  if (partition.leader !== request.brokerId) {
    throw new ControllerDecisionError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${where}: broker ${request.brokerId} is not the leader (the leader is ${partition.leader})`);
  }
  if (request.leaderEpoch !== partition.leaderEpoch) {
    throw new ControllerDecisionError(ErrorCode.FENCED_LEADER_EPOCH, `${where}: leader epoch ${request.leaderEpoch} is not the current ${partition.leaderEpoch}`);
  }
  if (request.partitionEpoch !== partition.partitionEpoch) {
    throw new ControllerDecisionError(
      ErrorCode.INVALID_UPDATE_VERSION,
      `${where}: partition epoch ${request.partitionEpoch} is not the current ${partition.partitionEpoch}; fetch metadata and retry`,
    );
  }
  if (!request.isr.includes(request.brokerId)) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: the ISR [${request.isr}] must keep the leader ${request.brokerId}`);
  }
  if (new Set(request.isr).size !== request.isr.length) throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: the ISR [${request.isr}] repeats a broker`);
  const stranger = request.isr.find((id) => !partition.replicas.includes(id));
  if (stranger !== undefined) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: broker ${stranger} is not a replica (replicas [${partition.replicas}])`);
  }
  const ineligible = request.isr.find((id) => !partition.isr.includes(id) && !image.isLive(id));
  if (ineligible !== undefined) {
    throw new ControllerDecisionError(ErrorCode.INELIGIBLE_REPLICA, `${where}: broker ${ineligible} cannot join the ISR: it is fenced or not registered`);
  }
  const change = partitionChange(partition, { leader: partition.leader, isr: request.isr });
  return change ? [change] : [];
}

/**
 * The ISR a leader proposes after checking its followers: a follower whose last caught-up
 * time is older than replica.lag.time.max.ms leaves, one caught up within it stays or
 * rejoins. The leader itself always stays.
 */
export function isrAfterLagCheck(
  partition: PartitionState,
  lastCaughtUpAt: ReadonlyMap<number, number>,
  now: number,
  replicaLagTimeMaxMs: number,
): number[] {
  return partition.replicas.filter(
    (id) => id === partition.leader || now - (lastCaughtUpAt.get(id) ?? Number.NEGATIVE_INFINITY) <= replicaLagTimeMaxMs,
  );
}

export type ElectionType = 'preferred' | 'unclean';

export interface PartitionRef {
  readonly topic: string;
  readonly partitionIndex: number;
}

export interface ElectionResult extends PartitionRef {
  readonly errorCode: ErrorCode;
  /** Why the partition was not moved; null when it was. */
  readonly message: string | null;
}

export interface ElectionDecision {
  readonly records: ClusterRecord[];
  readonly results: ElectionResult[];
}

/**
 * ElectLeaders: for each partition (every partition when `partitions` is null), moves the
 * leadership as `type` asks and says per partition why it could not.
 * - preferred: to the first replica, when it is live and in the ISR;
 * - unclean: a partition without a leader takes a live ISR member, else the first live replica.
 */
export function electLeaders(image: ClusterImage, type: ElectionType, partitions: readonly PartitionRef[] | null): ElectionDecision {
  const targets = partitions ?? [...allPartitions(image)].map(({ topicName, partition }) => ({ topic: topicName, partitionIndex: partition.partitionIndex }));
  const records: ClusterRecord[] = [];
  const results: ElectionResult[] = [];
  const decided = new Set<string>();
  for (const target of targets) {
    const key = `${target.topic}\u0000${target.partitionIndex}`;
    if (decided.has(key)) continue;
    decided.add(key);
    const partition = image.topic(target.topic)?.partitions[target.partitionIndex];
    const outcome = partition
      ? type === 'preferred'
        ? preferredElection(image, partition)
        : uncleanElection(image, partition)
      : { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `partition ${target.topic}-${target.partitionIndex} does not exist` };
    if ('record' in outcome) {
      records.push(outcome.record);
      results.push({ ...target, errorCode: ErrorCode.NONE, message: null });
    } else {
      results.push({ ...target, ...outcome });
    }
  }
  return { records, results };
}

/**
 * auto.leader.rebalance.enable: every partition whose preferred replica is live and in the ISR
 * but not leading moves back to it, so a rolling restart does not leave every leader on one
 * broker. Results name the partitions left where they are and why (not the ones already fine).
 */
export function rebalanceLeaders(image: ClusterImage): ElectionDecision {
  const { records, results } = electLeaders(image, 'preferred', null);
  return { records, results: results.filter((result) => result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) };
}

type Outcome = { record: ClusterRecord } | { errorCode: ErrorCode; message: string };

function preferredElection(image: ClusterImage, partition: PartitionState): Outcome {
  const preferred = partition.replicas[0]!;
  if (partition.leader === preferred) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, message: `broker ${preferred}, the preferred replica, already leads` };
  if (!image.isLive(preferred)) {
    const state = image.broker(preferred) ? 'fenced' : 'not registered';
    return { errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, message: `the preferred replica, broker ${preferred}, is ${state}` };
  }
  if (!partition.isr.includes(preferred)) {
    return {
      errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
      message: `the preferred replica, broker ${preferred}, is not in the ISR [${partition.isr}]: it has not caught up`,
    };
  }
  return { record: partitionChange(partition, { leader: preferred, isr: partition.isr })! };
}

function uncleanElection(image: ClusterImage, partition: PartitionState): Outcome {
  if (partition.leader !== NO_LEADER) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, message: `broker ${partition.leader} leads` };
  const live = imageLiveness(image);
  const clean = cleanLeader(partition, partition.isr, live);
  if (clean !== NO_LEADER) return { record: partitionChange(partition, { leader: clean, isr: partition.isr })! };
  const survivor = partition.replicas.find(live);
  if (survivor === undefined) {
    return { errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, message: `no replica of [${partition.replicas}] is live` };
  }
  return { record: partitionChange(partition, { leader: survivor, isr: [survivor] })! };
}
