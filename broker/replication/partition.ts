// One partition replica on this broker, as Kafka's Partition: its log, its role (leader or
// follower) at a leader epoch from the metadata image, and, while it leads, what each follower
// has fetched, the high watermark over the ISR and the acks=all writes waiting for it.
//
// The high watermark is the lowest log end offset among the ISR members, counting a follower
// the leader has asked the controller to add (Kafka's "maximal ISR") so that a new member is
// caught up before it can be elected. Consumers read below it; acks=all answers once it has
// passed the write. A follower's high watermark is its leader's, capped at its own log end.
import type { PartitionState } from '../controller/cluster/image.js';
import { ErrorCode } from '../protocol/errors.js';
import type { PartitionLog } from '../storage/partition-log.js';

export type ReplicaRole = 'leader' | 'follower';

interface FollowerProgress {
  /** The offset the follower fetched from last: everything below it is on its log. */
  logEndOffset: number;
  /** When it was last known to have everything the leader had (for replica.lag.time.max.ms). */
  lastCaughtUpAt: number;
  /** The leader's log end offset when it last fetched, and when that was. */
  lastFetchLeaderEnd: number;
  lastFetchAt: number;
}

interface AckWaiter {
  readonly lastOffset: number;
  readonly resolve: (errorCode: number) => void;
  timer: NodeJS.Timeout | null;
}

