// CreateTopics: each topic is created by the active controller, wherever the request arrives
// (it checks the name, partition count, replication factor against the live brokers, replica
// assignments and configs); with validateOnly it stops after checking. Each topic succeeds or
// fails on its own, and a created topic is in this broker's metadata before the answer.
import { createTopicsApi } from '../protocol/apis/19-create-topics.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import type { NewTopic } from '../controller/metadata-service.js';
import { effectiveTopicConfigs } from '../controller/topic-configs.js';
import { defineHandler, type RequestOf, type ResponseOf } from './types.js';

type TopicRequest = RequestOf<typeof createTopicsApi>['topics'][number];
type TopicResponse = ResponseOf<typeof createTopicsApi>['topics'][number];

const configSourceDefault = 5;
const configSourceTopic = 1;

function failure(name: string, errorCode: number, errorMessage: string | null): TopicResponse {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null };
}

/** The topic as the controller takes it, or the refusal of a request that contradicts itself. */
function newTopic(topic: TopicRequest): NewTopic | TopicResponse {
  const configs: Record<string, string> = {};
  for (const entry of topic.configs) if (entry.value !== null) configs[entry.name] = entry.value;
  if (topic.assignments.length === 0) {
    return { name: topic.name, partitions: topic.numPartitions, replicationFactor: topic.replicationFactor, assignments: null, configs };
  }
  if (topic.numPartitions !== -1 || topic.replicationFactor !== -1) {
    return failure(topic.name, ErrorCode.INVALID_REQUEST, 'give either replica assignments or numPartitions/replicationFactor, not both');
  }
  const ordered = [...topic.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex);
  const gap = ordered.findIndex((assignment, index) => assignment.partitionIndex !== index);
  if (gap !== -1) {
    return failure(topic.name, ErrorCode.INVALID_REPLICA_ASSIGNMENT, `replica assignments must cover partitions 0 to ${ordered.length - 1} once each`);
  }
  return { name: topic.name, partitions: -1, replicationFactor: -1, assignments: ordered.map((assignment) => assignment.brokerIds), configs };
}

export const createTopicsHandler = defineHandler({
  api: createTopicsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => failure(topic.name, errorCode, null)),
  }),
  async handle(request, { services }) {
    const counts = new Map<string, number>();
    for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
    const topics: TopicResponse[] = [];
    for (const topic of request.topics) {
      if ((counts.get(topic.name) ?? 0) > 1) {
        topics.push(failure(topic.name, ErrorCode.INVALID_REQUEST, `topic "${topic.name}" appears more than once`));
        continue;
      }
      const wanted = newTopic(topic);
      if ('errorCode' in wanted) {
        topics.push(wanted);
        continue;
      }
      const outcome = await services.metadata.createTopic(wanted, request.validateOnly);
      if (outcome.errorCode !== ErrorCode.NONE) {
        topics.push(failure(topic.name, outcome.errorCode, outcome.message));
        continue;
      }
      const created = services.metadata.topic(topic.name);
      const partitions = created?.partitions.length ?? (wanted.assignments?.length ?? (wanted.partitions === -1 ? services.config.defaultPartitions : wanted.partitions));
      const replicationFactor =
        created?.partitions[0]?.replicas.length ??
        (wanted.assignments?.[0]?.length ?? (wanted.replicationFactor === -1 ? services.config.defaultReplicationFactor : wanted.replicationFactor));
      const effective = effectiveTopicConfigs(services.config, wanted.configs);
      topics.push({
        name: topic.name,
        topicId: request.validateOnly ? ZERO_UUID : (created?.topicId ?? ZERO_UUID),
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: partitions,
        replicationFactor,
        configs: effective.map((entry) => ({
          name: entry.name,
          value: entry.value,
          readOnly: false,
          configSource: entry.overridden ? configSourceTopic : configSourceDefault,
          isSensitive: false,
        })),
      });
    }
    return { throttleTimeMs: 0, topics };
  },
});
