// DeleteTopics: by name (v0-5) or by name or id (v6). The active controller removes the topic
// from the metadata; every broker then removes its replicas' directories as it applies that
// (a broker down at the time does so when it catches up). Then every
// group's committed offsets for it are removed (Kafka's onPartitionsDeleted), so a topic
// created again under the name does not inherit them. Internal topics are refused with
// INVALID_REQUEST: deleting `__consumer_offsets` would lose every group's offsets. (Kafka
// leaves this to ACLs and its kafka-topics tool; without ACLs here the broker refuses, with the
// code Kafka gives for the internal-topic operations it prohibits outright.)
import { isInternalTopic } from '../controller/topic-names.js';
import { deleteTopicsApi } from '../protocol/apis/20-delete-topics.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, type ResponseOf } from './types.js';
import { describeError } from '../log.js';

type TopicResponse = ResponseOf<typeof deleteTopicsApi>['responses'][number];

export const deleteTopicsHandler = defineHandler({
  api: deleteTopicsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    responses: [
      ...request.topicNames.map((name) => ({ name, topicId: ZERO_UUID, errorCode })),
      ...request.topics.map((topic) => ({ name: topic.name, topicId: topic.topicId, errorCode })),
    ],
  }),
  async handle(request, { services: { metadata, groups, logger }, apiVersion }) {
    const wanted =
      apiVersion >= 6
        ? request.topics.map((topic) => ({ name: topic.name, topicId: topic.topicId }))
        : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses: TopicResponse[] = [];
    for (const { name, topicId } of wanted) {
      const topic = name !== null ? metadata.topic(name) : metadata.topicById(topicId);
      if (!topic) {
        const errorCode = name !== null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
        responses.push({ name, topicId, errorCode, errorMessage: null });
        continue;
      }
      if (isInternalTopic(topic.name)) {
        responses.push({
          name: topic.name,
          topicId: topic.topicId,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `${topic.name} is an internal topic and cannot be deleted`,
        });
        continue;
      }
      const outcome = await metadata.deleteTopic(topic.name);
      if (outcome.errorCode !== ErrorCode.NONE) {
        responses.push({ name: topic.name, topicId: topic.topicId, errorCode: outcome.errorCode, errorMessage: outcome.message });
        continue;
      }
      try {
        await groups.forgetCommittedOffsets(topic.name);
      } catch (error) {
        // The topic is gone either way; what is left are offsets a recreated topic would inherit.
        logger.error('committed offsets of a deleted topic remain', {
          topic: topic.name,
          reason: describeError(error),
        });
      }
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, responses };
  },
});
