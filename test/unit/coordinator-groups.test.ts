import { beforeEach, describe, expect, it } from 'vitest';
import type { CancelTimer, Clock } from '../../broker/coordinator/clock.js';
import {
  GroupCoordinator,
  defaultGroupCoordinatorConfig,
  type GroupLog,
  type JoinGroupParams,
} from '../../broker/coordinator/group-coordinator.js';
import type { JoinResult } from '../../broker/coordinator/group.js';
import { decodeCoordinatorRecord, type EncodedRecord } from '../../broker/coordinator/offsets-records.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { consumerAssignment } from '../support/consumer-protocol.js';

/** Time that moves only when the test says so; due timers run in deadline order. */
class ManualClock implements Clock {
  private time = 1_000_000;
  private timers: { due: number; seq: number; task: () => void }[] = [];
  private seq = 0;

  now(): number {
    return this.time;
  }

  schedule(delayMs: number, task: () => void): CancelTimer {
    const timer = { due: this.time + delayMs, seq: this.seq++, task };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = next.due;
      next.task();
    }
    this.time = end;
  }
}

/** A GroupLog that keeps what it was given, and can be told to fail like a full disk. */
class MemoryGroupLog implements GroupLog {
  readonly appended: { partition: number; record: EncodedRecord }[] = [];
  failWith: number | null = null;

  append(partition: number, _leaderEpoch: number, records: readonly EncodedRecord[]): Promise<void> {
    if (this.failWith !== null) {
      return Promise.reject(Object.assign(new Error('disk full'), { kafkaErrorCode: this.failWith }));
    }
    for (const record of records) this.appended.push({ partition, record });
    return Promise.resolve();
  }
}

const SESSION = 10_000;
const REBALANCE = 30_000;
const DELAY = defaultGroupCoordinatorConfig.initialRebalanceDelayMs;
const topicsThatExist = new Set(['orders', 'payments']);

let clock: ManualClock;
let log: MemoryGroupLog;
let warnings: string[];
let coordinator: GroupCoordinator;

function makeCoordinator(): GroupCoordinator {
  const c = new GroupCoordinator(
    log,
    { partitionExists: (topic, partition) => topicsThatExist.has(topic) && partition >= 0 && partition < 6 },
    clock,
    { warn: (message) => warnings.push(message) },
  );
  return c;
}

beforeEach(() => {
  clock = new ManualClock();
  log = new MemoryGroupLog();
  warnings = [];
  coordinator = makeCoordinator();
  loadEveryPartition(coordinator);
});

/** Loads every offsets partition as its leader would, replaying what was appended to it. */
function loadEveryPartition(c: GroupCoordinator, appended: readonly { partition: number; record: EncodedRecord }[] = []): void {
  for (let partition = 0; partition < c.config.offsetsTopicPartitions; partition++) {
    const load = c.loadPartition(partition, 0)!;
    for (const a of appended) if (a.partition === partition) load.replay(decodeCoordinatorRecord(a.record.key, a.record.value));
    expect(load.finish()).toBe(true);
  }
}

const consumerProtocol = (metadata = 'sub') => [{ name: 'range', metadata: Buffer.from(metadata) }];

function joinParams(overrides: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    requireKnownMemberId: false,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    protocolType: 'consumer',
    protocols: consumerProtocol(),
    ...overrides,
  };
}

/** Tracks whether a parked request has been answered yet. */
function track<T>(promise: Promise<T>): { settled: () => boolean; result: Promise<T> } {
  let done = false;
  void promise.then(() => (done = true));
  return { settled: () => done, result: promise };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));


/** Commits one offset outside group membership (generation -1), as a simple consumer or admin tool does. */
const commit = (groupId: string, topic: string, partitionIndex: number, offset: bigint, metadata: string | null = null) =>
  coordinator.commitOffsets({
    groupId,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: topic, partitions: [{ partitionIndex, committedOffset: offset, committedLeaderEpoch: 4, committedMetadata: metadata, commitTimestamp: -1 }] }],
  });

