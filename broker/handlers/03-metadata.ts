// Metadata: this node as the only broker and controller, at its advertised address on the
// listener the client connected to; the cluster id; and each topic with its partitions led by
// this node (epoch 0, replicas and ISR = [this node]). Naming a topic that does not exist
// creates it when the request and --auto-create-topics both allow it.
import { metadataApi } from '../protocol/apis/03-metadata.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicImage } from '../controller/metadata-image.js';
import { isInternalTopic } from '../controller/metadata-store.js';
import type { MetadataService } from '../controller/metadata-service.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import { defineHandler, type ResponseOf } from './types.js';

type TopicResponse = ResponseOf<typeof metadataApi>['topics'][number];

function describeTopic(metadata: MetadataService, replicas: ReplicaManager, topic: TopicImage): TopicResponse {
  const nodes = [metadata.nodeId];
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    // Clients hide internal topics from listings.
    isInternal: isInternalTopic(topic.name),
    partitions: Array.from({ length: topic.partitions }, (_, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: metadata.nodeId,
      leaderEpoch: replicas.leaderEpoch,
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
  async handle(request, { services: { metadata, replicas }, apiVersion, connection }) {
    const everyTopic = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const topics: TopicResponse[] = [];
    if (everyTopic) {
      for (const topic of metadata.topics()) topics.push(describeTopic(metadata, replicas, topic));
    } else {
      for (const wanted of request.topics ?? []) {
        if (wanted.name === null) {
          const byId = metadata.topicById(wanted.topicId);
          topics.push(byId ? describeTopic(metadata, replicas, byId) : missingTopic(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
          continue;
        }
        const existing = metadata.topic(wanted.name);
        if (existing) {
          topics.push(describeTopic(metadata, replicas, existing));
          continue;
        }
        const created = request.allowAutoTopicCreation
          ? await metadata.autoCreateTopic(wanted.name)
          : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        topics.push(typeof created === 'number' ? missingTopic(wanted.name, ZERO_UUID, created) : describeTopic(metadata, replicas, created));
      }
    }
    const advertised = metadata.advertisedAddress(connection.listener);
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: metadata.nodeId, host: advertised.host, port: advertised.port, rack: null }],
      clusterId: metadata.clusterId,
      controllerId: metadata.nodeId,
      topics,
    };
  },
});
