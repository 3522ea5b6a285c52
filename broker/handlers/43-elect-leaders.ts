// ElectLeaders: an admin asks for partition leadership to move, to the preferred replica
// (e.g. after a rolling restart with auto.leader.rebalance.enable off) or, unclean, to any live
// replica of a partition whose whole ISR is gone. Any broker takes it: the election runs on the
// active controller (MetadataService.electLeaders), and each partition is answered with why it
// did or did not move.
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import type { ElectionType, PartitionRef } from '../controller/cluster/partition-decisions.js';
import { ControllerUnavailableError } from '../controller/controller-channel.js';
import { electLeadersApi } from '../protocol/apis/43-elect-leaders.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { defineHandler, type RequestOf, type ResponseOf } from './types.js';

type TopicAnswer = ResponseOf<typeof electLeadersApi>['replicaElectionResults'][number];

const electionTypes: Readonly<Record<number, ElectionType>> = { 0: 'preferred', 1: 'unclean' };

function everyPartitionAnswered(request: RequestOf<typeof electLeadersApi>, errorCode: number, errorMessage: string | null): TopicAnswer[] {
  return (request.topicPartitions ?? []).map(({ topic, partitions }) => ({
    topic,
    partitionResult: partitions.map((partitionId) => ({ partitionId, errorCode, errorMessage })),
  }));
}

export const electLeadersHandler = defineHandler({
  api: electLeadersApi,
  errorResponse: (request, errorCode) => ({ errorCode, replicaElectionResults: everyPartitionAnswered(request, errorCode, null) }),
  async handle(request, { services: { metadata } }) {
    const type = electionTypes[request.electionType];
    if (type === undefined) {
      const message = `election type ${request.electionType} is unknown: 0 is preferred, 1 unclean`;
      return { errorCode: ErrorCode.INVALID_REQUEST, replicaElectionResults: everyPartitionAnswered(request, ErrorCode.INVALID_REQUEST, message) };
    }
    const partitions: PartitionRef[] | null = request.topicPartitions
      ? request.topicPartitions.flatMap(({ topic, partitions: indexes }) => indexes.map((partitionIndex) => ({ topic, partitionIndex })))
      : null;
    let results;
    try {
      results = await metadata.electLeaders(type, partitions);
    } catch (error) {
      if (error instanceof ControllerUnavailableError || error instanceof ControllerDecisionError) {
        return { errorCode: error.errorCode, replicaElectionResults: everyPartitionAnswered(request, error.errorCode, error.message) };
      }
      throw error;
    }
    // Asked about every partition, the client hears only of those an election concerned
    // (Kafka's answer too), not of the many already led as asked.
    const reported = partitions === null ? results.filter((result) => result.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) : results;
    const byTopic = new Map<string, TopicAnswer['partitionResult']>();
    for (const result of reported) {
      let answers = byTopic.get(result.topic);
      if (!answers) byTopic.set(result.topic, (answers = []));
      answers.push({
        partitionId: result.partitionIndex,
        errorCode: result.errorCode,
        errorMessage: result.message ?? (result.errorCode === ErrorCode.NONE ? null : errorName(result.errorCode)),
      });
    }
    return { errorCode: ErrorCode.NONE, replicaElectionResults: [...byTopic].map(([topic, partitionResult]) => ({ topic, partitionResult })) };
  },
});
