// OffsetCommit: committed offsets are written to `__consumer_offsets` before the answer, after
// the group coordinator's membership and generation checks (generation -1 commits without
// membership, as simple consumers and admin tools do).
import { offsetCommitApi } from '../protocol/apis/08-offset-commit.js';
import { defineHandler } from './types.js';

export const offsetCommitHandler = defineHandler({
  api: offsetCommitApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
    })),
  }),
  async handle(request, { services: { groups } }) {
    const topics = await groups.coordinator().commitOffsets({
      groupId: request.groupId,
      generationId: request.generationIdOrMemberEpoch,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          committedOffset: p.committedOffset,
          committedLeaderEpoch: p.committedLeaderEpoch,
          committedMetadata: p.committedMetadata,
          commitTimestamp: Number(p.commitTimestamp),
        })),
      })),
    });
    return { throttleTimeMs: 0, topics };
  },
});
