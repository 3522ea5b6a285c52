// The group coordinator (classic protocol), following Apache Kafka's GroupCoordinator:
//
//   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
//     ▲                 ▲   ▲                                                  │ leader's SyncGroup
//     └─ no members ────┘   └──── join / leave / session expiry ◀── Stable ◀───┘ (assignment stored)
//
// JoinGroup requests are parked (their promises resolve) until the rebalance completes, like
// Kafka's delayed join: a fresh group waits `initialRebalanceDelayMs` (extended while new
// members keep arriving, up to the rebalance timeout); otherwise the join completes as soon as
// every known member has rejoined, or at the rebalance timeout, dropping members that did not.
// Every member has one session timer on the event loop; heartbeats, commits and completed joins
// and syncs re-arm it. Members parked in JoinGroup or SyncGroup are kept alive (new members only
// up to `newMemberJoinTimeoutMs`), as in Kafka.
//
// Committed offsets and each group's generation (members, leader, protocol, assignments) are
// written to `__consumer_offsets` through a GroupLog before the client is answered. As in Kafka,
// a group belongs to partition hash(group id) mod N of that topic, and this coordinator serves
// the groups of the partitions this broker leads: it loads a partition's groups by replaying its
// records when the broker becomes its leader (loadPartition, at that leader epoch) and drops them
// when the broker stops leading it (unloadPartition). A group of a partition not held here gets
// NOT_COORDINATOR, so the client finds the coordinator again; while its partition is loading,
// COORDINATOR_LOAD_IN_PROGRESS (SyncGroup gets REBALANCE_IN_PROGRESS and Heartbeat NONE, as Kafka
// answers older clients). Triggering a rebalance when a subscribed topic gains partitions is left
// to the group's leader, which watches metadata, as in Kafka.
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import type { Clock } from './clock.js';
import { Group, Member } from './group.js';
import type { GroupProtocol, GroupState, JoinResult, SyncResult } from './group.js';
import { encodeCoordinatorRecord, offsetsPartitionFor } from './offsets-records.js';
import type { CommittedOffset, CoordinatorRecord, EncodedRecord, GroupMetadataSnapshot } from './offsets-records.js';

export interface GroupCoordinatorConfig {
  /** Partitions of `__consumer_offsets` (Kafka: offsets.topic.num.partitions = 50). */
  offsetsTopicPartitions: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms. */
  initialRebalanceDelayMs: number;
  /** group.max.size. */
  maxGroupSize: number;
  /** How long a new member's parked JoinGroup may wait (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
  /** offset.metadata.max.bytes. */
  maxOffsetMetadataBytes: number;
}

export const defaultGroupCoordinatorConfig: GroupCoordinatorConfig = {
  offsetsTopicPartitions: 50,
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  maxGroupSize: 2_147_483_647,
  newMemberJoinTimeoutMs: 300_000,
  maxOffsetMetadataBytes: 4_096,
};

/** Where the coordinator's records go: the group's partition of `__consumer_offsets`. */
export interface GroupLog {
  /**
   * Resolves once the records are stored, written only while this broker still leads `partition`
   * at `leaderEpoch` (the epoch its groups were loaded at); rejects (ideally with a
   * `kafkaErrorCode`) when they are not.
   */
  append(partition: number, leaderEpoch: number, records: readonly EncodedRecord[]): Promise<void>;
}

/**
 * One load of an offsets partition's groups at a leader epoch. It goes stale (`current` false,
 * replay and finish do nothing) as soon as the partition is unloaded or loaded again at another
 * epoch, so a slow load can never mix older state into a newer one.
 */
export interface PartitionLoad {
  readonly partition: number;
  readonly leaderEpoch: number;
  /** Still the partition's load in progress: the loader should keep reading. */
  readonly current: boolean;
  /** Applies one record read back from the partition, in log order. */
  replay(record: CoordinatorRecord): void;
  /** Ends the load: the partition's groups are served from now on. False when the load went stale. */
  finish(): boolean;
}

export interface TopicCatalog {
  partitionExists(topic: string, partition: number): boolean;
}

export interface CoordinatorLogger {
  warn(message: string): void;
}

/** An offsets partition this broker leads: its groups are loading or served. */
class HeldPartition {
  loaded = false;
  /** Topics deleted while the partition was loading: their replayed offsets are dropped at the end. */
  readonly deletedTopics = new Set<string>();

  constructor(
    readonly partition: number,
    readonly leaderEpoch: number,
  ) {}
}

export interface JoinGroupParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+ from a dynamic member: a first join only reserves a member id (MEMBER_ID_REQUIRED). */
  requireKnownMemberId: boolean;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** SyncGroup v5+; null when the version does not carry them. */
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface OffsetCommitPartition {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  committedMetadata: string | null;
  /** OffsetCommit v1 only; -1 means "now". */
  commitTimestamp: number;
}

export interface OffsetCommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: { name: string; partitions: OffsetCommitPartition[] }[];
}

export type OffsetCommitResult = { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];

