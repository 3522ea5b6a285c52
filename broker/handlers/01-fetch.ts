// Fetch: whole record batches from each requested partition's leader, as stored (no re-encoding),
// bounded by the request's maxBytes and each partition's partitionMaxBytes — except that the
// first batch found is returned whole even when larger, so a consumer can always progress.
// Long poll: while fewer than minBytes are available, the request waits (up to maxWaitMs) and
// is woken by appends to the partitions it reads. Fetch sessions (v7+) are not kept: answering
// session id 0 tells the client to send full requests, which the protocol allows.
// A consumer reads below the high watermark; a follower (replicaId >= 0) reads up to the log
// end, and its fetch offset tells the leader what it has (which moves the high watermark).
import { fetchApi } from '../protocol/apis/01-fetch.js';
import { ErrorCode } from '../protocol/errors.js';
import { StorageError } from '../storage/errors.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import { defineHandler, type RequestOf, type ResponseOf } from './types.js';

type FetchRequest = RequestOf<typeof fetchApi>;
type FetchResponse = ResponseOf<typeof fetchApi>;
type PartitionResponse = FetchResponse['responses'][number]['partitions'][number];

function partitionError(partitionIndex: number, errorCode: number): PartitionResponse {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: null,
    records: null,
  };
}

interface ReadOutcome {
  response: FetchResponse;
  bytes: number;
  /** An error other than "nothing new yet" means answering now. */
  hasError: boolean;
  /** Each partition read with its append count before reading, so no append is missed while waiting. */
  watched: Map<string, number>;
}

const NO_RECORDS = Buffer.alloc(0);

async function readOnce(replicas: ReplicaManager, request: FetchRequest, follower: number | null): Promise<ReadOutcome> {
  let remaining = Math.max(0, request.maxBytes);
  let bytes = 0;
  let hasError = false;
  const watched = new Map<string, number>();
  const responses: FetchResponse['responses'] = [];
  for (const topicRequest of request.topics) {
    const partitions: PartitionResponse[] = [];
    for (const partitionRequest of topicRequest.partitions) {
      const partition = replicas.leaderFor(topicRequest.topic, partitionRequest.partition, partitionRequest.currentLeaderEpoch);
      if (typeof partition === 'number') {
        hasError = true;
        partitions.push(partitionError(partitionRequest.partition, partition));
        continue;
      }
      const log = partition.log;
      const fetchOffset = Number(partitionRequest.fetchOffset);
      if (follower !== null && fetchOffset <= log.logEndOffset) replicas.recordFollowerFetch(partition, follower, fetchOffset);
      const key = partition.key;
      watched.set(key, replicas.appendCount(key));
      const limit = Math.min(partitionRequest.partitionMaxBytes, remaining);
      let records: Buffer = NO_RECORDS;
      let errorCode: number = ErrorCode.NONE;
      try {
        records = await log.read(fetchOffset, limit, { minOneMessage: bytes === 0, maxOffset: follower === null ? partition.highWatermark : log.logEndOffset });
      } catch (error) {
        if (!(error instanceof StorageError)) throw error;
        if (error.kafkaErrorCode === ErrorCode.KAFKA_STORAGE_ERROR) replicas.reportStorageError('fetch', error);
        errorCode = error.kafkaErrorCode;
        hasError = true;
      }
      bytes += records.length;
      remaining = Math.max(0, remaining - records.length);
      if (records.length > 0) replicas.recordFetch(topicRequest.topic, records.length);
      partitions.push({
        partitionIndex: partitionRequest.partition,
        errorCode,
        highWatermark: BigInt(partition.highWatermark),
        lastStableOffset: BigInt(partition.highWatermark),
        logStartOffset: BigInt(log.logStartOffset),
        abortedTransactions: null,
        records,
      });
    }
    responses.push({ topic: topicRequest.topic, partitions });
  }
  return { response: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses }, bytes, hasError, watched };
}

export const fetchHandler = defineHandler({
  api: fetchApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: request.topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => partitionError(partition.partition, errorCode)),
    })),
  }),
  async handle(request, { services: { replicas } }) {
    // A client continuing a session we never created (epoch > 0) must start over.
    if (request.sessionId !== 0 && request.sessionEpoch > 0) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
    }
    const deadline = Date.now() + Math.max(0, request.maxWaitMs);
    const follower = request.replicaId >= 0 ? request.replicaId : null;
    for (;;) {
      const outcome = await readOnce(replicas, request, follower);
      const waitMs = deadline - Date.now();
      if (outcome.hasError || outcome.bytes >= request.minBytes || waitMs <= 0 || replicas.shuttingDown) {
        return outcome.response;
      }
      await replicas.waitForAppend(outcome.watched, waitMs);
    }
  },
});
