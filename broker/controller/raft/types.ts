// The Raft core's vocabulary: log entries, snapshots, the durable quorum state, the messages
// voters exchange and the Ready batch a driver drains. Plain data only, so a driver can encode
// messages for the wire and the simulated network can copy, delay and duplicate them.

export type NodeId = number;

/**
 * One replicated metadata record. `data` is null for the marker a new leader appends at the
 * start of its term (KRaft's LeaderChange control record): committing it commits every entry
 * before it, which a leader may not do by counting replicas of an older term's entry. Appliers
 * skip markers but still count their index as applied.
 */
export interface RaftEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array | null;
}

/** The applier's state as of `lastIndex` (inclusive); the log before it is no longer kept. */
export interface RaftSnapshot {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly data: Uint8Array;
}

/** What a voter must have on disk before it answers anyone (KRaft's quorum-state file). */
export interface QuorumState {
  readonly term: number;
  readonly votedFor: NodeId | null;
}

/** Everything a voter restarts from: its quorum state, snapshot and log after the snapshot. */
export interface PersistedRaftState {
  readonly quorum: QuorumState;
  readonly snapshot: RaftSnapshot | null;
  readonly entries: readonly RaftEntry[];
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** Asks for a vote; as a pre-vote, `term` is the term the sender would campaign in. */
export interface VoteRequest extends Envelope {
  readonly kind: 'vote' | 'pre-vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** The campaign was asked for by a resigning leader, so voters answer despite its recent heartbeats. */
  readonly transfer: boolean;
}

/** A vote answer; a granted answer carries the request's term, a refusal the voter's own. */
export interface VoteResponse extends Envelope {
  readonly kind: 'vote-response' | 'pre-vote-response';
  readonly granted: boolean;
}

/** The leader's replication request: entries after (prevIndex, prevTerm) and its commit index. */
export interface AppendRequest extends Envelope {
  readonly kind: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly RaftEntry[];
  readonly commit: number;
}

/**
 * The follower's answer to an append or a snapshot. On success `matchIndex` is the last index
 * known to equal the leader's log; on refusal `rejectedIndex` is the request's prevIndex and
 * `hintIndex` an index at or below which the follower's log may still match.
 */
export interface AppendResponse extends Envelope {
  readonly kind: 'append-response';
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly hintIndex: number;
}

/** Liveness from the leader; `commit` is capped at what the follower is known to hold. */
export interface Heartbeat extends Envelope {
  readonly kind: 'heartbeat';
  readonly commit: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly kind: 'heartbeat-response';
}

/** The leader's snapshot for a follower whose next entry the leader no longer keeps. */
export interface SnapshotRequest extends Envelope {
  readonly kind: 'snapshot';
  readonly snapshot: RaftSnapshot;
}

/** A resigning leader asks its most caught-up follower to campaign now (KIP-595's EndQuorumEpoch, aimed). */
export interface TimeoutNow extends Envelope {
  readonly kind: 'timeout-now';
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | SnapshotRequest
  | TimeoutNow;

/**
 * What the core produced since the last drain, in the order the driver must handle it:
 * persist `quorum`, then `snapshot`, then `log` (all durably), only then send `messages`,
 * restore the applier from `restore` and apply `committed`. A vote or an acknowledgement
 * sent before its state is on disk could be forgotten by a crash and given twice. Readies are
 * handled one at a time, in the order drained; the core may be stepped meanwhile.
 */
export interface Ready {
  /** The quorum state, when it changed. */
  readonly quorum: QuorumState | null;
  /**
   * A snapshot to store. The stored log then keeps only the entries after its lastIndex, and
   * only if it holds the snapshot's last entry with the snapshot's term; otherwise it is emptied.
   */
  readonly snapshot: RaftSnapshot | null;
  /** Log writes: drop every stored entry at index >= `from`, then append `entries`. */
  readonly log: { readonly from: number; readonly entries: readonly RaftEntry[] } | null;
  readonly messages: readonly RaftMessage[];
  /** A snapshot received from the leader: the applier replaces its state with it. */
  readonly restore: RaftSnapshot | null;
  /** Entries newly committed, in index order, to apply after `restore`. */
  readonly committed: readonly RaftEntry[];
}

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** A voter's view of the quorum, as DescribeQuorum reports it. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly votedFor: NodeId | null;
  readonly commitIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Each other voter's acknowledged log end, known only on the leader. */
  readonly matchIndex: ReadonlyMap<NodeId, number>;
}
