// DescribeQuorum: the metadata quorum's leader, epoch (the Raft term), high watermark (the
// commit index) and how far each voter has replicated, as `kafka-metadata-quorum.sh describe
// --status` shows it. Only the quorum leader knows the other voters' progress, so, as in KRaft,
// any other node answers NOT_LEADER_OR_FOLLOWER and the client asks again elsewhere.
import { describeQuorumApi } from '../protocol/apis/55-describe-quorum.js';
import { ZERO_UUID } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, type ResponseOf } from './types.js';

const metadataTopic = '__cluster_metadata';
const metadataPartition = 0;

type PartitionAnswer = ResponseOf<typeof describeQuorumApi>['topics'][number]['partitions'][number];

function partitionError(errorCode: number, errorMessage: string): PartitionAnswer {
  return { partitionIndex: metadataPartition, errorCode, errorMessage, leaderId: -1, leaderEpoch: -1, highWatermark: -1n, currentVoters: [], observers: [] };
}

export const describeQuorumHandler = defineHandler({
  api: describeQuorumApi,
  errorResponse: (_request, errorCode) => ({ errorCode, topics: [], nodes: [] }),
  handle(request, { services: { controller } }) {
    const asked = request.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.topicName, partition: partition.partitionIndex })));
    const only = asked[0];
    if (asked.length !== 1 || only?.topic !== metadataTopic || only.partition !== metadataPartition) {
      return {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: `DescribeQuorum describes exactly one partition, ${metadataTopic}-${metadataPartition}; the request named ${asked.map((p) => `${p.topic}-${p.partition}`).join(', ') || 'none'}`,
        topics: [],
        nodes: [],
      };
    }
    const status = controller.quorumStatus();
    const answer = (partition: PartitionAnswer) => ({ errorCode: ErrorCode.NONE, topics: [{ topicName: metadataTopic, partitions: [partition] }], nodes: [] });
    if (status.role !== 'leader') {
      const leader = status.leader === null ? 'no leader is elected yet' : `node ${status.leader} leads`;
      return answer(partitionError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `node ${status.nodeId} does not lead the metadata quorum (${leader}); ask the leader`));
    }
    const ownLogEnd = status.voters.find((voter) => voter.id === status.nodeId)?.logEnd ?? null;
    return answer({
      partitionIndex: metadataPartition,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      leaderId: status.nodeId,
      leaderEpoch: status.term,
      highWatermark: BigInt(status.commitIndex),
      currentVoters: status.voters.map((voter) => ({
        replicaId: voter.id,
        replicaDirectoryId: ZERO_UUID,
        logEndOffset: voter.logEnd === null ? -1n : BigInt(voter.logEnd),
        lastFetchTimestamp: voter.lastContact === null ? -1n : BigInt(voter.lastContact),
        // The leader learns a voter's log end when the voter answers it, so a voter that had
        // the leader's whole log at its last answer was caught up then.
        lastCaughtUpTimestamp:
          voter.lastContact !== null && voter.logEnd !== null && ownLogEnd !== null && voter.logEnd >= ownLogEnd ? BigInt(voter.lastContact) : -1n,
      })),
      observers: [],
    });
  },
});
