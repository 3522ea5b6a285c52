// The Raft core of the metadata quorum: a pure state machine, as etcd's raft package is one.
// It owns no clock, socket or file. A driver feeds it `tick()` (a fixed slice of time),
// `step(message)` (a message from another voter) and `propose(record)`, then drains `ready()`:
// it persists the quorum state and log writes durably, only then sends the messages and
// applies the committed entries. The same core runs unchanged on the simulated network of the
// tests and on TCP between brokers.
//
// Replication is pushed by the leader (Raft's AppendEntries), not pulled by followers as in
// KIP-595's Fetch. With push the leader decides what is in flight to whom, so the core needs no
// parked long-poll requests and the driver only moves messages; a heartbeat doubles as KIP-595's
// BeginQuorumEpoch (it tells every voter the new leader at once). KIP-595's other safety ideas
// are here: pre-vote (KIP-996) so a voter returning from a partition cannot depose a healthy
// leader, a leader that steps down when it stops hearing from a majority (check quorum),
// voters that ignore vote requests while they hear from a leader (its lease), and resign() for
// a controlled shutdown, which like EndQuorumEpoch spares the quorum an election timeout.
// "Term" is Raft's word for KRaft's leader epoch. The voter set is fixed at start; membership
// changes are not supported. A snapshot travels in one message (metadata snapshots are small).
import { NotLeaderError, RaftUsageError } from './errors.js';
import { RaftLog } from './raft-log.js';
import type {
  AppendRequest,
  AppendResponse,
  Heartbeat,
  NodeId,
  PersistedRaftState,
  RaftEntry,
  RaftMessage,
  RaftRole,
  RaftSnapshot,
  RaftStatus,
  Ready,
  SnapshotRequest,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './types.js';

export interface RaftConfig {
  readonly id: NodeId;
  /** Every voter's id, the same list on every voter, including this one. */
  readonly voters: readonly NodeId[];
  /** Ticks without a leader before a follower campaigns; the real timeout is drawn from [n, 2n). */
  readonly electionTicks: number;
  /** Ticks between the leader's heartbeats; well below electionTicks. */
  readonly heartbeatTicks: number;
  /** Uniform in [0, 1); injected so simulated runs replay exactly. */
  readonly random: () => number;
  /** Ask for pre-votes before raising the term (default true). */
  readonly preVote?: boolean;
  /** Most entries in one append message (default 64). */
  readonly maxEntriesPerAppend?: number;
}

/** Where a proposal landed: it is committed once an entry with this index and term is. */
export interface ProposalPosition {
  readonly index: number;
  readonly term: number;
}

/** The leader's view of one follower. */
interface Progress {
  match: number;
  next: number;
  /** probe: one append per heartbeat until a match is found; replicate: pipelined; snapshot: waiting for one. */
  mode: 'probe' | 'replicate' | 'snapshot';
  probeSent: boolean;
  snapshotSentAt: number;
  /** Heard from within the current election timeout (check quorum). */
  recentActive: boolean;
}

export type CommittedRead =
  | { readonly kind: 'entries'; readonly entries: readonly RaftEntry[] }
  | { readonly kind: 'snapshot'; readonly snapshot: RaftSnapshot };

const emptyEntries: readonly RaftEntry[] = Object.freeze([]);

export class RaftNode {
  readonly id: NodeId;
  private readonly voters: readonly NodeId[];
  private readonly peers: readonly NodeId[];
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly random: () => number;
  private readonly preVote: boolean;
  private readonly maxEntriesPerAppend: number;

  private readonly log: RaftLog;
  private term: number;
  private votedFor: NodeId | null;
  private role: RaftRole = 'follower';
  private leader: NodeId | null = null;
  private commitIndex: number;
  /** Highest index handed to the applier through ready(). */
  private appliedIndex: number;
  private latestSnapshot: RaftSnapshot | null;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since becoming leader, to pace snapshot resends. */
  private leaderClock = 0;
  private readonly votes = new Map<NodeId, boolean>();
  private readonly progress = new Map<NodeId, Progress>();

  private outbox: RaftMessage[] = [];
  private quorumChanged = false;
  private snapshotToPersist: RaftSnapshot | null = null;
  private snapshotToRestore: RaftSnapshot | null = null;

  constructor(config: RaftConfig, persisted: PersistedRaftState) {
    validateConfig(config);
    this.id = config.id;
    this.voters = [...config.voters];
    this.peers = this.voters.filter((voter) => voter !== config.id);
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.random = config.random;
    this.preVote = config.preVote ?? true;
    this.maxEntriesPerAppend = config.maxEntriesPerAppend ?? 64;

    this.log = new RaftLog(persisted.snapshot, persisted.entries);
    this.term = persisted.quorum.term;
    this.votedFor = persisted.quorum.votedFor;
    this.latestSnapshot = persisted.snapshot;
    this.commitIndex = this.log.snapshotIndex;
    this.appliedIndex = this.log.snapshotIndex;
    this.resetElectionTimer();
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** Advances time by one tick: elections for followers, heartbeats and check quorum for the leader. */
  tick(): void {
    this.electionElapsed++;
    if (this.role !== 'leader') {
      if (this.electionElapsed >= this.randomizedElectionTimeout) this.startElection();
      return;
    }
    this.leaderClock++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (!this.hearsFromQuorum()) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    this.heartbeatElapsed++;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      for (const peer of this.peers) {
        const progress = this.progressOf(peer);
        this.send<Heartbeat>({ kind: 'heartbeat', to: peer, commit: Math.min(progress.match, this.commitIndex) });
      }
    }
  }

  /** Handles one message from another voter. Messages not addressed here or from non-voters are ignored. */
  step(message: RaftMessage): void {
    if (message.to !== this.id || message.from === this.id || !this.voters.includes(message.from)) return;
    if (message.term > this.term) {
      const isVoteRequest = message.kind === 'vote' || message.kind === 'pre-vote';
      // A voter that hears from a leader ignores candidates: a healthy leader is not deposed
      // by a voter that merely lost touch with it.
      if (isVoteRequest && !message.transfer && this.inLease()) return;
      const keepsTerm = message.kind === 'pre-vote' || (message.kind === 'pre-vote-response' && message.granted);
      if (!keepsTerm) {
        const fromLeader = message.kind === 'append' || message.kind === 'heartbeat' || message.kind === 'snapshot';
        this.becomeFollower(message.term, fromLeader ? message.from : null);
      }
    } else if (message.term < this.term) {
      // Tell a stale leader or pre-candidate the current term, so it steps down.
      if (message.kind === 'append' || message.kind === 'heartbeat' || message.kind === 'snapshot') {
        this.send<AppendResponse>({ kind: 'append-response', to: message.from, success: false, matchIndex: 0, rejectedIndex: 0, hintIndex: 0 });
      } else if (message.kind === 'pre-vote') {
        this.send<VoteResponse>({ kind: 'pre-vote-response', to: message.from, granted: false });
      }
      return;
    }

    switch (message.kind) {
      case 'vote':
      case 'pre-vote':
        this.handleVoteRequest(message);
        return;
      case 'vote-response':
      case 'pre-vote-response':
        this.handleVoteResponse(message);
        return;
      case 'append':
        this.hearFromLeader(message.from);
        this.handleAppend(message);
        return;
      case 'heartbeat':
        this.hearFromLeader(message.from);
        this.commitTo(Math.min(message.commit, this.log.lastIndex));
        this.send({ kind: 'heartbeat-response', to: message.from });
        return;
      case 'snapshot':
        this.hearFromLeader(message.from);
        this.handleSnapshot(message);
        return;
      case 'append-response':
        this.handleAppendResponse(message);
        return;
      case 'heartbeat-response':
        this.handleHeartbeatResponse(message.from);
        return;
      case 'timeout-now':
        if (this.role === 'follower') this.becomeCandidate(true);
        return;
    }
  }

  /** Appends a record on the leader; throws NotLeaderError elsewhere. */
  propose(data: Uint8Array): ProposalPosition {
    if (this.role !== 'leader') throw new NotLeaderError(this.id, this.leader, this.term);
    const entry: RaftEntry = { index: this.log.lastIndex + 1, term: this.term, data };
    this.log.append(entry);
    for (const peer of this.peers) this.sendAppend(peer, false);
    this.advanceCommit();
    return { index: entry.index, term: entry.term };
  }

  /**
   * Hands leadership to the follower that holds the whole log (for a controlled shutdown), so
   * the quorum elects it at once instead of waiting out an election timeout. This voter steps
   * down either way; returns the follower asked to campaign, or null when none is caught up.
   */
  resign(): NodeId | null {
    if (this.role !== 'leader') throw new NotLeaderError(this.id, this.leader, this.term);
    const target = this.peers.find((peer) => this.progressOf(peer).match === this.log.lastIndex) ?? null;
    if (target !== null) this.send<TimeoutNow>({ kind: 'timeout-now', to: target });
    this.becomeFollower(this.term, null);
    return target;
  }

  /**
   * Replaces the log up to `index` (already applied, i.e. handed out by ready()) with the
   * applier's snapshot of its state there.
   */
  takeSnapshot(index: number, data: Uint8Array): RaftSnapshot {
    if (index <= this.log.snapshotIndex) {
      throw new RaftUsageError(`snapshot at ${index} is not newer than the snapshot at ${this.log.snapshotIndex}`);
    }
    if (index > this.appliedIndex) {
      throw new RaftUsageError(`snapshot at ${index} is beyond the applied index ${this.appliedIndex}`);
    }
    const term = this.log.termAt(index);
    if (term === undefined) throw new RaftUsageError(`entry ${index} is not in the log`);
    const snapshot: RaftSnapshot = { lastIndex: index, lastTerm: term, data };
    this.log.compact(snapshot);
    this.latestSnapshot = snapshot;
    this.snapshotToPersist = snapshot;
    return snapshot;
  }

  // ---- outputs -----------------------------------------------------------------------------

  /** Whether ready() has anything to hand out. */
  hasReady(): boolean {
    return (
      this.quorumChanged ||
      this.snapshotToPersist !== null ||
      this.outbox.length > 0 ||
      this.commitIndex > this.appliedIndex ||
      this.snapshotToRestore !== null ||
      this.log.hasChanges()
    );
  }

  /** Drains what the driver must persist, send and apply, in that order (see Ready). */
  ready(): Ready {
    const quorum = this.quorumChanged ? { term: this.term, votedFor: this.votedFor } : null;
    this.quorumChanged = false;
    const snapshot = this.snapshotToPersist;
    this.snapshotToPersist = null;
    const restore = this.snapshotToRestore;
    this.snapshotToRestore = null;
    if (restore) this.appliedIndex = Math.max(this.appliedIndex, restore.lastIndex);
    const committed = this.commitIndex > this.appliedIndex ? this.log.slice(this.appliedIndex + 1, this.commitIndex + 1) : emptyEntries;
    this.appliedIndex = Math.max(this.appliedIndex, this.commitIndex);
    const messages = this.outbox;
    this.outbox = [];
    return { quorum, snapshot, log: this.log.drainChanges(), messages, restore, committed };
  }

  /** Committed entries from `from` on (at most `max`), or the snapshot when `from` is compacted away. */
  readCommitted(from: number, max: number): CommittedRead {
    if (from <= this.log.snapshotIndex) {
      if (!this.latestSnapshot) throw new RaftUsageError(`entry ${from} is before the log start and there is no snapshot`);
      return { kind: 'snapshot', snapshot: this.latestSnapshot };
    }
    return { kind: 'entries', entries: this.log.slice(from, this.commitIndex + 1, max) };
  }

  status(): RaftStatus {
    const matchIndex = new Map<NodeId, number>();
    if (this.role === 'leader') for (const [peer, progress] of this.progress) matchIndex.set(peer, progress.match);
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      votedFor: this.votedFor,
      commitIndex: this.commitIndex,
      lastIndex: this.log.lastIndex,
      snapshotIndex: this.log.snapshotIndex,
      matchIndex,
    };
  }

  /** The term of this voter's entry at `index`, also at the snapshot's last index. */
  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  /** The entry at `index` in this voter's log, if it holds one (for checkers and appliers). */
  entryAt(index: number): RaftEntry | undefined {
    return this.log.entryAt(index);
  }

  // ---- elections ---------------------------------------------------------------------------

  private startElection(): void {
    if (this.preVote) this.becomePreCandidate();
    else this.becomeCandidate(false);
  }

  private becomePreCandidate(): void {
    this.role = 'pre-candidate';
    this.leader = null;
    this.resetElectionTimer();
    this.votes.clear();
    this.votes.set(this.id, true);
    if (this.hasQuorumOf(true)) {
      this.becomeCandidate(false);
      return;
    }
    for (const peer of this.peers) this.requestVote(peer, 'pre-vote', this.term + 1, false);
  }

  private becomeCandidate(transfer: boolean): void {
    this.term++;
    this.votedFor = this.id;
    this.quorumChanged = true;
    this.role = 'candidate';
    this.leader = null;
    this.resetElectionTimer();
    this.votes.clear();
    this.votes.set(this.id, true);
    if (this.hasQuorumOf(true)) {
      this.becomeLeader();
      return;
    }
    for (const peer of this.peers) this.requestVote(peer, 'vote', this.term, transfer);
  }

  private requestVote(peer: NodeId, kind: 'vote' | 'pre-vote', term: number, transfer: boolean): void {
    this.outbox.push({ kind, from: this.id, to: peer, term, lastIndex: this.log.lastIndex, lastTerm: this.log.lastTerm, transfer });
  }

  private handleVoteRequest(request: VoteRequest): void {
    const isPreVote = request.kind === 'pre-vote';
    const free =
      this.votedFor === request.from ||
      (this.votedFor === null && this.leader === null) ||
      (isPreVote && request.term > this.term);
    const upToDate =
      request.lastTerm > this.log.lastTerm || (request.lastTerm === this.log.lastTerm && request.lastIndex >= this.log.lastIndex);
    const kind = isPreVote ? 'pre-vote-response' : 'vote-response';
    if (!free || !upToDate) {
      this.send<VoteResponse>({ kind, to: request.from, granted: false });
      return;
    }
    if (!isPreVote) {
      this.votedFor = request.from;
      this.quorumChanged = true;
      this.electionElapsed = 0;
    }
    this.outbox.push({ kind, from: this.id, to: request.from, term: request.term, granted: true });
  }

  private handleVoteResponse(response: VoteResponse): void {
    const expectedRole = response.kind === 'pre-vote-response' ? 'pre-candidate' : 'candidate';
    if (this.role !== expectedRole) return;
    const roundTerm = response.kind === 'pre-vote-response' ? this.term + 1 : this.term;
    if (response.granted && response.term !== roundTerm) return;
    this.votes.set(response.from, response.granted);
    if (this.hasQuorumOf(true)) {
      if (this.role === 'pre-candidate') this.becomeCandidate(false);
      else this.becomeLeader();
    } else if (this.hasQuorumOf(false)) {
      this.becomeFollower(this.term, null);
    }
  }

  private hasQuorumOf(granted: boolean): boolean {
    let count = 0;
    for (const vote of this.votes.values()) if (vote === granted) count++;
    return count >= this.quorumSize();
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leader = this.id;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.leaderClock = 0;
    this.progress.clear();
    for (const peer of this.peers) {
      this.progress.set(peer, { match: 0, next: this.log.lastIndex + 1, mode: 'probe', probeSent: false, snapshotSentAt: 0, recentActive: true });
    }
    this.log.append({ index: this.log.lastIndex + 1, term: this.term, data: null });
    for (const peer of this.peers) this.sendAppend(peer, true);
    this.advanceCommit();
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (term !== this.term) {
      this.term = term;
      this.votedFor = null;
      this.quorumChanged = true;
    }
    this.role = 'follower';
    this.leader = leader;
    this.votes.clear();
    this.progress.clear();
    this.resetElectionTimer();
  }

  private hearFromLeader(leader: NodeId): void {
    if (this.role !== 'follower') this.becomeFollower(this.term, leader);
    this.leader = leader;
    this.electionElapsed = 0;
  }

  private inLease(): boolean {
    return this.leader !== null && this.electionElapsed < this.electionTicks;
  }

  private hearsFromQuorum(): boolean {
    let active = 1;
    for (const progress of this.progress.values()) {
      if (progress.recentActive) active++;
      progress.recentActive = false;
    }
    return active >= this.quorumSize();
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(this.random() * this.electionTicks);
  }

  // ---- replication: follower side ----------------------------------------------------------

  private handleAppend(request: AppendRequest): void {
    if (request.prevIndex < this.commitIndex) {
      // Everything up to the commit index already matches the leader's log.
      this.acknowledge(request.from, this.commitIndex);
      return;
    }
    if (this.log.termAt(request.prevIndex) !== request.prevTerm) {
      const hintIndex =
        this.log.lastIndex < request.prevIndex
          ? this.log.lastIndex
          : Math.max(this.commitIndex, this.log.firstIndexOfTermAt(request.prevIndex) - 1);
      this.send<AppendResponse>({
        kind: 'append-response',
        to: request.from,
        success: false,
        matchIndex: 0,
        rejectedIndex: request.prevIndex,
        hintIndex,
      });
      return;
    }
    for (const entry of request.entries) {
      const existingTerm = this.log.termAt(entry.index);
      if (existingTerm === entry.term) continue;
      if (existingTerm !== undefined) {
        if (entry.index <= this.commitIndex) {
          throw new RaftUsageError(`leader ${request.from} overwrites committed entry ${entry.index}: Raft safety is broken`);
        }
        this.log.truncateFrom(entry.index);
      }
      this.log.append(entry);
    }
    const lastNew = request.prevIndex + request.entries.length;
    this.commitTo(Math.min(request.commit, lastNew));
    this.acknowledge(request.from, lastNew);
  }

  private handleSnapshot(request: SnapshotRequest): void {
    const snapshot = request.snapshot;
    if (snapshot.lastIndex <= this.commitIndex) {
      this.acknowledge(request.from, this.commitIndex);
      return;
    }
    if (this.log.termAt(snapshot.lastIndex) === snapshot.lastTerm) {
      // The log already holds what the snapshot covers: it only tells us that much is committed.
      this.commitTo(snapshot.lastIndex);
      this.acknowledge(request.from, snapshot.lastIndex);
      return;
    }
    this.log.compact(snapshot);
    this.latestSnapshot = snapshot;
    this.snapshotToPersist = snapshot;
    this.snapshotToRestore = snapshot;
    this.commitIndex = snapshot.lastIndex;
    this.acknowledge(request.from, snapshot.lastIndex);
  }

  private acknowledge(leader: NodeId, matchIndex: number): void {
    this.send<AppendResponse>({ kind: 'append-response', to: leader, success: true, matchIndex, rejectedIndex: 0, hintIndex: 0 });
  }

  private commitTo(index: number): void {
    if (index > this.commitIndex) this.commitIndex = index;
  }

  // ---- replication: leader side ------------------------------------------------------------

  private handleAppendResponse(response: AppendResponse): void {
    if (this.role !== 'leader') return;
    const progress = this.progressOf(response.from);
    progress.recentActive = true;
    if (response.success) {
      if (response.matchIndex > progress.match) progress.match = response.matchIndex;
      progress.next = Math.max(progress.next, progress.match + 1);
      progress.mode = 'replicate';
      this.advanceCommit();
      this.sendAppend(response.from, false);
      return;
    }
    // A refusal of an index already acknowledged is an old, reordered answer.
    if (response.rejectedIndex <= progress.match) return;
    progress.next = Math.max(progress.match + 1, Math.min(response.rejectedIndex, response.hintIndex + 1));
    progress.mode = 'probe';
    progress.probeSent = false;
    this.sendAppend(response.from, true);
  }

  private handleHeartbeatResponse(peer: NodeId): void {
    if (this.role !== 'leader') return;
    const progress = this.progressOf(peer);
    progress.recentActive = true;
    if (progress.match >= this.log.lastIndex) return;
    if (progress.mode === 'snapshot') {
      if (this.leaderClock - progress.snapshotSentAt >= this.electionTicks) this.sendSnapshot(peer, progress);
      return;
    }
    // Resend from where the follower is known to be: appends may have been lost on the way.
    progress.probeSent = false;
    this.sendAppend(peer, true);
  }

  /** Sends the entries `peer` lacks; with `evenIfEmpty`, an empty append that probes its log. */
  private sendAppend(peer: NodeId, evenIfEmpty: boolean): void {
    const progress = this.progressOf(peer);
    if (progress.mode === 'snapshot' || (progress.mode === 'probe' && progress.probeSent)) return;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined) {
      this.sendSnapshot(peer, progress);
      return;
    }
    const entries = this.log.slice(progress.next, this.log.lastIndex + 1, this.maxEntriesPerAppend);
    if (entries.length === 0 && !evenIfEmpty) return;
    this.send<AppendRequest>({ kind: 'append', to: peer, prevIndex, prevTerm, entries, commit: this.commitIndex });
    if (progress.mode === 'probe') progress.probeSent = true;
    else progress.next = prevIndex + entries.length + 1;
  }

  private sendSnapshot(peer: NodeId, progress: Progress): void {
    const snapshot = this.latestSnapshot;
    if (!snapshot) throw new RaftUsageError(`entry ${progress.next - 1} is missing from the log and there is no snapshot`);
    this.send<SnapshotRequest>({ kind: 'snapshot', to: peer, snapshot });
    progress.mode = 'snapshot';
    progress.snapshotSentAt = this.leaderClock;
    progress.next = snapshot.lastIndex + 1;
  }

  /** Commits the highest index a majority holds, if it is of the current term (Raft §5.4.2). */
  private advanceCommit(): void {
    const matches = [this.log.lastIndex, ...this.peers.map((peer) => this.progressOf(peer).match)].sort((a, b) => b - a);
    const majorityIndex = matches[this.quorumSize() - 1] ?? 0;
    if (majorityIndex > this.commitIndex && this.log.termAt(majorityIndex) === this.term) this.commitIndex = majorityIndex;
  }

  private progressOf(peer: NodeId): Progress {
    const progress = this.progress.get(peer);
    if (!progress) throw new RaftUsageError(`voter ${this.id} tracks no progress for ${peer} (role ${this.role})`);
    return progress;
  }

  private quorumSize(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  private send<M extends RaftMessage>(message: Omit<M, 'from' | 'term'> & { to: NodeId }): void {
    this.outbox.push({ ...message, from: this.id, term: this.term } as M);
  }
}

function validateConfig(config: RaftConfig): void {
  if (!config.voters.includes(config.id)) throw new RaftUsageError(`voter ${config.id} is not in the voter list ${config.voters.join(',')}`);
  if (new Set(config.voters).size !== config.voters.length) throw new RaftUsageError(`the voter list ${config.voters.join(',')} repeats an id`);
  if (!Number.isInteger(config.electionTicks) || config.electionTicks < 2) throw new RaftUsageError(`electionTicks must be an integer >= 2, got ${config.electionTicks}`);
  if (!Number.isInteger(config.heartbeatTicks) || config.heartbeatTicks < 1 || config.heartbeatTicks >= config.electionTicks) {
    throw new RaftUsageError(`heartbeatTicks must be an integer in [1, electionTicks), got ${config.heartbeatTicks}`);
  }
}
