// FindCoordinator: a group's coordinator is the current leader of its partition of
// `__consumer_offsets` (hash(group id) mod N, as in Kafka), answered with that broker's address
// on the listener the client came in on; the topic is created by the first request, as Kafka
// does. A partition without a leader answers COORDINATOR_NOT_AVAILABLE. Transactional ids are
// coordinated by the broker asked. v4 answers a batch of keys.
import { NO_LEADER } from '../controller/cluster/records.js';
import type { GroupService } from '../coordinator/group-service.js';
import { offsetsPartitionFor } from '../coordinator/offsets-records.js';
import { OFFSETS_TOPIC } from '../coordinator/offsets-topic.js';
import { describeError } from '../log.js';
import { findCoordinatorApi } from '../protocol/apis/10-find-coordinator.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler, type RequestContext, type ResponseOf } from './types.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

type Response = ResponseOf<typeof findCoordinatorApi>;

interface Answer {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

function failure(errorCode: number, errorMessage: string | null): Answer {
  return { errorCode, errorMessage, nodeId: -1, host: '', port: -1 };
}

/** How long a FindCoordinator waits for this broker to load a group's partition before answering anyway. */
const LOAD_WAIT_MS = 5_000;

async function locateGroups(keys: readonly string[], context: RequestContext): Promise<Answer[]> {
  const { metadata, groups } = context.services;
  let partitionCount: number;
  try {
    partitionCount = (await groups.offsetsTopicState()).partitions.length;
  } catch (error) {
    return keys.map(() => failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, describeError(error)));
  }
  return Promise.all(
    keys.map(async (key) => {
      const partition = offsetsPartitionFor(key, partitionCount);
      // The image may have moved on while the topic was being created or a load awaited.
      const leader = metadata.image.topic(OFFSETS_TOPIC)?.partitions[partition]?.leader ?? NO_LEADER;
      if (leader === NO_LEADER) {
        return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, `partition ${partition} of ${OFFSETS_TOPIC} has no leader`);
      }
      if (leader === metadata.nodeId && !(await loadedOrStillLoading(groups, partition))) {
        // Loading failed (it is being retried) or this broker has not yet taken up the leadership.
        return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, `broker ${leader} has not loaded the groups of ${OFFSETS_TOPIC} partition ${partition}; try again`);
      }
      const endpoint = metadata.image.endpoint(leader, context.connection.listener);
      if (!endpoint) {
        return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, `broker ${leader}, leader of ${OFFSETS_TOPIC} partition ${partition}, has no listener ${context.connection.listener}`);
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: leader, host: endpoint.host, port: endpoint.port };
    }),
  );
}

/**
 * False when loading the partition failed (the call starts it again). A long load answers after
 * LOAD_WAIT_MS with this node all the same: group requests then get COORDINATOR_LOAD_IN_PROGRESS,
 * as from Kafka.
 */
async function loadedOrStillLoading(groups: GroupService, partition: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stillLoading = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), LOAD_WAIT_MS);
  });
  try {
    return await Promise.race([groups.whenLoaded(partition), stillLoading]);
  } finally {
    clearTimeout(timer);
  }
}

function locateTransactionCoordinator({ services: { metadata }, connection }: RequestContext): Answer {
  const { host, port } = metadata.advertisedAddress(connection.listener);
  return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: metadata.nodeId, host, port };
}

function respond(version: number, keys: string[], answers: Answer[]): Response {
  if (version >= 4) {
    return { throttleTimeMs: 0, coordinators: keys.map((key, i) => ({ key, ...answers[i]! })) };
  }
  return { throttleTimeMs: 0, ...answers[0]!, coordinators: [] };
}

export const findCoordinatorHandler = defineHandler({
  api: findCoordinatorApi,
  errorResponse: (request, errorCode) => {
    const keys = request.coordinatorKeys.length > 0 ? request.coordinatorKeys : [request.key];
    return {
      throttleTimeMs: 0,
      ...failure(errorCode, null),
      coordinators: keys.map((key) => ({ key, ...failure(errorCode, null) })),
    };
  },
  async handle(request, context) {
    const keys = context.apiVersion >= 4 ? request.coordinatorKeys : [request.key];
    switch (request.keyType) {
      case KEY_TYPE_GROUP:
        return respond(context.apiVersion, keys, await locateGroups(keys, context));
      case KEY_TYPE_TRANSACTION: {
        const answer = locateTransactionCoordinator(context);
        return respond(context.apiVersion, keys, keys.map(() => answer));
      }
      default: {
        const answer = failure(ErrorCode.INVALID_REQUEST, `unknown coordinator key type ${request.keyType}`);
        return respond(context.apiVersion, keys, keys.map(() => answer));
      }
    }
  },
});
