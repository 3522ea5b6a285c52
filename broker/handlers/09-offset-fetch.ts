// OffsetFetch: committed offsets of one group (v0-7; null topics = all, v2+) or of several
// groups (v8). Partitions without a commit answer offset -1 and no error, as in Kafka. Before
// v2 there is no top-level error field, so a group-level error is repeated on every partition.
import type { OffsetFetchResult } from '../coordinator/group-coordinator.js';
import { offsetFetchApi } from '../protocol/apis/09-offset-fetch.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, type RequestOf } from './types.js';

type Request = RequestOf<typeof offsetFetchApi>;
type WantedTopics = { name: string; partitionIndexes: number[] }[] | null;

function partitionsWithError(topics: WantedTopics, errorCode: number): OffsetFetchResult['topics'] {
  return (topics ?? []).map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({
      partitionIndex,
      committedOffset: -1n,
      committedLeaderEpoch: -1,
      metadata: '',
      errorCode,
    })),
  }));
}

function singleGroup(request: Request, version: number, result: OffsetFetchResult) {
  const topics =
    result.errorCode !== ErrorCode.NONE && version < 2 ? partitionsWithError(request.topics, result.errorCode) : result.topics;
  return { throttleTimeMs: 0, errorCode: result.errorCode, topics, groups: [] };
}

export const offsetFetchHandler = defineHandler({
  api: offsetFetchApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    topics: partitionsWithError(request.topics, errorCode),
    groups: request.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode })),
  }),
  handle(request, { services, apiVersion }) {
    const groups = services.groups.coordinator();
    if (apiVersion < 8) return singleGroup(request, apiVersion, groups.fetchOffsets(request.groupId, request.topics));
    return {
      throttleTimeMs: 0,
      topics: [],
      groups: request.groups.map((g) => {
        const result = groups.fetchOffsets(g.groupId, g.topics);
        return { groupId: g.groupId, errorCode: result.errorCode, topics: result.topics };
      }),
    };
  },
});