export class Partition {
  private stateValue: PartitionState;
  private roleValue: ReplicaRole;
  private hw: number;
  private readonly followers = new Map<number, FollowerProgress>();
  private readonly waiters: AckWaiter[] = [];
  /** When this replica last became leader. */
  private leaderSince = 0;
  /** The log end when this leadership began (see setEpochStartOffset). */
  private epochStartOffset = Number.POSITIVE_INFINITY;
  /** The ISR the leader has asked the controller for and not yet seen applied. */
  pendingIsr: readonly number[] | null = null;
  /** Set when the follower must ask its leader where their logs diverge before fetching. */
  needsTruncation = false;

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly key: string,
    readonly log: PartitionLog,
    private readonly selfId: number,
    state: PartitionState,
    highWatermark: number,
    now: number,
  ) {
    this.stateValue = state;
    this.roleValue = state.leader === selfId ? 'leader' : 'follower';
    this.hw = Math.min(highWatermark, log.logEndOffset);
    if (this.roleValue === 'leader') this.resetFollowers(now);
    else this.needsTruncation = true;
  }

  get state(): PartitionState {
    return this.stateValue;
  }

  get role(): ReplicaRole {
    return this.roleValue;
  }

  get leaderEpoch(): number {
    return this.stateValue.leaderEpoch;
  }

  get highWatermark(): number {
    return this.hw;
  }

  /** The error a request naming `currentLeaderEpoch` gets from this replica as leader, or NONE. */
  leaderError(currentLeaderEpoch: number): number {
    if (currentLeaderEpoch !== -1 && currentLeaderEpoch !== this.stateValue.leaderEpoch) {
      return currentLeaderEpoch > this.stateValue.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
    }
    return this.roleValue === 'leader' ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }

  /**
   * Takes the image's new state. Returns what changed for the replica manager: a new leader
   * epoch (start or stop fetching, truncate) or only the ISR.
   */
  update(state: PartitionState, now: number): { roleChanged: boolean; epochChanged: boolean } {
    const previous = this.stateValue;
    this.stateValue = state;
    const epochChanged = state.leaderEpoch !== previous.leaderEpoch || state.leader !== previous.leader;
    const role: ReplicaRole = state.leader === this.selfId ? 'leader' : 'follower';
    const roleChanged = role !== this.roleValue;
    if (this.pendingIsr && (epochChanged || state.partitionEpoch !== previous.partitionEpoch)) this.pendingIsr = null;
    if (epochChanged) {
      this.failWaiters(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      this.roleValue = role;
      if (role === 'leader') this.resetFollowers(now);
      else {
        this.followers.clear();
        this.needsTruncation = true;
      }
    }
    if (this.roleValue === 'leader') this.advanceHighWatermark();
    return { roleChanged, epochChanged };
  }

  // ---- leader --------------------------------------------------------------------------------

  /** The ISR as it counts for the high watermark: the image's plus any member being added. */
  private maximalIsr(): readonly number[] {
    const pending = this.pendingIsr;
    if (!pending) return this.stateValue.isr;
    return [...new Set([...this.stateValue.isr, ...pending])];
  }

  /** After an append as leader: moves the high watermark if this replica is the whole ISR. */
  afterLeaderAppend(): void {
    this.advanceHighWatermark();
  }

  /**
   * A follower fetched from `fetchOffset`: it has everything below it. Returns true when the
   * high watermark moved.
   */
  recordFollowerFetch(replicaId: number, fetchOffset: number, now: number): boolean {
    let progress = this.followers.get(replicaId);
    if (!progress) {
      progress = { logEndOffset: fetchOffset, lastCaughtUpAt: this.leaderSince, lastFetchLeaderEnd: 0, lastFetchAt: this.leaderSince };
      this.followers.set(replicaId, progress);
    }
    const leaderEnd = this.log.logEndOffset;
    if (fetchOffset >= leaderEnd) progress.lastCaughtUpAt = now;
    else if (fetchOffset >= progress.lastFetchLeaderEnd) progress.lastCaughtUpAt = Math.max(progress.lastCaughtUpAt, progress.lastFetchAt);
    progress.logEndOffset = fetchOffset;
    progress.lastFetchLeaderEnd = leaderEnd;
    progress.lastFetchAt = now;
    return this.advanceHighWatermark();
  }

  /**
   * The follower may join the ISR: it has everything up to the high watermark and up to where
   * this leadership began (and it is not in yet). The second bound matters right after a leader
   * change: the new leader's high watermark may still trail what the old one had acknowledged,
   * and a follower admitted on that alone could be elected without records already acknowledged
   * (Kafka's rule too: the follower must reach the leader epoch's start offset).
   */
  canJoinIsr(replicaId: number): boolean {
    const progress = this.followers.get(replicaId);
    return (
      progress !== undefined &&
      this.stateValue.replicas.includes(replicaId) &&
      !this.maximalIsr().includes(replicaId) &&
      progress.logEndOffset >= this.hw &&
      progress.logEndOffset >= this.epochStartOffset
    );
  }

  /**
   * Where this leadership began in the log: the log end once every append before it has landed
   * (the replica manager sets it when it takes the leadership over). Until then no one joins.
   */
  setEpochStartOffset(offset: number): void {
    this.epochStartOffset = offset;
  }

  /** ISR members other than the leader that have not been caught up within `lagMs`. */
  laggingIsrMembers(now: number, lagMs: number): number[] {
    return this.stateValue.isr.filter((id) => id !== this.selfId && now - (this.followers.get(id)?.lastCaughtUpAt ?? this.leaderSince) > lagMs);
  }

  /**
   * Resolves with NONE once the high watermark passes `lastOffset`, NOT_LEADER_OR_FOLLOWER if
   * leadership moves first, or REQUEST_TIMED_OUT after `timeoutMs`.
   */
  waitForReplication(lastOffset: number, timeoutMs: number): Promise<number> {
    if (this.hw > lastOffset) return Promise.resolve(ErrorCode.NONE);
    if (this.roleValue !== 'leader') return Promise.resolve(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    return new Promise((resolve) => {
      const waiter: AckWaiter = { lastOffset, resolve, timer: null };
      waiter.timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve(ErrorCode.REQUEST_TIMED_OUT);
      }, Math.max(0, timeoutMs));
      this.waiters.push(waiter);
    });
  }

  private advanceHighWatermark(): boolean {
    if (this.roleValue !== 'leader') return false;
    let low = this.log.logEndOffset;
    for (const id of this.maximalIsr()) {
      if (id === this.selfId) continue;
      const progress = this.followers.get(id);
      // A member that has not fetched in this epoch holds the mark where it is.
      if (!progress) return false;
      low = Math.min(low, progress.logEndOffset);
    }
    if (low <= this.hw) return false;
    this.hw = low;
    while (this.waiters.length > 0 && this.waiters[0]!.lastOffset < low) {
      const waiter = this.waiters.shift()!;
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(ErrorCode.NONE);
    }
    return true;
  }

  private resetFollowers(now: number): void {
    // Until a member fetches in this leadership its log end is unknown, so it holds the high
    // watermark where it is; it has a whole lag window from now before it counts as lagging.
    this.followers.clear();
    this.leaderSince = now;
    this.epochStartOffset = Number.POSITIVE_INFINITY;
  }

  // ---- follower ------------------------------------------------------------------------------

  /** Takes the leader's high watermark from a fetch response, capped at this log's end. */
  setFollowerHighWatermark(leaderHighWatermark: number): void {
    this.hw = Math.min(leaderHighWatermark, this.log.logEndOffset);
  }

  /** After a truncation: the high watermark cannot be past the log end. */
  clampHighWatermark(): void {
    this.hw = Math.min(this.hw, this.log.logEndOffset);
  }

  /** Answers every waiting write with `errorCode` (leadership moved, or the partition is going away). */
  failWaiters(errorCode: number): void {
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(errorCode);
    }
  }
}
