// CreatePartitions: grows a topic to `count` partitions (never shrinks) through the active
// controller, which places the new partitions as it places a new topic's, or as the explicit
// assignments say (live brokers, as many as the topic's replication factor). Internal topics are
// refused with INVALID_REQUEST (as DeleteTopics explains): a group lives on partition
// hash(group) mod count of `__consumer_offsets`, so growing it would strand every group's
// offsets on a partition nobody reads.
import { isInternalTopic } from '../controller/topic-names.js';
import { createPartitionsApi } from '../protocol/apis/37-create-partitions.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, type ResponseOf } from './types.js';

type Result = ResponseOf<typeof createPartitionsApi>['results'][number];

export const createPartitionsHandler = defineHandler({
  api: createPartitionsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    results: request.topics.map((topic) => ({ name: topic.name, errorCode, errorMessage: null })),
  }),
  async handle(request, { services: { metadata } }) {
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
      const current = topic.partitions.length;
      if (wanted.count <= current) {
        fail(ErrorCode.INVALID_PARTITIONS, `topic "${wanted.name}" has ${current} partitions; the new count ${wanted.count} must be larger`);
        continue;
      }
      const assignments = wanted.assignments ?? [];
      if (assignments.length > 0 && assignments.length !== wanted.count - current) {
        fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${assignments.length} assignments given for ${wanted.count - current} new partitions`);
        continue;
      }
      const outcome = await metadata.addPartitions(
        wanted.name,
        wanted.count,
        assignments.length > 0 ? assignments.map((assignment) => assignment.brokerIds) : null,
        request.validateOnly,
      );
      if (outcome.errorCode !== ErrorCode.NONE) {
        fail(outcome.errorCode, outcome.message ?? `adding partitions to ${wanted.name} failed`);
        continue;
      }
      results.push({ name: wanted.name, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, results };
  },
});
