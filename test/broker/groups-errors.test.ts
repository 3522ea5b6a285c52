// The group protocol driven by hand over the wire against a real broker process: a full member
// life cycle with every bad request a client can make along the way (unknown member, stale
// generation, malformed assignment, truncated frame, deleting a live group) answered with
// Kafka's error code — and the group's state and offsets still right afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetCommitApi } from '../../broker/protocol/apis/08-offset-commit.js';
import { offsetFetchApi } from '../../broker/protocol/apis/09-offset-fetch.js';
import { findCoordinatorApi } from '../../broker/protocol/apis/10-find-coordinator.js';
import { joinGroupApi } from '../../broker/protocol/apis/11-join-group.js';
import { heartbeatApi } from '../../broker/protocol/apis/12-heartbeat.js';
import { leaveGroupApi } from '../../broker/protocol/apis/13-leave-group.js';
import { syncGroupApi } from '../../broker/protocol/apis/14-sync-group.js';
import { describeGroupsApi } from '../../broker/protocol/apis/15-describe-groups.js';
import { listGroupsApi } from '../../broker/protocol/apis/16-list-groups.js';
import { deleteGroupsApi } from '../../broker/protocol/apis/42-delete-groups.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { kafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';
import { consumerAssignment } from '../support/consumer-protocol.js';

const GROUP = 'wire-group';
const TOPIC = 'wire-topic';

let broker: BrokerProcess;
let client: WireClient;

beforeAll(async () => {
  broker = await startBroker();
  await withAdmin(kafkaClient(broker.bootstrap), (admin) => admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }] }));
  client = await WireClient.connect(broker.port);
});

afterAll(async () => {
  client?.destroy();
  await broker?.dispose();
});

const assignment = (partitions: number[]): Buffer => consumerAssignment(TOPIC, partitions);

function commit(memberId: string, generationId: number, topic: string, offset: bigint) {
  return client.request(offsetCommitApi, 7, {
    groupId: GROUP,
    generationIdOrMemberEpoch: generationId,
    memberId,
    groupInstanceId: null,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'meta' }] }],
  });
}

async function committedOffset(): Promise<bigint> {
  const response = await client.request(offsetFetchApi, 7, { groupId: GROUP, topics: [{ name: TOPIC, partitionIndexes: [0] }], requireStable: false });
  expect(response.errorCode).toBe(ErrorCode.NONE);
  return response.topics[0]!.partitions[0]!.committedOffset;
}

