// FindCoordinator: a single node coordinates every group and transactional id, so the answer is
// this broker — for groups once `__consumer_offsets` exists and is loaded (it is created by the
// first request, as Kafka does). v4 answers a batch of keys.
import { findCoordinatorApi } from '../protocol/apis/10-find-coordinator.js';
import { ErrorCode } from '../protocol/errors.js';
import type { GroupService } from '../coordinator/group-service.js';
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

/** How long a FindCoordinator waits for the group state to load before answering anyway. */
const LOAD_WAIT_MS = 5_000;

async function locate(keyType: number, { services: { metadata, groups }, connection }: RequestContext): Promise<Answer> {
  if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) {
    return failure(ErrorCode.INVALID_REQUEST, `unknown coordinator key type ${keyType}`);
  }
  if (keyType === KEY_TYPE_GROUP && !(await groupStateUsable(groups))) {
    return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the group coordinator could not load its state');
  }
  const { host, port } = metadata.advertisedAddress(connection.listener);
  return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: metadata.nodeId, host, port };
}

/**
 * False when loading `__consumer_offsets` failed. A long load answers after LOAD_WAIT_MS with
 * this node all the same: group requests then get COORDINATOR_LOAD_IN_PROGRESS, as from Kafka.
 */
async function groupStateUsable(groups: GroupService): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stillLoading = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), LOAD_WAIT_MS);
  });
  const loaded = groups
    .ensureLoaded()
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([loaded, stillLoading]);
  } finally {
    clearTimeout(timer);
  }
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
    // Every key is answered by this node, so one lookup serves the whole batch.
    const answer = await locate(request.keyType, context);
    return respond(context.apiVersion, keys, keys.map(() => answer));
  },
});
