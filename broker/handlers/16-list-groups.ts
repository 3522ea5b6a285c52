// ListGroups: every group the coordinator holds, optionally filtered by state (v4+).
import { coordinatorServices } from '../coordinator/service.js';
import { listGroupsApi } from '../protocol/apis/16-list-groups.js';
import { defineHandler } from './types.js';

export const listGroupsHandler = defineHandler({
  api: listGroupsApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, groups: [] }),
  handle(request, { broker }) {
    const { errorCode, groups } = coordinatorServices(broker).groups.listGroups(request.statesFilter);
    return { throttleTimeMs: 0, errorCode, groups };
  },
});
