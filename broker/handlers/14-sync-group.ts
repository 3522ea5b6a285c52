// SyncGroup: the leader hands in the assignment (stored in `__consumer_offsets` before anyone is
// answered); followers wait for it. A malformed leader assignment gets INVALID_REQUEST and
// nothing is stored.
import { syncGroupApi } from '../protocol/apis/14-sync-group.js';
import { defineHandler } from './types.js';

export const syncGroupHandler = defineHandler({
  api: syncGroupApi,
  errorResponse: (_request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    protocolType: null,
    protocolName: null,
    assignment: Buffer.alloc(0),
  }),
  async handle(request, { services: { groups } }) {
    const result = await groups.coordinator().syncGroup({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      protocolType: request.protocolType,
      protocolName: request.protocolName,
      // Copies: the request frame's buffer is reused once the request is answered.
      assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
    });
    return { throttleTimeMs: 0, ...result };
  },
});
