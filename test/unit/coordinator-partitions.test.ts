// The group coordinator in a cluster: it serves only the groups of the `__consumer_offsets`
// partitions this broker leads. Loading a partition (at a leader epoch) brings its groups in,
// unloading drops them and answers their parked requests NOT_COORDINATOR, groups elsewhere get
// NOT_COORDINATOR, a load overtaken by a newer epoch changes nothing, and a write that finds
// leadership gone answers NOT_COORDINATOR.
import { beforeEach, describe, expect, it } from 'vitest';
import type { CancelTimer, Clock } from '../../broker/coordinator/clock.js';
import { GroupCoordinator, defaultGroupCoordinatorConfig, type GroupLog, type JoinGroupParams } from '../../broker/coordinator/group-coordinator.js';
import { decodeCoordinatorRecord, encodeCoordinatorRecord, type EncodedRecord } from '../../broker/coordinator/offsets-records.js';
import { ErrorCode } from '../../broker/protocol/errors.js';

const PARTITIONS = 4;
const SESSION = 10_000;
/** Long enough for a fresh group's initial delay, extended once by a second member. */
const JOIN_DELAYS = 2 * defaultGroupCoordinatorConfig.initialRebalanceDelayMs;

/** Time that moves only when the test says so. */
class ManualClock implements Clock {
  private time = 1_000_000;
  private timers: { due: number; task: () => void }[] = [];

  now(): number {
    return this.time;
  }

  schedule(delayMs: number, task: () => void): CancelTimer {
    const timer = { due: this.time + delayMs, task };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = next.due;
      next.task();
    }
    this.time = end;
  }
}

/**
 * A replicated log stand-in: one record list per partition, and which epoch this broker leads
 * each partition at; an append at any other epoch is refused as OffsetsTopic refuses it.
 */
class PartitionedLog implements GroupLog {
  readonly records = new Map<number, EncodedRecord[]>();
  readonly leading = new Map<number, number>();
  /** Appends wait until released, so a test can move leadership while one is in flight. */
  holdAppends = false;
  private readonly held: (() => void)[] = [];

  append(partition: number, leaderEpoch: number, records: readonly EncodedRecord[]): Promise<void> {
    const write = () => {
      if (this.leading.get(partition) !== leaderEpoch) {
        throw Object.assign(new Error(`partition ${partition} is not led here at epoch ${leaderEpoch}`), { kafkaErrorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
      }
      const list = this.records.get(partition) ?? [];
      list.push(...records);
      this.records.set(partition, list);
    };
    if (!this.holdAppends) return Promise.resolve().then(write);
    return new Promise((resolve, reject) =>
      this.held.push(() => {
        try {
          write();
          resolve();
        } catch (error) {
          reject(error as Error);
        }
      }),
    );
  }

  release(): void {
    for (const write of this.held.splice(0)) write();
  }
}

let clock: ManualClock;
let log: PartitionedLog;
let warnings: string[];
let coordinator: GroupCoordinator;

function makeCoordinator(): GroupCoordinator {
  return new GroupCoordinator(
    log,
    { partitionExists: (topic, partition) => topic === 'orders' && partition >= 0 && partition < 3 },
    clock,
    { warn: (message) => warnings.push(message) },
    { ...defaultGroupCoordinatorConfig, offsetsTopicPartitions: PARTITIONS },
  );
}

/** This broker becomes leader of `partition` at `epoch` and loads what the log holds for it. */
function lead(c: GroupCoordinator, partition: number, epoch: number): void {
  log.leading.set(partition, epoch);
  const load = c.loadPartition(partition, epoch)!;
  for (const record of log.records.get(partition) ?? []) load.replay(decodeCoordinatorRecord(record.key, record.value));
  expect(load.finish()).toBe(true);
}

/** A group id whose records live in `partition`. */
const groupOn = (partition: number): string => {
  const found = Array.from({ length: 200 }, (_, i) => `group-${i}`).find((g) => makeCoordinator().partitionFor(g) === partition);
  if (!found) throw new Error(`no group id hashes to partition ${partition}`);
  return found;
};

function commit(c: GroupCoordinator, groupId: string, partitionIndex: number, offset: bigint) {
  return c.commitOffsets({
    groupId,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: 'orders', partitions: [{ partitionIndex, committedOffset: offset, committedLeaderEpoch: 0, committedMetadata: null, commitTimestamp: -1 }] }],
  });
}

