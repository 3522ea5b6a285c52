// CreatePartitions: grows a topic to `count` partitions (never shrinks); new partitions are
// led by this node, so explicit assignments may only name this node. Internal topics are
// refused with INVALID_REQUEST (as DeleteTopics explains): a group lives on partition
// hash(group) mod count of `__consumer_offsets`, so growing it would strand every group's
// offsets on a partition nobody reads.
import { isInternalTopic } from '../controller/metadata-store.js';
import { createPartitionsApi } from '../protocol/apis/37-create-partitions.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, isStorageFailure, type ResponseOf } from './types.js';

type Result = ResponseOf<typeof createPartitionsApi>['results'][number];

export const createPartitionsHandler = defineHandler({
  api: createPartitionsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    results: request.topics.map((topic) => ({ name: topic.name, errorCode, errorMessage: null })),
  }),
  async handle(request, { services: { metadata, logger } }) {
    const results: Result[] = [];
    for (const wanted of request.topics) {
      const topic = metadata.topic(wanted.name);
      const fail = (errorCode: number, errorMessage: string) => results.push({ name: wanted.name, errorCode, errorMessage });
      if (!topic) {
        fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${wanted.name}" does not exist`);
        continue;
      }
      if (isInternalTopic(topic.name)) {
        fail(ErrorCode.INVALID_REQUEST, `${topic.name} is an internal topic; its partition count cannot be changed`);
        continue;
      }
      if (wanted.count <= topic.partitions) {
        fail(ErrorCode.INVALID_PARTITIONS, `topic "${wanted.name}" has ${topic.partitions} partitions; the new count ${wanted.count} must be larger`);
        continue;
      }
      const assignments = wanted.assignments ?? [];
      if (assignments.length > 0 && assignments.length !== wanted.count - topic.partitions) {
        fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${assignments.length} assignments given for ${wanted.count - topic.partitions} new partitions`);
        continue;
      }
      if (assignments.some((assignment) => assignment.brokerIds.length !== 1 || assignment.brokerIds[0] !== metadata.nodeId)) {
        fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `this cluster has only node ${metadata.nodeId}`);
        continue;
      }
      if (!request.validateOnly) {
        try {
          await metadata.addPartitions(topic, wanted.count);
        } catch (error) {
          if (!isStorageFailure(error)) throw error;
          logger.error('adding partitions failed', { topic: wanted.name, reason: error.message });
          fail(ErrorCode.KAFKA_STORAGE_ERROR, error.message);
          continue;
        }
      }
      results.push({ name: wanted.name, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, results };
  },
});
