// OffsetForLeaderEpoch: a follower (or a client after a leader change) asks the leader where
// a leader epoch ended in the leader's log, so it can drop any tail written in an epoch the
// leader never saw (KIP-101). Answered from the leader's epoch cache.
import { offsetForLeaderEpochApi } from '../protocol/apis/23-offset-for-leader-epoch.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';

export const offsetForLeaderEpochHandler = defineHandler({
  api: offsetForLeaderEpochApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => ({ errorCode, partition: partition.partition, leaderEpoch: -1, endOffset: -1n })),
    })),
  }),
  handle(request, { services: { replicas } }) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((asked) => {
          const leader = replicas.leaderFor(topic.topic, asked.partition, asked.currentLeaderEpoch);
          if (typeof leader === 'number') return { errorCode: leader, partition: asked.partition, leaderEpoch: -1, endOffset: -1n };
          const { leaderEpoch, endOffset } = leader.log.endOffsetForEpoch(asked.leaderEpoch);
          return { errorCode: ErrorCode.NONE, partition: asked.partition, leaderEpoch, endOffset: BigInt(endOffset) };
        }),
      })),
    };
  },
});
