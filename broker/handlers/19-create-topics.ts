// CreateTopics: validates name, partition count, replication factor (at most the one node
// there is now), replica assignments (only this node) and configs (only those the broker
// supports); with validateOnly it stops there. Each topic succeeds or fails on its own.
import { createTopicsApi } from '../protocol/apis/19-create-topics.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import { invalidTopicNameReason } from '../controller/metadata-store.js';
import { effectiveTopicConfigs, validateTopicConfigs } from '../controller/topic-configs.js';
import { defineHandler, isStorageFailure, type BrokerServices, type RequestOf, type ResponseOf } from './types.js';

type TopicRequest = RequestOf<typeof createTopicsApi>['topics'][number];
type TopicResponse = ResponseOf<typeof createTopicsApi>['topics'][number];

const configSourceDefault = 5;
const configSourceTopic = 1;

function failure(name: string, errorCode: number, errorMessage: string | null): TopicResponse {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null };
}

interface Plan {
  partitions: number;
  configs: Record<string, string>;
}

function plan({ metadata, config }: BrokerServices, topic: TopicRequest): Plan | TopicResponse {
  const nameProblem = invalidTopicNameReason(topic.name);
  if (nameProblem) return failure(topic.name, ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  if (metadata.topic(topic.name)) return failure(topic.name, ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${topic.name}" already exists`);

  let partitions = topic.numPartitions === -1 ? config.defaultPartitions : topic.numPartitions;
  if (topic.assignments.length > 0) {
    if (topic.numPartitions !== -1 || topic.replicationFactor !== -1) {
      return failure(topic.name, ErrorCode.INVALID_REQUEST, 'give either replica assignments or numPartitions/replicationFactor, not both');
    }
    const foreign = topic.assignments.find(
      (assignment) => assignment.brokerIds.length !== 1 || assignment.brokerIds[0] !== metadata.nodeId,
    );
    if (foreign) {
      return failure(
        topic.name,
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `partition ${foreign.partitionIndex} is assigned to [${foreign.brokerIds.join(',')}]; this cluster has only node ${metadata.nodeId}`,
      );
    }
    partitions = topic.assignments.length;
  } else {
    const replicationFactor = topic.replicationFactor === -1 ? 1 : topic.replicationFactor;
    if (replicationFactor < 1 || replicationFactor > 1) {
      return failure(
        topic.name,
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `replication factor ${topic.replicationFactor} is invalid: this cluster has 1 broker`,
      );
    }
  }
  if (!Number.isInteger(partitions) || partitions < 1) {
    return failure(topic.name, ErrorCode.INVALID_PARTITIONS, `number of partitions ${topic.numPartitions} must be at least 1`);
  }

  const configs: Record<string, string> = {};
  for (const entry of topic.configs) if (entry.value !== null) configs[entry.name] = entry.value;
  const configProblem = validateTopicConfigs(configs);
  if (configProblem) return failure(topic.name, ErrorCode.INVALID_CONFIG, configProblem);
  return { partitions, configs };
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
      const outcome = plan(services, topic);
      if (!('partitions' in outcome)) {
        topics.push(outcome);
        continue;
      }
      let topicId = ZERO_UUID;
      if (!request.validateOnly) {
        try {
          topicId = (await services.metadata.createTopic(topic.name, outcome.partitions, outcome.configs)).topicId;
        } catch (error) {
          if (!isStorageFailure(error)) throw error;
          services.logger.error('creating a topic failed', { topic: topic.name, reason: error.message });
          topics.push(failure(topic.name, ErrorCode.KAFKA_STORAGE_ERROR, error.message));
          continue;
        }
      }
      const effective = effectiveTopicConfigs(services.config, outcome.configs);
      topics.push({
        name: topic.name,
        topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: outcome.partitions,
        replicationFactor: 1,
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