export interface FetchedOffset {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface OffsetFetchResult {
  errorCode: number;
  topics: { name: string; partitions: FetchedOffset[] }[];
}

export interface GroupOverview {
  groupId: string;
  protocolType: string;
  groupState: GroupState;
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
}

type Api = 'join' | 'sync' | 'heartbeat' | 'leave' | 'commit' | 'fetch' | 'describe' | 'delete';

/** APIs that accept the empty group id (Kafka allows it for offset storage and for inspecting). */
const emptyGroupIdAllowed: ReadonlySet<Api> = new Set(['commit', 'fetch', 'describe', 'delete']);

const NO_GENERATION = -1;
const NO_OFFSET = -1n;
const EMPTY = Buffer.alloc(0);

function joinError(memberId: string, errorCode: number): JoinResult {
  return { errorCode, generationId: NO_GENERATION, protocolType: null, protocolName: null, leaderId: '', memberId, members: [] };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** Kafka's mapping of log-append failures to what an offset commit answers. */
function commitErrorFor(error: unknown): number {
  const code = (error as { kafkaErrorCode?: unknown } | null)?.kafkaErrorCode;
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.FENCED_LEADER_EPOCH:
    case ErrorCode.UNKNOWN_LEADER_EPOCH:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
    default:
      return typeof code === 'number' ? code : ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}

/**
 * Whether `assignment` parses as a ConsumerProtocol Assignment (version, topics with partitions,
 * user data). Empty means "nothing assigned". Fields a newer version appends are not checked.
 */
function isReadableConsumerAssignment(assignment: Buffer): boolean {
  if (assignment.length === 0) return true;
  let at = 0;
  const need = (n: number) => {
    if (at + n > assignment.length) throw new RangeError('truncated');
  };
  try {
    need(2);
    if (assignment.readInt16BE(at) < 0) return false;
    at += 2;
    need(4);
    const topics = assignment.readInt32BE(at);
    at += 4;
    if (topics < 0) return false;
    for (let t = 0; t < topics; t++) {
      need(2);
      const nameLength = assignment.readInt16BE(at);
      at += 2;
      if (nameLength < 0) return false;
      need(nameLength + 4);
      at += nameLength;
      const partitions = assignment.readInt32BE(at);
      at += 4;
      if (partitions < 0) return false;
      need(partitions * 4);
      at += partitions * 4;
    }
    need(4);
    const userData = assignment.readInt32BE(at);
    at += 4;
    if (userData > 0) need(userData);
    return true;
  } catch {
    return false;
  }
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** The offsets partitions whose groups are loading or served here, by partition. */
  private readonly held = new Map<number, HeldPartition>();
  private offsetsTopicPartitions: number;
  private stopped = false;

  constructor(
    private readonly log: GroupLog,
    private readonly topics: TopicCatalog,
    private readonly clock: Clock,
    private readonly logger: CoordinatorLogger,
    readonly config: GroupCoordinatorConfig = defaultGroupCoordinatorConfig,
  ) {
    this.offsetsTopicPartitions = config.offsetsTopicPartitions;
  }

  /** The partition of `__consumer_offsets` that holds the group's records. */
  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.offsetsTopicPartitions);
  }

  /**
   * Follows the partition count of the existing `__consumer_offsets` (groups must hash to where
   * their records are). A different count makes every held partition meaningless: all are unloaded.
   */
  useOffsetsTopicPartitions(count: number): void {
    if (count === this.offsetsTopicPartitions) return;
    for (const partition of [...this.held.keys()]) this.unloadPartition(partition);
    this.offsetsTopicPartitions = count;
  }

  /** Whether the groups of `partition` are loaded and served here. */
  isLoaded(partition: number): boolean {
    return this.held.get(partition)?.loaded === true;
  }

  // ---- Loading and unloading -----------------------------------------------------------

  /**
   * This broker leads `partition` at `leaderEpoch`: starts loading its groups, dropping any state
   * held for it at another epoch (a load still running for that epoch goes stale). Null when
   * there is nothing to do: already loaded at that epoch, an older epoch, or stopped.
   */
  loadPartition(partition: number, leaderEpoch: number): PartitionLoad | null {
    if (this.stopped) return null;
    const existing = this.held.get(partition);
    if (existing && (existing.leaderEpoch > leaderEpoch || (existing.leaderEpoch === leaderEpoch && existing.loaded))) return null;
    if (existing) this.unloadPartition(partition);
    const held = new HeldPartition(partition, leaderEpoch);
    // A deletion seen by a load that never finished still applies to this one.
    if (existing && !existing.loaded) for (const topic of existing.deletedTopics) held.deletedTopics.add(topic);
    this.held.set(partition, held);
    const current = () => this.held.get(partition) === held && !held.loaded;
    return {
      partition,
      leaderEpoch,
      get current() {
        return current();
      },
      replay: (record) => {
        if (current()) this.replay(partition, record);
      },
      finish: () => {
        if (!current()) return false;
        this.finishLoading(held);
        return true;
      },
    };
  }

  /**
   * This broker no longer leads `partition`: its groups are dropped, their timers stopped and
   * their parked JoinGroup and SyncGroup requests answered NOT_COORDINATOR. Returns how many
   * groups were dropped, or -1 when the partition was not held here.
   */
  unloadPartition(partition: number): number {
    if (!this.held.delete(partition)) return -1;
    let dropped = 0;
    for (const group of [...this.groups.values()]) {
      if (this.partitionFor(group.groupId) !== partition) continue;
      this.dropGroup(group);
      dropped++;
    }
    return dropped;
  }

