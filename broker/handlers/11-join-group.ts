// JoinGroup: parks the request in the group coordinator until the rebalance completes (the
// promise resolves then), like Kafka's delayed join. v4+ dynamic members first get
// MEMBER_ID_REQUIRED with their new member id.
import type { JoinResult } from '../coordinator/group.js';
import { joinGroupApi } from '../protocol/apis/11-join-group.js';
import { defineHandler, type ResponseOf } from './types.js';

/** Kafka's client host form: "/" and the address the member connected from. */
function clientHostOf(remote: string): string {
  const at = remote.lastIndexOf(':');
  const host = at > 0 ? remote.slice(0, at) : remote;
  return `/${host.replace(/^\[|\]$/g, '')}`;
}

function toResponse(result: JoinResult, version: number): ResponseOf<typeof joinGroupApi> {
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    // Before v7 the protocol name is not nullable: "no protocol" travels as "".
    protocolName: version >= 7 ? result.protocolName : (result.protocolName ?? ''),
    leader: result.leaderId,
    skipAssignment: false,
    memberId: result.memberId,
    members: result.members,
  };
}

export const joinGroupHandler = defineHandler({
  api: joinGroupApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: '',
    leader: '',
    memberId: request.memberId,
    members: [],
  }),
  async handle(request, { services: { groups }, apiVersion, clientId, connection }) {
    const result = await groups.coordinator().joinGroup({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      requireKnownMemberId: apiVersion >= 4,
      clientId: clientId ?? '',
      clientHost: clientHostOf(connection.remote),
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout: Kafka uses the session timeout.
      rebalanceTimeoutMs: apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
    });
    return toResponse(result, apiVersion);
  },
});