/** Brings one member into a stable generation and returns its join result. */
async function stableSingleMember(groupId = 'g'): Promise<JoinResult> {
  const join = coordinator.joinGroup(joinParams({ groupId }));
  clock.advance(DELAY);
  const joined = await join;
  const sync = await coordinator.syncGroup({
    groupId,
    generationId: joined.generationId,
    memberId: joined.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: joined.memberId, assignment: consumerAssignment('orders', [0, 1]) }],
  });
  expect(sync.errorCode).toBe(ErrorCode.NONE);
  return joined;
}

describe('group coordinator: join and sync', () => {
  it('asks a v4+ dynamic member for a member id first, then completes the join after the initial delay', async () => {
    const first = await coordinator.joinGroup(joinParams({ requireKnownMemberId: true }));
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^client-/);
    expect(coordinator.groupState('g')).toBe('Empty');

    const join = track(coordinator.joinGroup(joinParams({ memberId: first.memberId, requireKnownMemberId: true })));
    await flush();
    expect(join.settled()).toBe(false);
    expect(coordinator.groupState('g')).toBe('PreparingRebalance');
    clock.advance(DELAY);
    const joined = await join.result;
    expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leaderId: first.memberId, protocolName: 'range' });
    expect(joined.members.map((m) => m.memberId)).toEqual([first.memberId]);
    expect(coordinator.groupState('g')).toBe('CompletingRebalance');
  });

  it('gives the leader every member, distributes its assignment and becomes Stable', async () => {
    const a = track(coordinator.joinGroup(joinParams({ clientId: 'a' })));
    clock.advance(1_000);
    const b = track(coordinator.joinGroup(joinParams({ clientId: 'b', protocols: consumerProtocol('sub-b') })));
    clock.advance(DELAY); // a new member arrived during the delay: it is extended once
    await flush();
    expect(a.settled()).toBe(false);
    clock.advance(DELAY);
    const [ja, jb] = await Promise.all([a.result, b.result]);
    expect(ja.generationId).toBe(1);
    expect(jb.generationId).toBe(1);
    expect(ja.leaderId).toBe(ja.memberId);
    expect(ja.members.map((m) => [m.memberId, m.metadata.toString()])).toEqual([
      [ja.memberId, 'sub'],
      [jb.memberId, 'sub-b'],
    ]);
    expect(jb.members).toEqual([]);

    const followerSync = track(
      coordinator.syncGroup({
        groupId: 'g',
        generationId: 1,
        memberId: jb.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [],
      }),
    );
    await flush();
    expect(followerSync.settled()).toBe(false);
    const leaderSync = await coordinator.syncGroup({
      groupId: 'g',
      generationId: 1,
      memberId: ja.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [
        { memberId: ja.memberId, assignment: consumerAssignment('orders', [0, 1, 2]) },
        { memberId: jb.memberId, assignment: consumerAssignment('orders', [3, 4, 5]) },
      ],
    });
    expect(leaderSync.assignment).toEqual(consumerAssignment('orders', [0, 1, 2]));
    expect((await followerSync.result).assignment).toEqual(consumerAssignment('orders', [3, 4, 5]));
    expect(coordinator.groupState('g')).toBe('Stable');

    const stored = log.appended.map((a) => decodeCoordinatorRecord(a.record.key, a.record.value));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ type: 'group', groupId: 'g', value: { generationId: 1, leaderId: ja.memberId } });
  });

  it('rebalances a stable group when a member joins; known members rejoin and the generation advances', async () => {
    const first = await stableSingleMember();
    const newcomer = track(coordinator.joinGroup(joinParams({ clientId: 'late' })));
    expect(coordinator.groupState('g')).toBe('PreparingRebalance');
    const hb = coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null });
    expect(hb).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // Commits stay allowed while the rebalance is being prepared.
    const commit = await coordinator.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: first.memberId,
      groupInstanceId: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: null, commitTimestamp: -1 }] }],
    });
    expect(commit[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);

    const rejoin = await coordinator.joinGroup(joinParams({ memberId: first.memberId }));
    expect(rejoin.generationId).toBe(2);
    const late = await newcomer.result;
    expect(late.generationId).toBe(2);
    expect(rejoin.leaderId).toBe(first.memberId);
    expect(rejoin.members).toHaveLength(2);
  });

  it('answers a follower that rejoins a stable group with unchanged metadata without a rebalance', async () => {
    const a = coordinator.joinGroup(joinParams({ clientId: 'a' }));
    const b = coordinator.joinGroup(joinParams({ clientId: 'b' }));
    clock.advance(DELAY * 2); // b arrived during the initial delay, which extends it once
    const [ja, jb] = await Promise.all([a, b]);
    const followerSync = coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: jb.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: ja.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await followerSync;
    const again = await coordinator.joinGroup(joinParams({ memberId: jb.memberId, clientId: 'b' }));
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, members: [] });
    expect(coordinator.groupState('g')).toBe('Stable');
  });

  it('selects the protocol all members support, by vote, and refuses a member with none in common', async () => {
    const a = coordinator.joinGroup(
      joinParams({ clientId: 'a', protocols: [{ name: 'roundrobin', metadata: Buffer.from('x') }, { name: 'range', metadata: Buffer.from('x') }] }),
    );
    const b = coordinator.joinGroup(
      joinParams({ clientId: 'b', protocols: [{ name: 'range', metadata: Buffer.from('y') }, { name: 'roundrobin', metadata: Buffer.from('y') }] }),
    );
    const c = coordinator.joinGroup(joinParams({ clientId: 'c', protocols: [{ name: 'range', metadata: Buffer.from('z') }] }));
    const odd = await coordinator.joinGroup(joinParams({ clientId: 'd', protocols: [{ name: 'sticky', metadata: Buffer.from('z') }] }));
    expect(odd.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const wrongType = await coordinator.joinGroup(joinParams({ clientId: 'e', protocolType: 'connect' }));
    expect(wrongType.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    clock.advance(DELAY * 2);
    const results = await Promise.all([a, b, c]);
    expect(results.map((r) => r.protocolName)).toEqual(['range', 'range', 'range']);
  });

  it('rejects session timeouts outside the broker limits and empty group ids', async () => {
    expect((await coordinator.joinGroup(joinParams({ sessionTimeoutMs: 10 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await coordinator.joinGroup(joinParams({ groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await coordinator.joinGroup(joinParams({ memberId: 'nobody' }))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('group coordinator: fencing', () => {
  it('answers stale generations, unknown members and out-of-phase requests with Kafka error codes', async () => {
    const joined = await stableSingleMember();
    const base = { groupId: 'g', groupInstanceId: null };
    expect(coordinator.heartbeat({ ...base, generationId: 0, memberId: joined.memberId })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(coordinator.heartbeat({ ...base, generationId: 1, memberId: 'ghost' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coordinator.heartbeat({ ...base, generationId: 1, memberId: joined.memberId })).toBe(ErrorCode.NONE);
    expect(coordinator.heartbeat({ groupId: 'nogroup', groupInstanceId: null, generationId: 1, memberId: 'x' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

    const commitAs = (memberId: string, generationId: number) =>
      coordinator.commitOffsets({
        ...base,
        memberId,
        generationId,
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 9n, committedLeaderEpoch: -1, committedMetadata: '', commitTimestamp: -1 }] }],
      });
    expect((await commitAs('ghost', 1))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await commitAs(joined.memberId, 7))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    // Nothing was stored by the refused commits; a good one still works.
    expect(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [1] }]).topics[0]?.partitions[0]?.committedOffset).toBe(-1n);
    expect((await commitAs(joined.memberId, 1))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [1] }]).topics[0]?.partitions[0]?.committedOffset).toBe(9n);

    // A commit for a group that does not exist, from a member that thinks it has a generation.
    const orphan = await coordinator.commitOffsets({
      groupId: 'other',
      generationId: 3,
      memberId: 'm',
      groupInstanceId: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null, commitTimestamp: -1 }] }],
    });
    expect(orphan[0]?.partitions[0]?.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
  });

  it('refuses commits between JoinGroup and SyncGroup, and SyncGroup while a rebalance is being prepared', async () => {
    const join = coordinator.joinGroup(joinParams());
    clock.advance(DELAY);
    const joined = await join;
    const commit = await coordinator.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: joined.memberId,
      groupInstanceId: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null, commitTimestamp: -1 }] }],
    });
    expect(commit[0]?.partitions[0]?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null })).toBe(ErrorCode.NONE);

    const other = coordinator.joinGroup(joinParams({ clientId: 'other' }));
    const sync = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect(sync.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoined = await coordinator.joinGroup(joinParams({ memberId: joined.memberId }));
    expect(rejoined.generationId).toBe(2);
    expect((await other).generationId).toBe(2);
  });

  it('refuses a malformed leader assignment without storing it, then accepts a good one', async () => {
    const join = coordinator.joinGroup(joinParams());
    clock.advance(DELAY);
    const joined = await join;
    const sync = (assignments: { memberId: string; assignment: Buffer }[]) =>
      coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments });

    const truncated = consumerAssignment('orders', [0, 1]).subarray(0, 9);
    expect((await sync([{ memberId: joined.memberId, assignment: truncated }])).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    const twice = consumerAssignment('orders', [0]);
    expect((await sync([{ memberId: joined.memberId, assignment: twice }, { memberId: joined.memberId, assignment: twice }])).errorCode).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(log.appended).toHaveLength(0);
    expect(coordinator.groupState('g')).toBe('CompletingRebalance');

    const good = await sync([{ memberId: joined.memberId, assignment: consumerAssignment('orders', [0, 1]) }]);
    expect(good.errorCode).toBe(ErrorCode.NONE);
    expect(good.assignment).toEqual(consumerAssignment('orders', [0, 1]));
    expect(coordinator.groupState('g')).toBe('Stable');
  });

  it('reports a failed group write to the syncing members and rebalances', async () => {
    const join = coordinator.joinGroup(joinParams());
    clock.advance(DELAY);
    const joined = await join;
    log.failWith = ErrorCode.KAFKA_STORAGE_ERROR;
    const sync = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect(sync.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.groupState('g')).toBe('PreparingRebalance');
  });
});