  private replay(partition: number, record: CoordinatorRecord): void {
    if (record.type === 'unknown') return;
    if (this.partitionFor(record.groupId) !== partition) {
      // Written under another partition count: this partition does not own the group.
      this.logger.warn(`group ${record.groupId}: a record in __consumer_offsets partition ${partition} belongs to partition ${this.partitionFor(record.groupId)}; skipped`);
      return;
    }
    const group = this.groups.get(record.groupId) ?? this.createGroup(record.groupId);
    if (record.type === 'offset') group.setOffset(record.topic, record.partition, record.value);
    else this.restoreGenerationOf(group, record.value);
  }

  /** Ends a load: groups without offsets or a generation are dropped, loaded members must heartbeat. */
  private finishLoading(held: HeldPartition): void {
    for (const [groupId, group] of this.groups) {
      if (this.partitionFor(groupId) !== held.partition) continue;
      if (group.members.size === 0 && group.offsets.size === 0 && group.generationId === 0) {
        this.groups.delete(groupId);
        continue;
      }
      for (const member of group.members.values()) this.scheduleExpiry(group, member, member.sessionTimeoutMs);
    }
    held.loaded = true;
    for (const topic of held.deletedTopics) void this.forgetTopicIn(held.partition, topic);
    held.deletedTopics.clear();
  }

  private restoreGenerationOf(group: Group, snapshot: GroupMetadataSnapshot | null): void {
    for (const member of group.members.values()) member.cancelExpiry();
    group.members.clear();
    group.staticMembers.clear();
    group.leaderId = null;
    if (snapshot === null) {
      group.generationId = 0;
      group.protocolType = null;
      group.protocolName = null;
      group.state = 'Empty';
      return;
    }
    for (const saved of snapshot.members) {
      const protocols = snapshot.protocolName === null ? [] : [{ name: snapshot.protocolName, metadata: saved.subscription }];
      const member = new Member(
        saved.memberId,
        saved.groupInstanceId,
        saved.clientId,
        saved.clientHost,
        saved.rebalanceTimeout,
        saved.sessionTimeout,
        snapshot.protocolType,
        protocols,
      );
      member.assignment = saved.assignment;
      group.add(member);
    }
    group.generationId = snapshot.generationId;
    group.protocolType = snapshot.protocolType.length > 0 ? snapshot.protocolType : null;
    group.protocolName = snapshot.protocolName;
    if (snapshot.leaderId !== null && group.members.has(snapshot.leaderId)) group.leaderId = snapshot.leaderId;
    group.state = group.members.size > 0 ? 'Stable' : 'Empty';
    group.stateTimestamp = snapshot.stateTimestamp;
  }

  /** Stops serving: every held partition is unloaded (timers stopped, parked requests answered NOT_COORDINATOR). */
  close(): void {
    this.stopped = true;
    for (const partition of [...this.held.keys()]) this.unloadPartition(partition);
  }