const commitError = async (c: GroupCoordinator, groupId: string, offset: bigint) => (await commit(c, groupId, 0, offset))[0]!.partitions[0]!.errorCode;

const committed = (c: GroupCoordinator, groupId: string) => {
  const result = c.fetchOffsets(groupId, [{ name: 'orders', partitionIndexes: [0] }]);
  return { errorCode: result.errorCode, offset: result.topics[0]?.partitions[0]?.committedOffset };
};

/**
 * A group in a stable generation of one member, and a second member's JoinGroup parked until
 * the first rejoins.
 */
async function stableGroupWithParkedJoin(c: GroupCoordinator, groupId: string) {
  const first = c.joinGroup(joinParams(groupId));
  clock.advance(JOIN_DELAYS);
  const joined = await first;
  expect(joined.errorCode).toBe(ErrorCode.NONE);
  const sync = await c.syncGroup({ groupId, generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  expect(sync.errorCode).toBe(ErrorCode.NONE);
  expect(c.groupState(groupId)).toBe('Stable');
  return { joined, parkedJoin: c.joinGroup(joinParams(groupId)) };
}

function joinParams(groupId: string, memberId = ''): JoinGroupParams {
  return {
    groupId,
    memberId,
    groupInstanceId: null,
    requireKnownMemberId: false,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
  };
}

beforeEach(() => {
  clock = new ManualClock();
  log = new PartitionedLog();
  warnings = [];
  coordinator = makeCoordinator();
});

describe('group coordinator: offsets partitions', () => {
  it('serves only the groups of partitions it leads; others get NOT_COORDINATOR on every API', async () => {
    const here = groupOn(1);
    const elsewhere = groupOn(2);
    lead(coordinator, 1, 0);

    expect(await commitError(coordinator, here, 5n)).toBe(ErrorCode.NONE);
    expect(committed(coordinator, here)).toEqual({ errorCode: ErrorCode.NONE, offset: 5n });

    expect(await commitError(coordinator, elsewhere, 5n)).toBe(ErrorCode.NOT_COORDINATOR);
    expect(committed(coordinator, elsewhere).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await coordinator.joinGroup(joinParams(elsewhere))).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.heartbeat({ groupId: elsewhere, generationId: 1, memberId: 'm', groupInstanceId: null })).toBe(ErrorCode.NOT_COORDINATOR);
    const sync = await coordinator.syncGroup({ groupId: elsewhere, generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect(sync.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.leaveGroup(elsewhere, [{ memberId: 'm', groupInstanceId: null }]).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.describeGroup(elsewhere).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(await coordinator.deleteGroups([elsewhere])).toEqual([{ groupId: elsewhere, errorCode: ErrorCode.NOT_COORDINATOR }]);

    // The records went to the group's own partition, nowhere else.
    expect([...log.records.keys()]).toEqual([1]);
    expect(coordinator.listGroups([]).groups.map((g) => g.groupId)).toEqual([here]);
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS while its partition loads, then serves what was replayed', async () => {
    const group = groupOn(3);
    log.records.set(3, [encodeCoordinatorRecord({ type: 'offset', groupId: group, topic: 'orders', partition: 0, value: { offset: 42n, leaderEpoch: 0, metadata: '', commitTimestamp: 1 } })]);
    log.leading.set(3, 7);
    const load = coordinator.loadPartition(3, 7)!;
    expect(committed(coordinator, group).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(await commitError(coordinator, group, 1n)).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(coordinator.listGroups([]).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    for (const record of log.records.get(3)!) load.replay(decodeCoordinatorRecord(record.key, record.value));
    expect(load.finish()).toBe(true);
    expect(committed(coordinator, group)).toEqual({ errorCode: ErrorCode.NONE, offset: 42n });
    expect(coordinator.listGroups([])).toEqual({ errorCode: ErrorCode.NONE, groups: [{ groupId: group, protocolType: '', groupState: 'Empty' }] });
    // Loading again at the same epoch is nothing to do; an older epoch is ignored.
    expect(coordinator.loadPartition(3, 7)).toBeNull();
    expect(coordinator.loadPartition(3, 6)).toBeNull();
  });

  it('unloading answers parked JoinGroup and SyncGroup NOT_COORDINATOR, stops timers and drops the groups of that partition only', async () => {
    const moving = groupOn(0);
    const staying = groupOn(1);
    lead(coordinator, 0, 0);
    lead(coordinator, 1, 0);
    expect(await commitError(coordinator, staying, 9n)).toBe(ErrorCode.NONE);
    const { joined, parkedJoin } = await stableGroupWithParkedJoin(coordinator, moving);
    expect(clock.pending).toBeGreaterThan(0);

    expect(coordinator.unloadPartition(0)).toBe(1);
    expect((await parkedJoin).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.groupState(moving)).toBeNull();
    // Session, new-member and rebalance timers are all gone (the other partition's group has none).
    expect(clock.pending).toBe(0);
    expect(coordinator.heartbeat({ groupId: moving, generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null })).toBe(ErrorCode.NOT_COORDINATOR);
    expect(committed(coordinator, staying)).toEqual({ errorCode: ErrorCode.NONE, offset: 9n });
    expect(coordinator.unloadPartition(0)).toBe(-1);
  });

  it('a SyncGroup parked for the leader\'s assignment is answered NOT_COORDINATOR when the partition goes', async () => {
    const group = groupOn(2);
    lead(coordinator, 2, 0);
    const a = coordinator.joinGroup(joinParams(group));
    const b = coordinator.joinGroup(joinParams(group));
    clock.advance(JOIN_DELAYS);
    const [joinedA, joinedB] = await Promise.all([a, b]);
    expect([joinedA.errorCode, joinedB.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    const follower = joinedA.leaderId === joinedA.memberId ? joinedB : joinedA;
    const parked = coordinator.syncGroup({ groupId: group, generationId: follower.generationId, memberId: follower.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    coordinator.unloadPartition(2);
    expect((await parked).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('a new leader rebuilds the groups from the replicated records; the old one no longer answers for them', async () => {
    const group = groupOn(1);
    lead(coordinator, 1, 0);
    expect(await commitError(coordinator, group, 10n)).toBe(ErrorCode.NONE);
    expect(await commitError(coordinator, group, 11n)).toBe(ErrorCode.NONE);

    // Leadership moves to another broker at epoch 1: this one becomes a follower.
    coordinator.unloadPartition(1);
    const other = makeCoordinator();
    lead(other, 1, 1);
    expect(committed(other, group)).toEqual({ errorCode: ErrorCode.NONE, offset: 11n });
    expect(committed(coordinator, group).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(await commitError(other, group, 12n)).toBe(ErrorCode.NONE);
  });

  it('discards a stale load: a load at a newer epoch starts clean, and the old one cannot replay or finish', async () => {
    const group = groupOn(2);
    const offset = (value: bigint) => encodeCoordinatorRecord({ type: 'offset', groupId: group, topic: 'orders', partition: 0, value: { offset: value, leaderEpoch: 0, metadata: '', commitTimestamp: 1 } });
    log.leading.set(2, 4);
    const stale = coordinator.loadPartition(2, 4)!;
    stale.replay(decodeCoordinatorRecord(offset(1n).key, offset(1n).value));

    log.leading.set(2, 5);
    const fresh = coordinator.loadPartition(2, 5)!;
    expect(stale.current).toBe(false);
    expect(fresh.current).toBe(true);
    // The stale load reads on, from what was the log at its epoch: none of it may land.
    stale.replay(decodeCoordinatorRecord(offset(999n).key, offset(999n).value));
    expect(stale.finish()).toBe(false);
    expect(committed(coordinator, group).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);

    fresh.replay(decodeCoordinatorRecord(offset(7n).key, offset(7n).value));
    expect(fresh.finish()).toBe(true);
    expect(committed(coordinator, group)).toEqual({ errorCode: ErrorCode.NONE, offset: 7n });
    expect(fresh.current).toBe(false);
    // Writes go out at the epoch the groups were loaded at.
    expect(await commitError(coordinator, group, 8n)).toBe(ErrorCode.NONE);
  });

  it('reloads when leading again at a newer epoch, answering the old generation\'s parked members NOT_COORDINATOR', async () => {
    const group = groupOn(3);
    lead(coordinator, 3, 0);
    const { parkedJoin } = await stableGroupWithParkedJoin(coordinator, group);
    log.leading.set(3, 1);
    const reload = coordinator.loadPartition(3, 1);
    expect(reload).not.toBeNull();
    expect((await parkedJoin).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(committed(coordinator, group).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    // The generation it stored comes back from the log, at the new epoch.
    for (const record of log.records.get(3)!) reload!.replay(decodeCoordinatorRecord(record.key, record.value));
    expect(reload!.finish()).toBe(true);
    expect(coordinator.groupState(group)).toBe('Stable');
  });

  it('a write that finds leadership gone answers NOT_COORDINATOR', async () => {
    const group = groupOn(0);
    lead(coordinator, 0, 0);
    log.holdAppends = true;
    const pending = commitError(coordinator, group, 3n);
    // The controller moved the leadership away while the commit waited for the replicas.
    log.leading.set(0, 1);
    log.release();
    expect(await pending).toBe(ErrorCode.NOT_COORDINATOR);
    expect(committed(coordinator, group)).toEqual({ errorCode: ErrorCode.NONE, offset: -1n });
  });

  it('drops a deleted topic\'s offsets from loaded partitions now and from loading ones once loaded', async () => {
    const loaded = groupOn(0);
    const loading = groupOn(1);
    lead(coordinator, 0, 0);
    expect(await commitError(coordinator, loaded, 4n)).toBe(ErrorCode.NONE);
    log.records.set(1, [encodeCoordinatorRecord({ type: 'offset', groupId: loading, topic: 'orders', partition: 0, value: { offset: 6n, leaderEpoch: 0, metadata: '', commitTimestamp: 1 } })]);
    log.leading.set(1, 0);
    const load = coordinator.loadPartition(1, 0)!;

    await coordinator.removeTopicOffsets('orders');
    expect(committed(coordinator, loaded)).toEqual({ errorCode: ErrorCode.NONE, offset: -1n });

    for (const record of log.records.get(1)!) load.replay(decodeCoordinatorRecord(record.key, record.value));
    expect(load.finish()).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(committed(coordinator, loading)).toEqual({ errorCode: ErrorCode.NONE, offset: -1n });
    // Durably: the tombstone is in partition 1's log, so the next leader does not bring the offset back.
    const next = makeCoordinator();
    lead(next, 1, 1);
    expect(committed(next, loading)).toEqual({ errorCode: ErrorCode.NONE, offset: -1n });
  });

  it('close unloads everything: parked requests answered, later requests COORDINATOR_NOT_AVAILABLE, no loads', async () => {
    const group = groupOn(2);
    lead(coordinator, 2, 0);
    const join = coordinator.joinGroup(joinParams(group));
    coordinator.close();
    expect((await join).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(clock.pending).toBe(0);
    expect(committed(coordinator, group).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(coordinator.loadPartition(2, 1)).toBeNull();
    expect(warnings).toEqual([]);
  });
});