describe('group coordinator: timers and leaving', () => {
  it('expires a member that stops heartbeating and rebalances the rest', async () => {
    const a = coordinator.joinGroup(joinParams({ clientId: 'a' }));
    const b = coordinator.joinGroup(joinParams({ clientId: 'b' }));
    clock.advance(DELAY * 2); // b arrived during the initial delay, which extends it once
    const [ja, jb] = await Promise.all([a, b]);
    const syncB = coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: jb.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: ja.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await syncB;

    // a keeps heartbeating, b goes silent.
    for (let t = 0; t < SESSION + 3_000; t += 3_000) {
      clock.advance(3_000);
      coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: ja.memberId, groupInstanceId: null });
    }
    expect(coordinator.groupState('g')).toBe('PreparingRebalance');
    expect(coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: jb.memberId, groupInstanceId: null })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoined = await coordinator.joinGroup(joinParams({ memberId: ja.memberId, clientId: 'a' }));
    expect(rejoined).toMatchObject({ generationId: 2, leaderId: ja.memberId });
    expect(rejoined.members.map((m) => m.memberId)).toEqual([ja.memberId]);
  });

  it('drops members that do not rejoin within the rebalance timeout', async () => {
    const a = coordinator.joinGroup(joinParams({ clientId: 'a' }));
    const b = coordinator.joinGroup(joinParams({ clientId: 'b' }));
    clock.advance(DELAY * 2); // b arrived during the initial delay, which extends it once
    const [ja, jb] = await Promise.all([a, b]);
    const syncB = coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: jb.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: ja.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await syncB;

    const rejoin = track(coordinator.joinGroup(joinParams({ memberId: ja.memberId, clientId: 'a' })));
    // b stays alive (its heartbeats answer REBALANCE_IN_PROGRESS) but never rejoins.
    for (let t = 3_000; t < REBALANCE; t += 3_000) {
      clock.advance(3_000);
      expect(coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: jb.memberId, groupInstanceId: null })).toBe(
        ErrorCode.REBALANCE_IN_PROGRESS,
      );
    }
    clock.advance(2_999);
    await flush();
    expect(rejoin.settled()).toBe(false);
    clock.advance(1);
    const result = await rejoin.result;
    expect(result.generationId).toBe(2);
    expect(result.members.map((m) => m.memberId)).toEqual([ja.memberId]);
  });

  it('forgets a reserved member id that is never used', async () => {
    const reserved = await coordinator.joinGroup(joinParams({ requireKnownMemberId: true }));
    expect(coordinator.groupState('g')).toBe('Empty');
    clock.advance(SESSION + 1);
    expect(coordinator.groupState('g')).toBeNull();
    // The reservation expired, and the group never had a member: that id is unknown now.
    const late = await coordinator.joinGroup(joinParams({ memberId: reserved.memberId }));
    expect(late.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('LeaveGroup removes members (batched), answers unknown ones, and an emptied group stores its empty generation', async () => {
    const joined = await stableSingleMember();
    const result = coordinator.leaveGroup('g', [
      { memberId: joined.memberId, groupInstanceId: null },
      { memberId: 'ghost', groupInstanceId: null },
    ]);
    expect(result.errorCode).toBe(ErrorCode.NONE);
    expect(result.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    expect(coordinator.groupState('g')).toBe('Empty');
    await flush();
    const last = log.appended.at(-1)!;
    expect(decodeCoordinatorRecord(last.record.key, last.record.value)).toMatchObject({ type: 'group', value: { generationId: 2, members: [] } });
  });
});

describe('group coordinator: static membership', () => {
  it('lets a restarted static member take over its id without a rebalance and fences the old id', async () => {
    const join = coordinator.joinGroup(joinParams({ groupInstanceId: 'instance-1', requireKnownMemberId: true }));
    clock.advance(DELAY);
    const first = await join;
    expect(first.errorCode).toBe(ErrorCode.NONE);
    await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'instance-1', protocolType: null, protocolName: null, assignments: [{ memberId: first.memberId, assignment: consumerAssignment('orders', [0]) }] });

    const restarted = await coordinator.joinGroup(joinParams({ groupInstanceId: 'instance-1' }));
    expect(restarted).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
    expect(restarted.memberId).not.toBe(first.memberId);
    expect(coordinator.groupState('g')).toBe('Stable');
    expect(coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'instance-1' })).toBe(ErrorCode.FENCED_INSTANCE_ID);
    const sync = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: restarted.memberId, groupInstanceId: 'instance-1', protocolType: null, protocolName: null, assignments: [] });
    expect(sync.assignment).toEqual(consumerAssignment('orders', [0]));
  });
});