  /** Kafka's onGroupUnloaded: the group is Dead here, its waiting members told to find the coordinator again. */
  private dropGroup(group: Group): void {
    group.joinTimer?.();
    group.joinTimer = null;
    for (const cancel of group.pendingMembers.values()) cancel();
    group.pendingMembers.clear();
    for (const member of group.members.values()) {
      member.cancelExpiry();
      this.answerJoin(member, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
      this.answerSync(member, syncError(ErrorCode.NOT_COORDINATOR));
    }
    group.transitionTo('Dead', this.clock.now());
    this.groups.delete(group.groupId);
  }

  // ---- JoinGroup -----------------------------------------------------------------------

  joinGroup(params: JoinGroupParams): Promise<JoinResult> {
    const statusError = this.groupStatusError(params.groupId, 'join');
    if (statusError !== null) return Promise.resolve(joinError(params.memberId, statusError));
    if (params.sessionTimeoutMs < this.config.minSessionTimeoutMs || params.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(params.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = params.memberId === '';
    let group = this.groups.get(params.groupId);
    if (!group) {
      if (!isUnknownMember) return Promise.resolve(joinError(params.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      if (params.protocolType.length === 0 || params.protocols.length === 0) {
        return Promise.resolve(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      }
      group = this.createGroup(params.groupId);
    }
    if (isUnknownMember && group.members.size >= this.config.maxGroupSize) {
      return Promise.resolve(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
    }
    const joined = group;
    return new Promise<JoinResult>((resolve) => {
      if (isUnknownMember) this.joinUnknownMember(joined, params, resolve);
      else this.joinKnownMember(joined, params, resolve);
      if (joined.is('PreparingRebalance')) this.tryCompleteJoin(joined);
    });
  }

  private joinUnknownMember(group: Group, params: JoinGroupParams, resolve: (result: JoinResult) => void): void {
    if (group.is('Dead')) return resolve(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(params.protocolType, params.protocols)) {
      return resolve(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const newMemberId = `${params.groupInstanceId ?? params.clientId}-${randomUUID()}`;
    const staticHolder = params.groupInstanceId === null ? undefined : group.staticMembers.get(params.groupInstanceId);

    if (staticHolder !== undefined) {
      // A static member restarted: it takes over the old member id's place without a rebalance.
      const previousLeader = group.leaderId ?? '';
      const previous = group.members.get(staticHolder);
      if (previous) {
        this.answerJoin(previous, joinError(staticHolder, ErrorCode.FENCED_INSTANCE_ID));
        this.answerSync(previous, syncError(ErrorCode.FENCED_INSTANCE_ID));
      }
      const member = this.newMember(newMemberId, params);
      group.replaceStaticMember(staticHolder, member);
      this.scheduleExpiry(group, member, member.sessionTimeoutMs);
      if (group.is('PreparingRebalance')) {
        member.awaitingJoin = resolve;
        return;
      }
      // The old leader id is returned so the new instance does not compute an assignment that a
      // stable group would never distribute.
      return resolve({
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        leaderId: previousLeader,
        memberId: newMemberId,
        members: [],
      });
    }
    if (params.requireKnownMemberId && params.groupInstanceId === null) {
      const cancel = this.clock.schedule(params.sessionTimeoutMs, () => this.expirePendingMember(group, newMemberId));
      group.pendingMembers.set(newMemberId, cancel);
      return resolve(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    }
    this.addMemberAndRebalance(group, newMemberId, params, resolve);
  }

  private joinKnownMember(group: Group, params: JoinGroupParams, resolve: (result: JoinResult) => void): void {
    const { memberId } = params;
    if (group.is('Dead')) return resolve(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(params.protocolType, params.protocols)) {
      return resolve(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const pending = group.pendingMembers.get(memberId);
    if (pending !== undefined) {
      pending();
      group.pendingMembers.delete(memberId);
      return this.addMemberAndRebalance(group, memberId, params, resolve);
    }
    if (group.isStaticMemberFenced(memberId, params.groupInstanceId)) {
      return resolve(joinError(memberId, ErrorCode.FENCED_INSTANCE_ID));
    }
    const member = group.members.get(memberId);
    if (!member || (params.groupInstanceId !== null && !group.staticMembers.has(params.groupInstanceId))) {
      return resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, params, resolve);
      case 'CompletingRebalance':
        // Same metadata: the member lost its JoinGroup response; answer with the current generation.
        if (member.matches(params.protocols)) return resolve(this.joinResultFor(group, member));
        return this.updateMemberAndRebalance(group, member, params, resolve);
      case 'Stable':
        // A leader's rejoin forces a rebalance: that is how it reacts to metadata changes.
        if (group.isLeader(memberId) || !member.matches(params.protocols)) {
          return this.updateMemberAndRebalance(group, member, params, resolve);
        }
        return resolve({ ...this.joinResultFor(group, member), members: [] });
      case 'Empty':
      case 'Dead':
        return resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private newMember(memberId: string, params: JoinGroupParams): Member {
    return new Member(
      memberId,
      params.groupInstanceId,
      params.clientId,
      params.clientHost,
      params.rebalanceTimeoutMs,
      params.sessionTimeoutMs,
      params.protocolType,
      params.protocols,
    );
  }

  private addMemberAndRebalance(group: Group, memberId: string, params: JoinGroupParams, resolve: (r: JoinResult) => void): void {
    const member = this.newMember(memberId, params);
    member.isNew = true;
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    member.awaitingJoin = resolve;
    // A new member cannot heartbeat while its JoinGroup is parked; it gets the long new-member timeout.
    this.scheduleExpiry(group, member, this.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(group);
  }

  private updateMemberAndRebalance(group: Group, member: Member, params: JoinGroupParams, resolve: (r: JoinResult) => void): void {
    member.protocols = params.protocols;
    member.rebalanceTimeoutMs = params.rebalanceTimeoutMs;
    member.sessionTimeoutMs = params.sessionTimeoutMs;
    // A join re-sent while the previous one is parked supersedes it; the old request is told to rejoin.
    this.answerJoin(member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    member.awaitingJoin = resolve;
    this.maybePrepareRebalance(group);
  }

  private joinResultFor(group: Group, member: Member): JoinResult {
    const protocolName = group.protocolName;
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName,
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members:
        group.isLeader(member.memberId) && protocolName !== null
          ? [...group.members.values()].map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              metadata: m.metadataFor(protocolName),
            }))
          : [],
    };
  }

  private maybePrepareRebalance(group: Group): void {
    if (group.is('Stable') || group.is('CompletingRebalance') || group.is('Empty')) this.prepareRebalance(group);
  }

  private prepareRebalance(group: Group): void {
    if (group.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    const wasEmpty = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.clock.now());
    group.joinTimer?.();
    if (wasEmpty) {
      const delay = this.config.initialRebalanceDelayMs;
      group.delayingInitialJoin = true;
      this.armInitialDelay(group, delay, Math.max(group.rebalanceTimeoutMs - delay, 0));
    } else {
      group.delayingInitialJoin = false;
      group.joinTimer = this.clock.schedule(group.rebalanceTimeoutMs, () => this.completeJoin(group));
      // Everyone may already be in (e.g. the last member left): then the rebalance completes now.
      this.tryCompleteJoin(group);
    }
  }

  /** Kafka's InitialDelayedJoin: while new members keep arriving, wait another delay (bounded). */
  private armInitialDelay(group: Group, delayMs: number, remainingMs: number): void {
    group.joinTimer = this.clock.schedule(delayMs, () => {
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const next = Math.min(this.config.initialRebalanceDelayMs, remainingMs);
        this.armInitialDelay(group, next, Math.max(remainingMs - next, 0));
      } else {
        this.completeJoin(group);
      }
    });
  }

  private tryCompleteJoin(group: Group): void {
    if (group.is('PreparingRebalance') && !group.delayingInitialJoin && group.hasAllMembersJoined()) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (!group.is('PreparingRebalance')) return;
    group.joinTimer?.();
    group.joinTimer = null;
    group.delayingInitialJoin = false;
    group.newMemberAdded = false;
    // Dynamic members that did not rejoin in time leave the group.
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin === null && !member.isStatic) group.remove(member.memberId);
    }
    if (!group.electJoinedLeader() && group.members.size > 0) {
      // Only static members remain and none rejoined: wait another rebalance timeout for them.
      group.joinTimer = this.clock.schedule(group.rebalanceTimeoutMs, () => this.completeJoin(group));
      return;
    }
    group.initNextGeneration(this.clock.now());
    if (group.is('Empty')) {
      this.storeGroup(group, new Map()).catch((error: unknown) => {
        // No member depends on this record: after a restart the previous generation would just expire.
        this.logger.warn(`group ${group.groupId}: could not store its empty generation: ${String(error)}`);
      });
      return;
    }
    for (const member of group.members.values()) {
      this.answerJoin(member, this.joinResultFor(group, member));
      member.isNew = false;
      this.scheduleExpiry(group, member, member.sessionTimeoutMs);
    }
  }

  // ---- SyncGroup -----------------------------------------------------------------------

  syncGroup(params: SyncGroupParams): Promise<SyncResult> {
    const statusError = this.groupStatusError(params.groupId, 'sync');
    if (statusError !== null) {
      // A loading coordinator lost the rebalance in progress: REBALANCE_IN_PROGRESS makes the member rejoin.
      const code = statusError === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode.REBALANCE_IN_PROGRESS : statusError;
      return Promise.resolve(syncError(code));
    }
    const group = this.groups.get(params.groupId);
    if (!group) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    const memberError = this.memberError(group, params.memberId, params.groupInstanceId, params.generationId);
    if (memberError !== null) return Promise.resolve(syncError(memberError));
    if (
      (params.protocolType !== null && params.protocolType !== group.protocolType) ||
      (params.protocolName !== null && params.protocolName !== group.protocolName)
    ) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const member = group.members.get(params.memberId)!;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'Stable':
        this.scheduleExpiry(group, member, member.sessionTimeoutMs);
        return Promise.resolve(this.syncResultFor(group, member));
      case 'CompletingRebalance':
        break;
    }
    let assignment: Map<string, Buffer> | null = null;
    if (group.isLeader(params.memberId)) {
      assignment = this.leaderAssignment(group, params.assignments);
      // A malformed assignment is refused before anything is stored; the group keeps waiting for a good one.
      if (assignment === null) return Promise.resolve(syncError(ErrorCode.INVALID_REQUEST));
    }
    return new Promise<SyncResult>((resolve) => {
      this.answerSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      member.awaitingSync = resolve;
      if (assignment === null) return;
      const generationId = group.generationId;
      const complete = (errorCode: number) => {
        // Another member may have joined while the record was being written: then this generation is over.
        if (!group.is('CompletingRebalance') || group.generationId !== generationId) return;
        if (errorCode !== ErrorCode.NONE) {
          this.resetAndPropagateAssignmentError(group, errorCode);
          this.maybePrepareRebalance(group);
          return;
        }
        for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
        this.propagateAssignment(group, ErrorCode.NONE);
        group.transitionTo('Stable', this.clock.now());
      };
      this.storeGroup(group, assignment).then(
        () => complete(ErrorCode.NONE),
        (error: unknown) => {
          this.logger.warn(`group ${group.groupId}: could not store generation ${generationId}: ${String(error)}`);
          complete(commitErrorFor(error));
        },
      );
    });
  }

  /** The leader's assignment with every member filled in, or null when it is malformed. */
  private leaderAssignment(group: Group, assignments: SyncGroupParams['assignments']): Map<string, Buffer> | null {
    const byMember = new Map<string, Buffer>();
    for (const { memberId, assignment } of assignments) {
      if (byMember.has(memberId)) {
        this.logger.warn(`group ${group.groupId}: SyncGroup from the leader assigns member ${memberId} twice`);
        return null;
      }
      if (group.protocolType === 'consumer' && !isReadableConsumerAssignment(assignment)) {
        this.logger.warn(`group ${group.groupId}: SyncGroup from the leader carries an unreadable assignment for ${memberId}`);
        return null;
      }
      byMember.set(memberId, assignment);
    }
    // Members the leader left out get an empty assignment; ids it names that left meanwhile are ignored (Kafka).
    const complete = new Map<string, Buffer>();
    for (const memberId of group.members.keys()) complete.set(memberId, byMember.get(memberId) ?? EMPTY);
    return complete;
  }

  private syncResultFor(group: Group, member: Member): SyncResult {
    return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
  }

  private resetAndPropagateAssignmentError(group: Group, errorCode: number): void {
    for (const member of group.members.values()) member.assignment = EMPTY;
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: Group, errorCode: number): void {
    for (const member of group.members.values()) {
      if (member.awaitingSync === null) continue;
      this.answerSync(member, errorCode === ErrorCode.NONE ? this.syncResultFor(group, member) : syncError(errorCode));
      this.scheduleExpiry(group, member, member.sessionTimeoutMs);
    }
  }

  // ---- Heartbeat and LeaveGroup ----------------------------------------------------------

  heartbeat(params: HeartbeatParams): number {
    const statusError = this.groupStatusError(params.groupId, 'heartbeat');
    if (statusError === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return ErrorCode.NONE;
    if (statusError !== null) return statusError;
    const group = this.groups.get(params.groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    const memberError = this.memberError(group, params.memberId, params.groupInstanceId, params.generationId);
    if (memberError !== null) return memberError;
    const member = group.members.get(params.memberId)!;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.scheduleExpiry(group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'CompletingRebalance':
      case 'Stable':
        // Members may heartbeat between their JoinGroup and SyncGroup responses (Kafka ≥ 2.5).
        this.scheduleExpiry(group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
    }
  }

  leaveGroup(groupId: string, leaving: { memberId: string; groupInstanceId: string | null }[]): LeaveGroupResult {
    const statusError = this.groupStatusError(groupId, 'leave');
    if (statusError !== null) return { errorCode: statusError, members: [] };
    const group = this.groups.get(groupId);
    if (!group) {
      return { errorCode: ErrorCode.NONE, members: leaving.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    }
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map(({ memberId, groupInstanceId }) => {
      const result = (errorCode: number) => ({ memberId, groupInstanceId, errorCode });
      if (memberId !== '' && group.isStaticMemberFenced(memberId, groupInstanceId)) return result(ErrorCode.FENCED_INSTANCE_ID);
      const pending = group.pendingMembers.get(memberId);
      if (pending !== undefined) {
        pending();
        group.pendingMembers.delete(memberId);
        if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
        return result(ErrorCode.NONE);
      }
      const staticId = groupInstanceId === null ? undefined : group.staticMembers.get(groupInstanceId);
      const member = group.members.get(staticId ?? memberId);
      if (!member) return result(ErrorCode.UNKNOWN_MEMBER_ID);
      this.removeMemberAndUpdateGroup(group, member);
      return result(ErrorCode.NONE);
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  // ---- Offsets -------------------------------------------------------------------------

  async commitOffsets(params: OffsetCommitParams): Promise<OffsetCommitResult> {
    const everyPartition = (errorCode: number): OffsetCommitResult =>
      params.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));

    const statusError = this.groupStatusError(params.groupId, 'commit');
    if (statusError !== null) return everyPartition(statusError);
    let group = this.groups.get(params.groupId);
    if (!group) {
      // A group that does not exist may only store offsets without membership (generation -1).
      if (params.generationId >= 0) return everyPartition(ErrorCode.ILLEGAL_GENERATION);
      group = this.createGroup(params.groupId);
    }
    if (group.is('Dead')) return everyPartition(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (group.isStaticMemberFenced(params.memberId, params.groupInstanceId)) return everyPartition(ErrorCode.FENCED_INSTANCE_ID);
    if (!(params.generationId < 0 && group.is('Empty'))) {
      const member = group.members.get(params.memberId);
      if (!member) return everyPartition(ErrorCode.UNKNOWN_MEMBER_ID);
      if (params.generationId !== group.generationId) return everyPartition(ErrorCode.ILLEGAL_GENERATION);
      // Before SyncGroup the member has no assignment to commit for.
      if (group.is('CompletingRebalance')) return everyPartition(ErrorCode.REBALANCE_IN_PROGRESS);
      // Commits stay allowed while a rebalance is being prepared, so members can commit before rejoining.
      this.scheduleExpiry(group, member, member.sessionTimeoutMs);
    }
    return this.storeOffsets(group, params);
  }

  private async storeOffsets(group: Group, params: OffsetCommitParams): Promise<OffsetCommitResult> {
    const now = this.clock.now();
    const accepted: { topic: string; partition: number; value: CommittedOffset }[] = [];
    const result: OffsetCommitResult = params.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        const metadata = p.committedMetadata ?? '';
        let errorCode: number = ErrorCode.NONE;
        if (Buffer.byteLength(metadata) > this.config.maxOffsetMetadataBytes) errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        else if (!this.topics.partitionExists(topic.name, p.partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else {
          accepted.push({
            topic: topic.name,
            partition: p.partitionIndex,
            value: {
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch,
              metadata,
              commitTimestamp: p.commitTimestamp >= 0 ? p.commitTimestamp : now,
            },
          });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    }));
    if (accepted.length === 0) return result;
    const records = accepted.map((a) =>
      encodeCoordinatorRecord({ type: 'offset', groupId: group.groupId, topic: a.topic, partition: a.partition, value: a.value }),
    );
    let failure: number = ErrorCode.NONE;
    try {
      await this.append(group.groupId, records);
      for (const a of accepted) group.setOffset(a.topic, a.partition, a.value);
    } catch (error) {
      this.logger.warn(`group ${group.groupId}: could not store committed offsets: ${String(error)}`);
      failure = commitErrorFor(error);
    }
    if (failure !== ErrorCode.NONE) {
      for (const topic of result) for (const p of topic.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = failure;
    }
    return result;
  }

  /** Committed offsets of a group: the requested partitions (-1 where none), or all when `topics` is null. */
  fetchOffsets(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null): OffsetFetchResult {
    const statusError = this.groupStatusError(groupId, 'fetch');
    if (statusError !== null) return { errorCode: statusError, topics: [] };
    const group = this.groups.get(groupId);
    const fetched = (partitionIndex: number, committed: CommittedOffset | undefined): FetchedOffset => ({
      partitionIndex,
      committedOffset: committed?.offset ?? NO_OFFSET,
      committedLeaderEpoch: committed?.leaderEpoch ?? -1,
      metadata: committed?.metadata ?? '',
      errorCode: ErrorCode.NONE,
    });
    if (topics === null) {
      const all = [...(group?.offsets ?? new Map<string, Map<number, CommittedOffset>>())].map(([name, partitions]) => ({
        name,
        partitions: [...partitions].map(([index, committed]) => fetched(index, committed)),
      }));
      return { errorCode: ErrorCode.NONE, topics: all };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((index) => fetched(index, group?.offset(t.name, index))),
      })),
    };
  }

  /**
   * A topic was deleted: forgets every group's committed offsets for it and stores their
   * tombstones, so a topic created again under that name starts without offsets. Like Kafka's
   * onPartitionsDeleted, a group left Empty with no offsets at all is removed too. Partitions
   * still loading do the same once loaded. Tombstones that cannot be stored are logged: the
   * offsets are gone from memory but would come back on the next load.
   */
  async removeTopicOffsets(topic: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const held of this.held.values()) {
      if (held.loaded) writes.push(this.forgetTopicIn(held.partition, topic));
      else held.deletedTopics.add(topic);
    }
    await Promise.all(writes);
  }

  private async forgetTopicIn(partition: number, topic: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const group of [...this.groups.values()]) {
      if (this.partitionFor(group.groupId) !== partition) continue;
      const partitions = [...(group.offsets.get(topic)?.keys() ?? [])];
      if (partitions.length === 0) continue;
      const groupId = group.groupId;
      const tombstones = partitions.map((index) => {
        group.setOffset(topic, index, null);
        return encodeCoordinatorRecord({ type: 'offset', groupId, topic, partition: index, value: null });
      });
      if (group.is('Empty') && group.offsets.size === 0) {
        group.transitionTo('Dead', this.clock.now());
        this.groups.delete(groupId);
        tombstones.push(encodeCoordinatorRecord({ type: 'group', groupId, value: null }));
      }
      writes.push(
        this.append(groupId, tombstones).catch((error: unknown) => {
          this.logger.warn(`group ${groupId}: offsets of deleted topic ${topic} forgotten in memory but not stored: ${String(error)}`);
        }),
      );
    }
    await Promise.all(writes);
  }

  // ---- ListGroups, DescribeGroups, DeleteGroups -----------------------------------------

  /** The groups this broker coordinates (ListGroups goes to every broker); LOAD_IN_PROGRESS while a partition loads. */
  listGroups(statesFilter: readonly string[]): { errorCode: number; groups: GroupOverview[] } {
    if (this.stopped) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    const groups = [...this.groups.values()]
      .filter((g) => this.isLoaded(this.partitionFor(g.groupId)))
      .filter((g) => wanted.size === 0 || wanted.has(g.state.toLowerCase()))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state }));
    const loading = [...this.held.values()].some((held) => !held.loaded);
    return { errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups };
  }

  describeGroup(groupId: string): GroupDescription {
    const none = { groupId, protocolType: '', protocolData: '', members: [] };
    const statusError = this.groupStatusError(groupId, 'describe');
    if (statusError !== null) return { ...none, errorCode: statusError, groupState: '' };
    const group = this.groups.get(groupId);
    if (!group) return { ...none, errorCode: ErrorCode.NONE, groupState: 'Dead' };
    // Like Kafka, member metadata and assignments are shown only once the generation is stable.
    const stableProtocol = group.is('Stable') ? group.protocolName : null;
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      groupState: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stableProtocol ?? '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: stableProtocol === null ? EMPTY : m.metadataFor(stableProtocol),
        memberAssignment: stableProtocol === null ? EMPTY : m.assignment,
      })),
    };
  }

  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    return Promise.all(groupIds.map((groupId) => this.deleteGroup(groupId).then((errorCode) => ({ groupId, errorCode }))));
  }

  private async deleteGroup(groupId: string): Promise<number> {
    const statusError = this.groupStatusError(groupId, 'delete');
    if (statusError !== null) return statusError;
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!group.is('Empty')) return ErrorCode.NON_EMPTY_GROUP;
    group.transitionTo('Dead', this.clock.now());
    this.groups.delete(groupId);
    const tombstones = [encodeCoordinatorRecord({ type: 'group', groupId, value: null })];
    for (const [topic, partitions] of group.offsets) {
      for (const partition of partitions.keys()) {
        tombstones.push(encodeCoordinatorRecord({ type: 'offset', groupId, topic, partition, value: null }));
      }
    }
    try {
      await this.append(groupId, tombstones);
      return ErrorCode.NONE;
    } catch (error) {
      this.logger.warn(`group ${groupId}: deleted in memory but its tombstones were not stored: ${String(error)}`);
      return commitErrorFor(error);
    }
  }

