// AlterPartition: a partition leader asks the active controller to change the ISR (a follower
// fell behind, or caught up again). Each partition's change is checked against the leader
// epoch and partition epoch the leader knew, so a deposed leader cannot change anything.
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import { changeIsr } from '../controller/cluster/partition-decisions.js';
import { alterPartitionApi } from '../protocol/apis/56-alter-partition.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, type ResponseOf } from './types.js';

type PartitionAnswer = ResponseOf<typeof alterPartitionApi>['topics'][number]['partitions'][number];

export const alterPartitionHandler = defineHandler({
  api: alterPartitionApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, topics: [] }),
  async handle(request, { services: { controller, metadata }, apiVersion }) {
    if (!controller.active) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_CONTROLLER, topics: [] };
    const topics = [];
    for (const topic of request.topics) {
      const topicId = apiVersion >= 2 ? topic.topicId : (metadata.topic(topic.topicName)?.topicId ?? null);
      const partitions: PartitionAnswer[] = [];
      for (const partition of topic.partitions) {
        const refuse = (errorCode: number): PartitionAnswer => ({
          partitionIndex: partition.partitionIndex,
          errorCode,
          leaderId: -1,
          leaderEpoch: -1,
          isr: [],
          leaderRecoveryState: 0,
          partitionEpoch: -1,
        });
        if (topicId === null) {
          partitions.push(refuse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        const change = {
          brokerId: request.brokerId,
          topicId,
          partitionIndex: partition.partitionIndex,
          leaderEpoch: partition.leaderEpoch,
          partitionEpoch: partition.partitionEpoch,
          isr: partition.newIsr,
        };
        try {
          await controller.decide(`ISR change of ${topic.topicName || topicId}-${partition.partitionIndex}`, (image) => ({ records: changeIsr(image, change), result: undefined }));
        } catch (error) {
          if (error instanceof ControllerDecisionError) {
            partitions.push(refuse(error.errorCode));
            continue;
          }
          if (!controller.active) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_CONTROLLER, topics: [] };
          throw error;
        }
        const state = metadata.image.partition(topicId, partition.partitionIndex);
        partitions.push({
          partitionIndex: partition.partitionIndex,
          errorCode: ErrorCode.NONE,
          leaderId: state?.leader ?? -1,
          leaderEpoch: state?.leaderEpoch ?? -1,
          isr: state ? [...state.isr] : [],
          leaderRecoveryState: 0,
          partitionEpoch: state?.partitionEpoch ?? -1,
        });
      }
      topics.push({ topicName: topic.topicName, topicId: topic.topicId, partitions });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, topics };
  },
});
