// DescribeGroups: state, protocol and members of each group; an unknown group is "Dead" with no
// error, as in Kafka. Without ACLs every group operation a describer may ask about is allowed.
import { describeGroupsApi } from '../protocol/apis/15-describe-groups.js';
import { defineHandler } from './types.js';

/** READ (3), DELETE (6) and DESCRIBE (8): the ACL operations that apply to a group, as a bit set. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);
const OPERATIONS_NOT_REQUESTED = -2147483648;

export const describeGroupsHandler = defineHandler({
  api: describeGroupsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [] })),
  }),
  handle(request, { services: { groups } }) {
    const coordinator = groups.coordinator();
    const authorizedOperations = request.includeAuthorizedOperations ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED;
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId) => ({ ...coordinator.describeGroup(groupId), authorizedOperations })),
    };
  },
});
