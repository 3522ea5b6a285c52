// ListGroups: the groups this broker coordinates (those of the `__consumer_offsets` partitions it
// leads; admin clients ask every broker), optionally filtered by state (v4+).
import { listGroupsApi } from '../protocol/apis/16-list-groups.js';
import { defineHandler } from './types.js';

export const listGroupsHandler = defineHandler({
  api: listGroupsApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, groups: [] }),
  handle(request, { services }) {
    const { errorCode, groups } = services.groups.coordinator().listGroups(request.statesFilter);
    return { throttleTimeMs: 0, errorCode, groups };
  },
});
