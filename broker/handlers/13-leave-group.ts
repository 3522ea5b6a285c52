// LeaveGroup: one member (v0-2) or a batch of members, by member id or group.instance.id (v3+).
// Before v3 the response has only the top-level code, which then carries the member's error.
import { leaveGroupApi } from '../protocol/apis/13-leave-group.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';

export const leaveGroupHandler = defineHandler({
  api: leaveGroupApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    members: request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode })),
  }),
  handle(request, { services: { groups }, apiVersion }) {
    const batched = apiVersion >= 3;
    const leaving = batched
      ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
      : [{ memberId: request.memberId, groupInstanceId: null }];
    const result = groups.coordinator().leaveGroup(request.groupId, leaving);
    const memberError = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
    return {
      throttleTimeMs: 0,
      errorCode: !batched && result.errorCode === ErrorCode.NONE ? memberError : result.errorCode,
      members: result.members,
    };
  },
});