describe('group coordinator: offsets, listing and deletion', () => {

  it('stores offsets for a group without membership and checks topic and metadata size', async () => {
    expect((await commit('simple', 'orders', 2, 42n, 'meta'))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect((await commit('simple', 'nope', 0, 1n))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await commit('simple', 'orders', 9, 1n))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await commit('simple', 'orders', 3, 1n, 'x'.repeat(5000)))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.OFFSET_METADATA_TOO_LARGE);

    const fetched = coordinator.fetchOffsets('simple', [{ name: 'orders', partitionIndexes: [2, 3] }]);
    expect(fetched.topics[0]?.partitions).toEqual([
      { partitionIndex: 2, committedOffset: 42n, committedLeaderEpoch: 4, metadata: 'meta', errorCode: ErrorCode.NONE },
      { partitionIndex: 3, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE },
    ]);
    const all = coordinator.fetchOffsets('simple', null);
    expect(all.topics).toEqual([{ name: 'orders', partitions: [expect.objectContaining({ partitionIndex: 2, committedOffset: 42n })] }]);
    expect(coordinator.fetchOffsets('unknown-group', null).topics).toEqual([]);
  });

  it('answers a failed offset write with NOT_COORDINATOR and keeps the previous offset', async () => {
    await commit('simple', 'orders', 0, 10n);
    log.failWith = ErrorCode.KAFKA_STORAGE_ERROR;
    expect((await commit('simple', 'orders', 0, 20n))[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.fetchOffsets('simple', null).topics[0]?.partitions[0]?.committedOffset).toBe(10n);
  });

  it('lists and describes groups, with a states filter', async () => {
    await commit('offsets-only', 'orders', 0, 1n);
    const joined = await stableSingleMember('active');
    expect(coordinator.listGroups([]).groups.map((g) => [g.groupId, g.groupState]).sort()).toEqual([
      ['active', 'Stable'],
      ['offsets-only', 'Empty'],
    ]);
    expect(coordinator.listGroups(['stable']).groups.map((g) => g.groupId)).toEqual(['active']);
    const described = coordinator.describeGroup('active');
    expect(described).toMatchObject({ groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' });
    expect(described.members).toEqual([
      expect.objectContaining({ memberId: joined.memberId, clientId: 'client', memberAssignment: consumerAssignment('orders', [0, 1]) }),
    ]);
    expect(coordinator.describeGroup('missing')).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'Dead', members: [] });
  });

  it('deletes only empty groups, writing tombstones for the group and its offsets', async () => {
    await commit('old', 'orders', 0, 7n);
    await stableSingleMember('busy');
    const results = await coordinator.deleteGroups(['old', 'busy', 'never']);
    expect(results).toEqual([
      { groupId: 'old', errorCode: ErrorCode.NONE },
      { groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'never', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);
    expect(coordinator.fetchOffsets('old', null).topics).toEqual([]);
    const tombstones = log.appended.filter((a) => a.record.value === null).map((a) => decodeCoordinatorRecord(a.record.key, null));
    expect(tombstones).toEqual([
      { type: 'group', groupId: 'old', value: null },
      { type: 'offset', groupId: 'old', topic: 'orders', partition: 0, value: null },
    ]);
  });

  it('forgets a deleted topic\'s offsets in every group, durably, removing groups left with nothing', async () => {
    await commit('both', 'orders', 0, 5n);
    await commit('both', 'orders', 3, 6n);
    await commit('both', 'payments', 1, 7n);
    await commit('orders-only', 'orders', 2, 8n);
    const member = await stableSingleMember('active');
    await coordinator.commitOffsets({
      groupId: 'active',
      generationId: member.generationId,
      memberId: member.memberId,
      groupInstanceId: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 9n, committedLeaderEpoch: 0, committedMetadata: null, commitTimestamp: -1 }] }],
    });
    const before = log.appended.length;

    await coordinator.removeTopicOffsets('orders');

    expect(coordinator.fetchOffsets('both', null).topics).toEqual([
      { name: 'payments', partitions: [expect.objectContaining({ partitionIndex: 1, committedOffset: 7n })] },
    ]);
    expect(coordinator.fetchOffsets('active', null).topics).toEqual([]);
    // A group with members stays even without offsets; an empty one with none left is gone.
    expect(coordinator.listGroups([]).groups.map((g) => g.groupId).sort()).toEqual(['active', 'both']);
    const written = log.appended.slice(before).map((a) => ({ partition: a.partition, record: decodeCoordinatorRecord(a.record.key, a.record.value) }));
    expect(written.map((w) => w.record)).toEqual(
      expect.arrayContaining([
        { type: 'offset', groupId: 'both', topic: 'orders', partition: 0, value: null },
        { type: 'offset', groupId: 'both', topic: 'orders', partition: 3, value: null },
        { type: 'offset', groupId: 'orders-only', topic: 'orders', partition: 2, value: null },
        { type: 'group', groupId: 'orders-only', value: null },
        { type: 'offset', groupId: 'active', topic: 'orders', partition: 1, value: null },
      ]),
    );
    expect(written).toHaveLength(5);
    for (const { partition, record } of written) {
      expect(partition).toBe(coordinator.partitionFor(record.type === 'unknown' ? '' : record.groupId));
    }

    // Replaying the log gives the same picture, so a restart does not bring the offsets back.
    const restarted = makeCoordinator();
    loadEveryPartition(restarted, log.appended);
    expect(restarted.fetchOffsets('both', null).topics.map((t) => t.name)).toEqual(['payments']);
    expect(restarted.fetchOffsets('orders-only', null).topics).toEqual([]);
  });

  it('logs tombstones it cannot store, having forgotten the offsets in memory', async () => {
    await commit('simple', 'orders', 0, 5n);
    log.failWith = ErrorCode.KAFKA_STORAGE_ERROR;
    await coordinator.removeTopicOffsets('orders');
    expect(coordinator.fetchOffsets('simple', [{ name: 'orders', partitionIndexes: [0] }]).topics[0]?.partitions[0]?.committedOffset).toBe(-1n);
    expect(warnings).toEqual([expect.stringContaining('offsets of deleted topic orders forgotten in memory but not stored')]);
  });
});

