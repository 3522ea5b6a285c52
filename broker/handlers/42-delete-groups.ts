// DeleteGroups: removes empty groups and their committed offsets (tombstones in
// `__consumer_offsets`); a group with members answers NON_EMPTY_GROUP.
import { deleteGroupsApi } from '../protocol/apis/42-delete-groups.js';
import { defineHandler } from './types.js';

export const deleteGroupsHandler = defineHandler({
  api: deleteGroupsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    results: request.groupsNames.map((groupId) => ({ groupId, errorCode })),
  }),
  async handle(request, { services: { groups } }) {
    const results = await groups.coordinator().deleteGroups(request.groupsNames);
    return { throttleTimeMs: 0, results };
  },
});
