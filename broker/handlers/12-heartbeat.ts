// Heartbeat: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
import { heartbeatApi } from '../protocol/apis/12-heartbeat.js';
import { defineHandler } from './types.js';

export const heartbeatHandler = defineHandler({
  api: heartbeatApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode }),
  handle: (request, { services: { groups } }) => ({
    throttleTimeMs: 0,
    errorCode: groups.coordinator().heartbeat({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
    }),
  }),
});
