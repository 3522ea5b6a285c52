// The active controller's decisions about topics: create (with placement), add partitions,
// delete, and change topic configs. Pure: the image and the request in, records out.
//
// Placement is the seeds' rule over the live brokers sorted by id: replica j of partition i is
// on broker (i + j) mod n, so leaders (replica 0) spread evenly and a partition's replicas are
// distinct brokers. A caller may give each partition's replicas instead (CreateTopics and
// CreatePartitions assignments); they must be live brokers, as many as the replication factor.
import { ErrorCode } from '../../protocol/errors.js';
import { invalidTopicNameReason } from '../topic-names.js';
import { topicConfigSpecByName, validateTopicConfigs } from '../topic-configs.js';
import type { ClusterImage, TopicState } from './image.js';
import { ControllerDecisionError } from './elections.js';
import { ConfigResourceType, type ClusterRecord } from './records.js';

/** One partition's replicas in preference order, as CreateTopics and CreatePartitions may give them. */
export type ReplicaAssignment = readonly number[];

interface TopicIdentity {
  readonly name: string;
  /** Chosen by the caller (a random UUID), so the decision stays a pure function. */
  readonly topicId: string;
  readonly configs: Readonly<Record<string, string>>;
}

/** A topic placed by the rule (a partition count and replication factor) or by the caller's assignments. */
export type CreateTopicRequest = TopicIdentity &
  ({ readonly partitions: number; readonly replicationFactor: number } | { readonly assignments: readonly ReplicaAssignment[] });