  // ---- Shared helpers ------------------------------------------------------------------

  /** Kafka's validateGroupStatus: group id, coordinator active, the group's partition held here and loaded. */
  private groupStatusError(groupId: string, api: Api): number | null {
    if (groupId === '' && !emptyGroupIdAllowed.has(api)) return ErrorCode.INVALID_GROUP_ID;
    if (this.stopped) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const held = this.held.get(this.partitionFor(groupId));
    if (!held) return ErrorCode.NOT_COORDINATOR;
    if (!held.loaded) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return null;
  }

  /** Fencing checks shared by SyncGroup and Heartbeat, in Kafka's order. */
  private memberError(group: Group, memberId: string, groupInstanceId: string | null, generationId: number): number | null {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    if (!group.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return null;
  }

  private createGroup(groupId: string): Group {
    const group = new Group(groupId, this.clock.now());
    this.groups.set(groupId, group);
    return group;
  }

  private scheduleExpiry(group: Group, member: Member, timeoutMs: number): void {
    member.cancelExpiry();
    member.expiry = this.clock.schedule(timeoutMs, () => this.expireMember(group, member));
  }

  private expireMember(group: Group, member: Member): void {
    member.expiry = null;
    if (group.members.get(member.memberId) !== member) return;
    // Members parked in JoinGroup/SyncGroup cannot heartbeat; they stay (new members only so long).
    const parked = (member.awaitingJoin !== null && !member.isNew) || member.awaitingSync !== null;
    if (parked) {
      this.scheduleExpiry(group, member, member.sessionTimeoutMs);
      return;
    }
    this.logger.warn(`group ${group.groupId}: member ${member.memberId} missed its session timeout and was removed`);
    this.removeMemberAndUpdateGroup(group, member);
  }

  private expirePendingMember(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return;
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
    // A group that only ever handed out this member id holds nothing worth keeping.
    const unused = group.is('Empty') && group.generationId === 0 && group.members.size === 0 && group.pendingMembers.size === 0;
    if (unused && group.offsets.size === 0 && this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
  }

  private removeMemberAndUpdateGroup(group: Group, member: Member): void {
    // A parked JoinGroup of a removed member is answered so the client can rejoin if it is still alive.
    this.answerJoin(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        return this.maybePrepareRebalance(group);
      case 'PreparingRebalance':
        return this.tryCompleteJoin(group);
      case 'Empty':
      case 'Dead':
        return;
    }
  }

  private answerJoin(member: Member, result: JoinResult): void {
    const resolve = member.awaitingJoin;
    member.awaitingJoin = null;
    resolve?.(result);
  }

  private answerSync(member: Member, result: SyncResult): void {
    const resolve = member.awaitingSync;
    member.awaitingSync = null;
    resolve?.(result);
  }

  /** Writes the group's generation (members, leader, protocol, assignments) to its offsets partition. */
  private storeGroup(group: Group, assignment: ReadonlyMap<string, Buffer>): Promise<void> {
    const protocolName = group.protocolName;
    const snapshot: GroupMetadataSnapshot = {
      protocolType: group.protocolType ?? '',
      generationId: group.generationId,
      protocolName,
      leaderId: group.leaderId,
      stateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: protocolName === null ? EMPTY : m.metadataFor(protocolName),
        assignment: assignment.get(m.memberId) ?? EMPTY,
      })),
    };
    return this.append(group.groupId, [encodeCoordinatorRecord({ type: 'group', groupId: group.groupId, value: snapshot })]);
  }

  /** Writes a group's records at the leader epoch its partition was loaded at; NOT_COORDINATOR once it is not held. */
  private append(groupId: string, records: EncodedRecord[]): Promise<void> {
    const partition = this.partitionFor(groupId);
    const held = this.held.get(partition);
    if (!held?.loaded) {
      return Promise.reject(
        Object.assign(new Error(`group ${groupId}: __consumer_offsets partition ${partition} is no longer coordinated here`), {
          kafkaErrorCode: ErrorCode.NOT_COORDINATOR,
        }),
      );
    }
    return this.log.append(partition, held.leaderEpoch, records);
  }

  /** Groups known right now (for tests and metrics). */
  groupState(groupId: string): GroupState | null {
    return this.groups.get(groupId)?.state ?? null;
  }
}

