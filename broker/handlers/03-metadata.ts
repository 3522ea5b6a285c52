// Metadata: this node as the only broker and controller, the cluster id, and each topic with
// its partitions led by this node (epoch 0, replicas and ISR = [this node]). Naming a topic
// that does not exist creates it when the request and --auto-create-topics both allow it.
import { metadataApi } from '../protocol/apis/03-metadata.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicImage } from '../controller/metadata-image.js';
import { isInternalTopic } from '../controller/metadata-store.js';
import type { Broker } from '../broker.js';
import { defineHandler, type ResponseOf } from './types.js';

type TopicResponse = ResponseOf<typeof metadataApi>['topics'][number];

function describeTopic(broker: Broker, topic: TopicImage): TopicResponse {
  const nodes = [broker.nodeId];
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    // Clients hide internal topics from listings.
    isInternal: isInternalTopic(topic.name),
    partitions: Array.from({ length: topic.partitions }, (_, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: broker.nodeId,
      leaderEpoch: broker.leaderEpoch,
      replicaNodes: nodes,
      isrNodes: nodes,
      offlineReplicas: [],
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
  async handle(request, { broker, apiVersion }) {
    const everyTopic = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const topics: TopicResponse[] = [];
    if (everyTopic) {
      for (const topic of broker.metadata.image.topics()) topics.push(describeTopic(broker, topic));
    } else {
      for (const wanted of request.topics ?? []) {
        if (wanted.name === null) {
          const byId = broker.metadata.image.topicById(wanted.topicId);
          topics.push(byId ? describeTopic(broker, byId) : missingTopic(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
          continue;
        }
        const existing = broker.topic(wanted.name);
        if (existing) {
          topics.push(describeTopic(broker, existing));
          continue;
        }
        const created = request.allowAutoTopicCreation
          ? await broker.autoCreateTopic(wanted.name)
          : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        topics.push(typeof created === 'number' ? missingTopic(wanted.name, ZERO_UUID, created) : describeTopic(broker, created));
      }
    }
    const advertised = broker.advertisedAddress;
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: broker.nodeId, host: advertised.host, port: advertised.port, rack: null }],
      clusterId: broker.metadata.clusterId,
      controllerId: broker.nodeId,
      topics,
    };
  },
});
