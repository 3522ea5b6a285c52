// DeleteRecords: moves a partition's log start offset forward (-1 means up to the high
// watermark); whole segments below it are removed, and reads below it are out of range.
// Internal topics (`__consumer_offsets`) refuse it with INVALID_TOPIC_EXCEPTION, as Kafka
// does: truncating them would silently drop committed offsets.
import { isInternalTopic } from '../controller/topic-names.js';
import { deleteRecordsApi } from '../protocol/apis/21-delete-records.js';
import { ErrorCode } from '../protocol/errors.js';
import { StorageError } from '../storage/errors.js';
import { defineHandler, type ResponseOf } from './types.js';

type PartitionResponse = ResponseOf<typeof deleteRecordsApi>['topics'][number]['partitions'][number];

export const deleteRecordsHandler = defineHandler({
  api: deleteRecordsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, lowWatermark: -1n, errorCode })),
    })),
  }),
  async handle(request, { services: { replicas } }) {
    const topics = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async ({ partitionIndex, offset }): Promise<PartitionResponse> => {
            if (isInternalTopic(topic.name)) return { partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION };
            const leader = replicas.leaderFor(topic.name, partitionIndex);
            if (typeof leader === 'number') return { partitionIndex, lowWatermark: -1n, errorCode: leader };
            const log = leader.log;
            const target = offset === -1n ? leader.highWatermark : Number(offset);
            if (target < 0 || target > leader.highWatermark) {
              return { partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
            }
            try {
              const lowWatermark = await log.deleteRecordsBefore(target);
              return { partitionIndex, lowWatermark: BigInt(lowWatermark), errorCode: ErrorCode.NONE };
            } catch (error) {
              if (!(error instanceof StorageError)) throw error;
              replicas.reportStorageError('delete records', error);
              return { partitionIndex, lowWatermark: -1n, errorCode: error.kafkaErrorCode };
            }
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
