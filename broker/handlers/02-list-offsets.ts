// ListOffsets: earliest (-2) is the log start offset, latest (-1) the high watermark, and any
// other timestamp the first offset whose record timestamp is at or after it (-1 when none).
// v0 answers in its old form, a list holding that one offset. The max-timestamp query (-3,
// v7) is not served: it gets UNSUPPORTED_VERSION for that partition.
import { listOffsetsApi } from '../protocol/apis/02-list-offsets.js';
import { ErrorCode } from '../protocol/errors.js';
import { StorageError } from '../storage/errors.js';
import { defineHandler, type ResponseOf } from './types.js';

type PartitionResponse = ResponseOf<typeof listOffsetsApi>['topics'][number]['partitions'][number];

const latest = -1n;
const earliest = -2n;
const maxTimestamp = -3n;

function answer(partitionIndex: number, errorCode: number, offset: number, timestamp: number, leaderEpoch: number): PartitionResponse {
  return {
    partitionIndex,
    errorCode,
    oldStyleOffsets: errorCode === ErrorCode.NONE && offset >= 0 ? [BigInt(offset)] : [],
    timestamp: BigInt(timestamp),
    offset: BigInt(offset),
    leaderEpoch,
  };
}

export const listOffsetsHandler = defineHandler({
  api: listOffsetsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => answer(partition.partitionIndex, errorCode, -1, -1, -1)),
    })),
  }),
  async handle(request, { services: { replicas } }) {
    const topics = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (partition): Promise<PartitionResponse> => {
            const index = partition.partitionIndex;
            const leader = replicas.leaderFor(topic.name, index, partition.currentLeaderEpoch);
            if (typeof leader === 'number') return answer(index, leader, -1, -1, -1);
            const log = leader.log;
            const epoch = leader.leaderEpoch;
            // A consumer's latest offset is the high watermark: records above it may still be lost.
            const end = request.replicaId >= 0 ? log.logEndOffset : leader.highWatermark;
            if (partition.timestamp === latest) return answer(index, ErrorCode.NONE, end, -1, epoch);
            if (partition.timestamp === earliest) return answer(index, ErrorCode.NONE, log.logStartOffset, -1, epoch);
            if (partition.timestamp === maxTimestamp || partition.timestamp < 0n) {
              return answer(index, ErrorCode.UNSUPPORTED_VERSION, -1, -1, -1);
            }
            try {
              const found = await log.offsetForTimestamp(Number(partition.timestamp));
              return found && found.offset < end
                ? answer(index, ErrorCode.NONE, found.offset, found.timestamp, epoch)
                : answer(index, ErrorCode.NONE, -1, -1, -1);
            } catch (error) {
              if (!(error instanceof StorageError)) throw error;
              replicas.reportStorageError('list offsets', error);
              return answer(index, error.kafkaErrorCode, -1, -1, -1);
            }
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
