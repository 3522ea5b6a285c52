// Metadata: every live broker at its address on the listener the client connected to, the
// cluster id, where to send controller-bound requests (the active controller, or this broker,
// which forwards, while no live one is known), and each topic with every partition's leader,
// leader epoch, replicas and ISR as the metadata image says (replicas on fenced brokers are
// listed offline). Naming a topic that does not exist creates it when the request and
// --auto-create-topics both allow it.
import { metadataApi } from '../protocol/apis/03-metadata.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicState } from '../controller/cluster/image.js';
import { NO_LEADER } from '../controller/cluster/records.js';
import { isInternalTopic } from '../controller/topic-names.js';
import type { MetadataService } from '../controller/metadata-service.js';
import { defineHandler, type ResponseOf } from './types.js';

type TopicResponse = ResponseOf<typeof metadataApi>['topics'][number];

function describeTopic(metadata: MetadataService, topic: TopicState): TopicResponse {
  const image = metadata.image;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    // Clients hide internal topics from listings.
    isInternal: isInternalTopic(topic.name),
    partitions: topic.partitions.map((partition) => ({
      errorCode: partition.leader === NO_LEADER ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      partitionIndex: partition.partitionIndex,
      leaderId: partition.leader,
      leaderEpoch: partition.leaderEpoch,
      replicaNodes: [...partition.replicas],
      isrNodes: [...partition.isr],
      offlineReplicas: partition.replicas.filter((id) => !image.isLive(id)),
    })),
  };
}

function missingTopic(name: string | null, topicId: string, errorCode: number): TopicResponse {
  return { errorCode, name, topicId, isInternal: false, partitions: [] };
}

export const metadataHandler = defineHandler({
  api: metadataApi,
  errorResponse: (request, errorCode) => ({
    brokers: [],
    topics: (request.topics ?? []).map((topic) => missingTopic(topic.name, topic.topicId, errorCode)),
  }),
  async handle(request, { services: { metadata }, apiVersion, connection }) {
    const everyTopic = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const topics: TopicResponse[] = [];
    if (everyTopic) {
      for (const topic of metadata.topics()) topics.push(describeTopic(metadata, topic));
    } else {
      for (const wanted of request.topics ?? []) {
        if (wanted.name === null) {
          const byId = metadata.topicById(wanted.topicId);
          topics.push(byId ? describeTopic(metadata, byId) : missingTopic(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
          continue;
        }
        const existing = metadata.topic(wanted.name);
        if (existing) {
          topics.push(describeTopic(metadata, existing));
          continue;
        }
        const created = request.allowAutoTopicCreation
          ? await metadata.autoCreateTopic(wanted.name)
          : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        topics.push(typeof created === 'number' ? missingTopic(wanted.name, ZERO_UUID, created) : describeTopic(metadata, created));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: metadata.liveBrokers(connection.listener).map(({ broker, host, port }) => ({ nodeId: broker.brokerId, host, port, rack: broker.rack })),
      clusterId: metadata.clusterId,
      controllerId: metadata.controllerIdForClients,
      topics,
    };
  },
});