describe('group protocol over the wire', () => {
  it('answers every bad request with the right error and keeps the group and its offsets intact', async () => {
    const coordinator = await client.request(findCoordinatorApi, 2, { key: GROUP, keyType: 0 });
    expect(coordinator).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 0, port: broker.port });
    expect((await client.request(findCoordinatorApi, 2, { key: GROUP, keyType: 7 })).errorCode).toBe(ErrorCode.INVALID_REQUEST);

    const joinRequest = {
      groupId: GROUP,
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 30_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1, 0, TOPIC.length, ...Buffer.from(TOPIC), 0, 0, 0, 0]) }],
    };
    const first = await client.request(joinGroupApi, 5, joinRequest);
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const joined = await client.request(joinGroupApi, 5, { ...joinRequest, memberId: first.memberId });
    expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: first.memberId, protocolName: 'range' });
    const memberId = joined.memberId;

    // A commit before SyncGroup: the member has no assignment yet.
    expect((await commit(memberId, 1, TOPIC, 1n)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);

    // Malformed leader assignments: refused, nothing stored, the group still waits for a good one.
    const sync = (assignments: { memberId: string; assignment: Buffer }[]) =>
      client.request(syncGroupApi, 3, { groupId: GROUP, generationId: 1, memberId, groupInstanceId: null, assignments });
    expect((await sync([{ memberId, assignment: assignment([0, 1]).subarray(0, 11) }])).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect((await sync([{ memberId, assignment: assignment([0]) }, { memberId, assignment: assignment([1]) }])).errorCode).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    // A frame whose body is cut short closes that connection only.
    client.sendTruncated(syncGroupApi, 3, { groupId: GROUP, generationId: 1, memberId, groupInstanceId: null, assignments: [{ memberId, assignment: assignment([0, 1]) }] }, 7);
    expect(await client.next()).toEqual({ kind: 'closed' });
    client = await WireClient.connect(broker.port);
    const described = await client.request(describeGroupsApi, 5, { groups: [GROUP], includeAuthorizedOperations: false });
    expect(described.groups[0]).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'CompletingRebalance' });

    const synced = await sync([{ memberId, assignment: assignment([0, 1]) }]);
    expect(synced).toMatchObject({ errorCode: ErrorCode.NONE, assignment: assignment([0, 1]) });

    // Fencing: stale generation, unknown member.
    const heartbeat = (generationId: number, member: string) =>
      client.request(heartbeatApi, 3, { groupId: GROUP, generationId, memberId: member, groupInstanceId: null });
    expect((await heartbeat(0, memberId)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await heartbeat(1, 'no-such-member')).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await heartbeat(1, memberId)).errorCode).toBe(ErrorCode.NONE);

    expect((await commit(memberId, 1, TOPIC, 10n)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect((await commit('no-such-member', 1, TOPIC, 99n)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await commit(memberId, 0, TOPIC, 99n)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await commit(memberId, 1, 'no-such-topic', 99n)).topics[0]!.partitions[0]!.errorCode).toBe(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    expect(await committedOffset()).toBe(10n);
    expect((await commit(memberId, 1, TOPIC, 11n)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(await committedOffset()).toBe(11n);

    const multi = await client.request(offsetFetchApi, 8, {
      groups: [
        { groupId: GROUP, topics: null },
        { groupId: 'never-used', topics: [{ name: TOPIC, partitionIndexes: [1] }] },
      ],
      requireStable: false,
    });
    expect(multi.groups.map((g) => [g.groupId, g.errorCode, g.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.committedOffset, p.metadata]))])).toEqual([
      [GROUP, ErrorCode.NONE, [[TOPIC, 0, 11n, 'meta']]],
      ['never-used', ErrorCode.NONE, [[TOPIC, 1, -1n, '']]],
    ]);

    const stable = await client.request(describeGroupsApi, 5, { groups: [GROUP, 'never-used'], includeAuthorizedOperations: false });
    expect(stable.groups.map((g) => [g.groupId, g.groupState, g.protocolData, g.members.map((m) => m.memberAssignment)])).toEqual([
      [GROUP, 'Stable', 'range', [assignment([0, 1])]],
      ['never-used', 'Dead', '', []],
    ]);
    const listed = await client.request(listGroupsApi, 4, { statesFilter: ['Stable'] });
    expect(listed.groups).toEqual([{ groupId: GROUP, protocolType: 'consumer', groupState: 'Stable' }]);

    // A group with a member cannot be deleted; once the member left, it can, offsets and all.
    expect((await client.request(deleteGroupsApi, 2, { groupsNames: [GROUP] })).results).toEqual([{ groupId: GROUP, errorCode: ErrorCode.NON_EMPTY_GROUP }]);
    const left = await client.request(leaveGroupApi, 4, {
      groupId: GROUP,
      members: [
        { memberId, groupInstanceId: null },
        { memberId: 'no-such-member', groupInstanceId: null },
      ],
    });
    expect(left.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    expect((await heartbeat(1, memberId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await committedOffset()).toBe(11n);
    expect((await client.request(deleteGroupsApi, 2, { groupsNames: [GROUP, 'never-used'] })).results).toEqual([
      { groupId: GROUP, errorCode: ErrorCode.NONE },
      { groupId: 'never-used', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);
    expect(await committedOffset()).toBe(-1n);

    // The deletion is durable: after a restart the group and its offsets are still gone.
    client.destroy();
    await broker.stop();
    await broker.restart();
    client = await WireClient.connect(broker.port);
    expect((await client.request(findCoordinatorApi, 2, { key: GROUP, keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
    expect(await committedOffset()).toBe(-1n);
    expect((await client.request(listGroupsApi, 4, { statesFilter: [] })).groups).toEqual([]);
  });
});