describe('group coordinator: loading from __consumer_offsets', () => {
  it('answers COORDINATOR_LOAD_IN_PROGRESS until loaded, like Kafka per API', async () => {
    const loading = makeCoordinator();
    loading.loadPartition(loading.partitionFor('g'), 0);
    expect((await loading.joinGroup(joinParams())).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(loading.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null })).toBe(ErrorCode.NONE);
    const sync = await loading.syncGroup({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect(sync.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(loading.fetchOffsets('g', null).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  });

  it('rebuilds offsets and the current generation by replaying what it wrote', async () => {
    const joined = await stableSingleMember();
    await coordinator.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: joined.memberId,
      groupInstanceId: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 100n, committedLeaderEpoch: 0, committedMetadata: 'm', commitTimestamp: -1 }] }],
    });
    await coordinator.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: joined.memberId,
      groupInstanceId: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 150n, committedLeaderEpoch: 0, committedMetadata: 'm', commitTimestamp: -1 }] }],
    });
    await commit('gone', 'payments', 0, 3n);
    await coordinator.deleteGroups(['gone']);

    const restarted = makeCoordinator();
    loadEveryPartition(restarted, log.appended);

    expect(restarted.fetchOffsets('g', null).topics).toEqual([
      { name: 'orders', partitions: [expect.objectContaining({ partitionIndex: 1, committedOffset: 150n, metadata: 'm' })] },
    ]);
    expect(restarted.fetchOffsets('gone', null).topics).toEqual([]);
    expect(restarted.listGroups([]).groups.map((g) => g.groupId)).toEqual(['g']);
    // The member of the stored generation carries on without rejoining…
    expect(restarted.groupState('g')).toBe('Stable');
    expect(restarted.heartbeat({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null })).toBe(ErrorCode.NONE);
    const sync = await restarted.syncGroup({ groupId: 'g', generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect(sync.assignment).toEqual(consumerAssignment('orders', [0, 1]));
    // …and is expired like any other member when it stops heartbeating.
    clock.advance(SESSION + 1);
    expect(restarted.groupState('g')).toBe('Empty');
  });
});
