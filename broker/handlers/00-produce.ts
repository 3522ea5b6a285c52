// Produce: appends each partition's record batches to its log as the partition's leader and
// answers per partition, so one failing partition (unknown, not led here, corrupt batch, disk
// error) never fails the others. acks=0 gets no response at all (a failure closes the
// connection instead). acks=1 answers once the leader has the records (fsynced too when
// fsync=always); acks=-1 also waits until every in-sync replica has them, and is refused with
// NOT_ENOUGH_REPLICAS while the ISR is below min.insync.replicas. Internal topics
// (`__consumer_offsets`) take no produce from clients: their owner writes them, and Kafka
// answers INVALID_TOPIC_EXCEPTION too.
import { isInternalTopic } from '../controller/topic-names.js';
import { produceApi } from '../protocol/apis/00-produce.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { StorageError } from '../storage/errors.js';
import { CloseConnectionError, defineHandler, type RequestOf, type ResponseOf } from './types.js';

type PartitionResponse = ResponseOf<typeof produceApi>['responses'][number]['partitionResponses'][number];

function failed(index: number, errorCode: number, errorMessage: string | null = null): PartitionResponse {
  return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage };
}

function everyPartitionFailed(request: RequestOf<typeof produceApi>, errorCode: number): ResponseOf<typeof produceApi> {
  return {
    responses: request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((partition) => failed(partition.index, errorCode)),
    })),
  };
}

export const produceHandler = defineHandler({
  api: produceApi,
  expectsResponse: (request) => request.acks !== 0,
  errorResponse: everyPartitionFailed,
  async handle(request, { services: { metadata, replicas } }) {
    const acksAll = request.acks === -1;
    if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
      return everyPartitionFailed(request, ErrorCode.INVALID_REQUIRED_ACKS);
    }
    const responses = request.topicData.map(async (topicData) => {
      if (isInternalTopic(topicData.name)) {
        const refusal = `cannot append to internal topic ${topicData.name}`;
        return {
          name: topicData.name,
          partitionResponses: topicData.partitionData.map((partition) => failed(partition.index, ErrorCode.INVALID_TOPIC_EXCEPTION, refusal)),
        };
      }
      // An existing topic resolves without an await, so appends start in request order.
      const topic = metadata.topic(topicData.name) ?? (await metadata.autoCreateTopic(topicData.name));
      const partitionResponses = topicData.partitionData.map(async (partitionData): Promise<PartitionResponse> => {
        if (typeof topic === 'number') return failed(partitionData.index, topic);
        const partition = replicas.leaderFor(topic.name, partitionData.index);
        if (typeof partition === 'number') return failed(partitionData.index, partition);
        if (!partitionData.records || partitionData.records.length === 0) {
          return failed(partitionData.index, ErrorCode.CORRUPT_MESSAGE, 'no record batches');
        }
        if (acksAll) {
          const shortfall = replicas.isrShortfall(partition);
          if (shortfall !== ErrorCode.NONE) {
            return failed(partitionData.index, shortfall, `the ISR [${partition.state.isr.join(',')}] is smaller than min.insync.replicas ${replicas.minInsyncReplicas(topic.name)}`);
          }
        }
        try {
          const result = await replicas.appendAsLeader(partition, partitionData.records);
          if (!result.duplicate) replicas.recordAppend(partition, partitionData.records.length, result.lastOffset - result.baseOffset + 1);
          if (acksAll) {
            const errorCode = await replicas.waitForIsr(partition, result.lastOffset, request.timeoutMs);
            if (errorCode !== ErrorCode.NONE) return failed(partitionData.index, errorCode);
          }
          return {
            index: partitionData.index,
            errorCode: ErrorCode.NONE,
            baseOffset: BigInt(result.baseOffset),
            logAppendTimeMs: BigInt(result.logAppendTime),
            logStartOffset: BigInt(result.logStartOffset),
            recordErrors: [],
            errorMessage: null,
          };
        } catch (error) {
          if (!(error instanceof StorageError)) throw error;
          replicas.reportStorageError('produce', error);
          return failed(partitionData.index, error.kafkaErrorCode, error.message);
        }
      });
      return { name: topicData.name, partitionResponses: await Promise.all(partitionResponses) };
    });
    const response = { responses: await Promise.all(responses), throttleTimeMs: 0 };
    if (request.acks === 0) {
      // No response carries the error, so (as Kafka does) closing the connection is the signal
      // that makes the producer refresh its metadata.
      for (const topic of response.responses) {
        const failedPartition = topic.partitionResponses.find((partition) => partition.errorCode !== ErrorCode.NONE);
        if (failedPartition) {
          throw new CloseConnectionError(
            `acks=0 produce to ${topic.name}-${failedPartition.index} failed with ${errorName(failedPartition.errorCode)}`,
          );
        }
      }
    }
    return response;
  },
});