export function createTopic(image: ClusterImage, request: CreateTopicRequest): ClusterRecord[] {
  const nameProblem = invalidTopicNameReason(request.name);
  if (nameProblem) throw new ControllerDecisionError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  if (image.topic(request.name)) throw new ControllerDecisionError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${request.name} already exists`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(request.topicId) || /^[0-]+$/.test(request.topicId)) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `topic ${request.name}: topic id "${request.topicId}" is not a lowercase, non-zero UUID`);
  }
  if (image.topicById(request.topicId)) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `topic id ${request.topicId} is already taken by topic ${image.topicById(request.topicId)!.name}`);
  }
  const configProblem = validateTopicConfigs(request.configs);
  if (configProblem) throw new ControllerDecisionError(ErrorCode.INVALID_CONFIG, `topic ${request.name}: ${configProblem}`);
  let assignments: readonly ReplicaAssignment[];
  if ('assignments' in request) {
    if (request.assignments.length === 0) {
      throw new ControllerDecisionError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `topic ${request.name}: the replica assignment names no partition`);
    }
    assignments = request.assignments;
    checkAssignments(image, request.name, 0, assignments, assignments[0]!.length);
  } else {
    if (!Number.isInteger(request.partitions) || request.partitions < 1) {
      throw new ControllerDecisionError(ErrorCode.INVALID_PARTITIONS, `topic ${request.name}: partition count ${request.partitions} must be at least 1`);
    }
    assignments = placed(image, request.name, 0, request.partitions, request.replicationFactor);
  }
  const records: ClusterRecord[] = [{ type: 'topic', name: request.name, topicId: request.topicId }];
  assignments.forEach((replicas, index) => records.push(newPartition(request.topicId, index, replicas)));
  for (const [name, value] of Object.entries(request.configs)) {
    records.push({ type: 'config', resourceType: ConfigResourceType.topic, resourceName: request.name, name, value });
  }
  return records;
}

export interface CreatePartitionsRequest {
  readonly name: string;
  /** The new total partition count. */
  readonly count: number;
  /** The new partitions' replicas; placed by the rule when absent. */
  readonly assignments?: readonly ReplicaAssignment[];
}

/** Grows a topic to `count` partitions, with the topic's replication factor. */
export function createPartitions(image: ClusterImage, request: CreatePartitionsRequest): ClusterRecord[] {
  const topic = knownTopic(image, request.name);
  const current = topic.partitions.length;
  if (!Number.isInteger(request.count) || request.count <= current) {
    throw new ControllerDecisionError(
      ErrorCode.INVALID_PARTITIONS,
      `topic ${request.name} has ${current} partitions; the new count (${request.count}) must be larger (partitions cannot be removed)`,
    );
  }
  const replicationFactor = topic.partitions[0]?.replicas.length ?? 1;
  let assignments: readonly ReplicaAssignment[];
  if (request.assignments) {
    if (request.assignments.length !== request.count - current) {
      throw new ControllerDecisionError(
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `topic ${request.name}: ${request.assignments.length} replica assignment(s) given for ${request.count - current} new partition(s)`,
      );
    }
    assignments = request.assignments;
    checkAssignments(image, request.name, current, assignments, replicationFactor);
  } else {
    assignments = placed(image, request.name, current, request.count - current, replicationFactor);
  }
  return assignments.map((replicas, offset) => newPartition(topic.topicId, current + offset, replicas));
}

export function deleteTopic(image: ClusterImage, name: string): ClusterRecord[] {
  return [{ type: 'remove-topic', topicId: knownTopic(image, name).topicId }];
}

export interface AlterTopicConfigsRequest {
  readonly name: string;
  readonly set: Readonly<Record<string, string>>;
  /** Configs to return to their defaults. */
  readonly remove: readonly string[];
}

export function alterTopicConfigs(image: ClusterImage, request: AlterTopicConfigsRequest): ClusterRecord[] {
  knownTopic(image, request.name);
  const unknown = request.remove.find((name) => !topicConfigSpecByName.has(name));
  const problem = validateTopicConfigs(request.set) ?? (unknown === undefined ? null : `unsupported topic config "${unknown}" cannot be removed`);
  if (problem) throw new ControllerDecisionError(ErrorCode.INVALID_CONFIG, `topic ${request.name}: ${problem}`);
  const topic = { resourceType: ConfigResourceType.topic, resourceName: request.name } as const;
  return [
    ...Object.entries(request.set).map(([name, value]): ClusterRecord => ({ type: 'config', ...topic, name, value })),
    ...request.remove.map((name): ClusterRecord => ({ type: 'config', ...topic, name, value: null })),
  ];
}

export interface ReplaceTopicConfigsRequest {
  readonly name: string;
  /** The topic's whole set of overrides from now on. */
  readonly configs: Readonly<Record<string, string>>;
}

/** AlterConfigs' semantics: every override `configs` leaves out returns to its default. */
export function replaceTopicConfigs(image: ClusterImage, request: ReplaceTopicConfigsRequest): ClusterRecord[] {
  knownTopic(image, request.name);
  const remove = Object.keys(image.topicConfigs(request.name)).filter((name) => !Object.hasOwn(request.configs, name));
  return alterTopicConfigs(image, { name: request.name, set: request.configs, remove });
}

function knownTopic(image: ClusterImage, name: string): TopicState {
  const topic = image.topic(name);
  if (!topic) throw new ControllerDecisionError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
  return topic;
}

/** Replicas for partitions first..first+count-1 by the placement rule over the live brokers. */
function placed(image: ClusterImage, topicName: string, first: number, count: number, replicationFactor: number): number[][] {
  const live = image.liveBrokers().map((broker) => broker.brokerId);
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REPLICATION_FACTOR, `topic ${topicName}: replication factor ${replicationFactor} must be at least 1`);
  }
  if (replicationFactor > live.length) {
    throw new ControllerDecisionError(
      ErrorCode.INVALID_REPLICATION_FACTOR,
      `topic ${topicName}: replication factor ${replicationFactor} is larger than the ${live.length} live broker(s)` +
        (live.length > 0 ? ` (${live.join(', ')})` : '') +
        '; use a smaller replication factor or start more brokers',
    );
  }
  return Array.from({ length: count }, (_, offset) =>
    Array.from({ length: replicationFactor }, (_, j) => live[(first + offset + j) % live.length]!),
  );
}

/** Caller-given replicas: each list as long as the replication factor, without repeats, on live brokers. */
function checkAssignments(
  image: ClusterImage,
  topicName: string,
  first: number,
  assignments: readonly ReplicaAssignment[],
  replicationFactor: number,
): void {
  assignments.forEach((replicas, offset) => {
    const where = `topic ${topicName} partition ${first + offset}: replicas [${replicas}]`;
    const refuse = (why: string): never => {
      throw new ControllerDecisionError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${where} ${why}`);
    };
    if (replicas.length === 0) refuse('are empty');
    if (replicas.length !== replicationFactor) refuse(`are not ${replicationFactor}, the topic's replication factor`);
    if (new Set(replicas).size !== replicas.length) refuse('repeat a broker');
    for (const brokerId of replicas) {
      if (!image.broker(brokerId)) refuse(`name broker ${brokerId}, which is not registered`);
      if (!image.isLive(brokerId)) refuse(`name broker ${brokerId}, which is fenced`);
    }
  });
}

function newPartition(topicId: string, index: number, replicas: ReplicaAssignment): ClusterRecord {
  return { type: 'partition', topicId, partitionIndex: index, replicas: [...replicas], isr: [...replicas], leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 };
}
