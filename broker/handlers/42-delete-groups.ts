// DeleteGroups: removes empty groups and their committed offsets (tombstones in
// `__consumer_offsets`); a group with members answers NON_EMPTY_GROUP.
import { coordinatorServices } from '../coordinator/service.js';
import { deleteGroupsApi } from '../protocol/apis/42-delete-groups.js';
import { defineHandler } from './types.js';

export const deleteGroupsHandler = defineHandler({
  api: deleteGroupsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    results: request.groupsNames.map((groupId) => ({ groupId, errorCode })),
  }),
  async handle(request, { broker }) {
    const results = await coordinatorServices(broker).groups.deleteGroups(request.groupsNames);
    return { throttleTimeMs: 0, results };
  },
});
