// A deterministic simulated network and cluster for the Raft core. Time moves in ticks; each
// tick delivers the messages that are due, in a shuffled order, then ticks every running voter.
// The network can delay (so reorder), lose and duplicate messages and cut links; voters can
// crash, losing everything but what their Ready told them to persist, and restart from that.
// One seeded random source drives all of it, so a seed replays a run exactly. The invariant
// checkers run after every delivered message and every tick.
import { RaftNode, type ProposalPosition } from '../../broker/controller/raft/raft.js';
import type {
  NodeId,
  PersistedRaftState,
  QuorumState,
  RaftEntry,
  RaftMessage,
  RaftSnapshot,
  Ready,
} from '../../broker/controller/raft/types.js';
import { RaftInvariants, type LogView } from './raft-invariants.js';
import { seededRandom } from './seeded-random.js';

export interface RaftSimOptions {
  readonly seed: number;
  readonly voters?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  /** Messages take 1..maxDelay ticks. */
  readonly maxDelay?: number;
  readonly lossRate?: number;
  readonly duplicationRate?: number;
  /** The applier snapshots once this many entries were applied since the last snapshot. */
  readonly snapshotEvery?: number;
  readonly maxEntriesPerAppend?: number;
}

/** A voter's disk: only what a Ready told it to persist, by the rules Ready documents. */
export class MemoryRaftStorage {
  private quorum: QuorumState = { term: 0, votedFor: null };
  private snapshot: RaftSnapshot | null = null;
  private entries: RaftEntry[] = [];

  persist(ready: Ready): void {
    if (ready.quorum) this.quorum = ready.quorum;
    if (ready.snapshot) {
      const snapshot = ready.snapshot;
      const holdsLast = this.entries.some((entry) => entry.index === snapshot.lastIndex && entry.term === snapshot.lastTerm);
      this.entries = holdsLast ? this.entries.filter((entry) => entry.index > snapshot.lastIndex) : [];
      this.snapshot = snapshot;
    }
    if (ready.log) {
      const from = ready.log.from;
      this.entries = this.entries.filter((entry) => entry.index < from).concat(ready.log.entries);
    }
  }

  load(): PersistedRaftState {
    return { quorum: this.quorum, snapshot: this.snapshot, entries: [...this.entries] };
  }
}

/** The applier of the simulation: the records in order, as strings. */
interface Applier {
  appliedIndex: number;
  records: string[];
  sinceSnapshot: number;
}

export interface SimVoter {
  readonly id: NodeId;
  readonly storage: MemoryRaftStorage;
  core: RaftNode | null;
  applier: Applier;
}

interface InFlight {
  readonly message: RaftMessage;
  readonly deliverAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeSnapshotState(records: readonly string[]): Uint8Array {
  return encoder.encode(JSON.stringify(records));
}

function decodeSnapshotState(data: Uint8Array): string[] {
  return JSON.parse(decoder.decode(data)) as string[];
}

export class RaftSim {
  readonly voters: SimVoter[] = [];
  readonly invariants = new RaftInvariants();
  readonly random: () => number;
  now = 0;
  lossRate: number;
  duplicationRate: number;
  maxDelay: number;
  /** Messages dropped, delivered and duplicated so far, to show that faults really happened. */
  readonly counts = { sent: 0, lost: 0, duplicated: 0, delivered: 0, cut: 0, crashes: 0, crashesMidPersist: 0, partitions: 0, resignations: 0 };
  /** Delivered messages by kind. */
  readonly deliveredKinds = new Map<RaftMessage['kind'], number>();

  private readonly options: Required<Omit<RaftSimOptions, 'seed' | 'lossRate' | 'duplicationRate' | 'maxDelay' | 'snapshotEvery'>> & {
    snapshotEvery: number | null;
  };
  private inFlight: InFlight[] = [];
  private readonly crashingMidPersist = new Set<NodeId>();
  /** Group of each voter; voters in different groups cannot reach each other. */
  private readonly group = new Map<NodeId, number>();

  constructor(options: RaftSimOptions) {
    this.random = seededRandom(options.seed);
    this.lossRate = options.lossRate ?? 0;
    this.duplicationRate = options.duplicationRate ?? 0;
    this.maxDelay = options.maxDelay ?? 2;
    this.options = {
      voters: options.voters ?? 3,
      electionTicks: options.electionTicks ?? 10,
      heartbeatTicks: options.heartbeatTicks ?? 2,
      preVote: options.preVote ?? true,
      maxEntriesPerAppend: options.maxEntriesPerAppend ?? 16,
      snapshotEvery: options.snapshotEvery ?? null,
    };
    for (let id = 0; id < this.options.voters; id++) {
      const voter: SimVoter = { id, storage: new MemoryRaftStorage(), core: null, applier: { appliedIndex: 0, records: [], sinceSnapshot: 0 } };
      this.voters.push(voter);
      this.group.set(id, 0);
      this.start(voter);
    }
  }

  // ---- time --------------------------------------------------------------------------------

  /** Advances `count` ticks. */
  tick(count = 1): void {
    for (let i = 0; i < count; i++) this.tickOnce();
  }

  /** Ticks until `done()` holds; throws after `maxTicks`. Returns the ticks it took. */
  runUntil(done: () => boolean, maxTicks: number, what: string): number {
    for (let ticks = 0; ticks <= maxTicks; ticks++) {
      if (done()) return ticks;
      this.tickOnce();
    }
    throw new Error(`${what}: not reached within ${maxTicks} ticks (tick ${this.now})`);
  }

  private tickOnce(): void {
    this.now++;
    const due = this.inFlight.filter((flight) => flight.deliverAt <= this.now);
    this.inFlight = this.inFlight.filter((flight) => flight.deliverAt > this.now);
    for (const flight of this.shuffle(due)) this.deliver(flight.message);
    for (const voter of this.shuffle(this.voters)) {
      if (!voter.core) continue;
      voter.core.tick();
      this.afterStep(voter);
    }
  }

  private deliver(message: RaftMessage): void {
    const voter = this.voters[message.to];
    if (!voter?.core) return;
    if (!this.canReach(message.from, message.to)) {
      this.counts.cut++;
      return;
    }
    this.counts.delivered++;
    this.deliveredKinds.set(message.kind, (this.deliveredKinds.get(message.kind) ?? 0) + 1);
    voter.core.step(message);
    this.afterStep(voter);
  }

  // ---- the driver: persist, then send, then apply -----------------------------------------

  private afterStep(voter: SimVoter): void {
    const core = voter.core;
    if (!core) return;
    while (core.hasReady()) {
      const ready = core.ready();
      if (this.crashingMidPersist.delete(voter.id)) {
        this.persistPartlyAndCrash(voter, ready);
        this.checkRoles();
        return;
      }
      voter.storage.persist(ready);
      if (ready.log) for (const entry of ready.log.entries) this.invariants.observeStored(voter.id, entry, core.termAt(entry.index - 1) ?? -1);
      for (const message of ready.messages) this.send(message);
      if (ready.restore) this.restoreApplier(voter, ready.restore);
      for (const entry of ready.committed) this.apply(voter, entry);
      this.maybeSnapshot(voter);
    }
    this.checkRoles();
  }

  private apply(voter: SimVoter, entry: RaftEntry): void {
    const core = voter.core!;
    this.invariants.observeApplied(voter.id, core.status().term, entry);
    voter.applier.appliedIndex = entry.index;
    voter.applier.sinceSnapshot++;
    if (entry.data) voter.applier.records.push(decoder.decode(entry.data));
    this.invariants.checkCommittedAgainst(this.leaderViews(), entry.index);
  }

  private restoreApplier(voter: SimVoter, snapshot: RaftSnapshot): void {
    const records = decodeSnapshotState(snapshot.data);
    this.invariants.observeRestore(voter.id, snapshot.lastIndex, records);
    voter.applier = { appliedIndex: snapshot.lastIndex, records, sinceSnapshot: 0 };
  }

  private maybeSnapshot(voter: SimVoter): void {
    const every = this.options.snapshotEvery;
    if (every === null || voter.applier.sinceSnapshot < every) return;
    voter.core!.takeSnapshot(voter.applier.appliedIndex, encodeSnapshotState(voter.applier.records));
    voter.applier.sinceSnapshot = 0;
  }

  private checkRoles(): void {
    for (const voter of this.voters) {
      const status = voter.core?.status();
      if (!status) continue;
      this.invariants.observeRole(voter.id, status.term, status.role);
      if (status.role === 'leader') this.invariants.checkLeader(this.logView(voter), status.term);
    }
  }

  private leaderViews(): { view: LogView; term: number }[] {
    const leaders: { view: LogView; term: number }[] = [];
    for (const voter of this.voters) {
      const status = voter.core?.status();
      if (status?.role === 'leader') leaders.push({ view: this.logView(voter), term: status.term });
    }
    return leaders;
  }

  logView(voter: SimVoter): LogView {
    const core = voter.core;
    if (!core) throw new Error(`voter ${voter.id} is down`);
    const status = core.status();
    return { id: voter.id, snapshotIndex: status.snapshotIndex, lastIndex: status.lastIndex, entryAt: (index) => core.entryAt(index) };
  }

  /** Whole-log log matching between every pair of running voters. */
  checkAllLogs(): void {
    const running = this.voters.filter((voter) => voter.core);
    for (let a = 0; a < running.length; a++) {
      for (let b = a + 1; b < running.length; b++) this.invariants.checkLogPair(this.logView(running[a]!), this.logView(running[b]!));
    }
  }

  private send(message: RaftMessage): void {
    this.counts.sent++;
    if (this.random() < this.lossRate) {
      this.counts.lost++;
      return;
    }
    const copies = this.random() < this.duplicationRate ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      // A copy, as a wire would make: the core must not share or mutate what it sent.
      this.inFlight.push({ message: structuredClone(message), deliverAt: this.now + 1 + Math.floor(this.random() * this.maxDelay) });
    }
  }

  // ---- faults ------------------------------------------------------------------------------

  /** The voter stops; everything not persisted (role, commit index, applier, in-flight work) is gone. */
  crash(id: NodeId): void {
    const voter = this.voterOf(id);
    voter.core = null;
    this.crashingMidPersist.delete(id);
    this.counts.crashes++;
  }

  /**
   * The voter crashes while persisting its next Ready: only a prefix of the writes reaches the
   * disk (in the order a driver writes them: quorum state, snapshot, then log entries one by
   * one, as a torn tail leaves them), and nothing of it is sent or applied.
   */
  crashDuringNextPersist(id: NodeId): void {
    this.crashingMidPersist.add(id);
  }

  /** Voters due to crash in their next persist. */
  get crashesPending(): number {
    return this.crashingMidPersist.size;
  }

  cancelPendingCrashes(): void {
    this.crashingMidPersist.clear();
  }

  private persistPartlyAndCrash(voter: SimVoter, ready: Ready): void {
    const writes: Ready[] = [];
    const nothing: Ready = { quorum: null, snapshot: null, log: null, messages: [], restore: null, committed: [] };
    if (ready.quorum) writes.push({ ...nothing, quorum: ready.quorum });
    if (ready.snapshot) writes.push({ ...nothing, snapshot: ready.snapshot });
    if (ready.log) {
      const { from, entries } = ready.log;
      writes.push({ ...nothing, log: { from, entries: [] } });
      entries.forEach((_, i) => writes.push({ ...nothing, log: { from, entries: entries.slice(0, i + 1) } }));
    }
    const done = Math.floor(this.random() * (writes.length + 1));
    for (const write of writes.slice(0, done)) voter.storage.persist(write);
    this.counts.crashesMidPersist++;
    this.crash(voter.id);
  }

  /** The voter starts again from its persisted state; its applier from its stored snapshot. */
  restart(id: NodeId): void {
    const voter = this.voterOf(id);
    if (voter.core) throw new Error(`voter ${id} is running`);
    this.start(voter);
  }

  private start(voter: SimVoter): void {
    const persisted = voter.storage.load();
    voter.core = new RaftNode(
      {
        id: voter.id,
        voters: [...Array(this.options.voters).keys()],
        electionTicks: this.options.electionTicks,
        heartbeatTicks: this.options.heartbeatTicks,
        preVote: this.options.preVote,
        maxEntriesPerAppend: this.options.maxEntriesPerAppend,
        random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      },
      persisted,
    );
    if (persisted.snapshot) this.restoreApplier(voter, persisted.snapshot);
    else {
      voter.applier = { appliedIndex: 0, records: [], sinceSnapshot: 0 };
      this.invariants.forgetApplied(voter.id, 0);
    }
  }

  /** Splits the voters into groups that cannot reach each other; voters not named form one more group. */
  partition(...groups: NodeId[][]): void {
    this.counts.partitions++;
    for (const voter of this.voters) this.group.set(voter.id, groups.length);
    groups.forEach((members, index) => {
      for (const id of members) this.group.set(id, index);
    });
  }

  isolate(id: NodeId): void {
    this.partition([id]);
  }

  heal(): void {
    for (const voter of this.voters) this.group.set(voter.id, 0);
  }

  private canReach(from: NodeId, to: NodeId): boolean {
    return this.group.get(from) === this.group.get(to);
  }

  // ---- the client's view -------------------------------------------------------------------

  /** The running leader of the highest term, if any. */
  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const voter of this.voters) {
      const status = voter.core?.status();
      if (status?.role === 'leader' && (!best || status.term > best.term)) best = { id: voter.id, term: status.term };
    }
    return best?.id ?? null;
  }

  leaders(): NodeId[] {
    return this.voters.filter((voter) => voter.core?.status().role === 'leader').map((voter) => voter.id);
  }

  /** Voter `id` (which must lead) resigns; returns the follower it asked to campaign. */
  resign(id: NodeId): NodeId | null {
    const voter = this.voterOf(id);
    if (!voter.core) throw new Error(`voter ${id} is down`);
    const target = voter.core.resign();
    this.counts.resignations++;
    this.afterStep(voter);
    return target;
  }

  /** Proposes `record` on voter `id` (which must lead) and processes the result. */
  propose(id: NodeId, record: string): ProposalPosition {
    const voter = this.voterOf(id);
    if (!voter.core) throw new Error(`voter ${id} is down`);
    const position = voter.core.propose(encoder.encode(record));
    this.afterStep(voter);
    return position;
  }

  /** Whether some voter applied the proposal (an entry at its index with its term). */
  isCommitted(position: ProposalPosition): boolean {
    return this.invariants.committedTermAt(position.index) === position.term;
  }

  records(id: NodeId): readonly string[] {
    return this.voterOf(id).applier.records;
  }

  voterOf(id: NodeId): SimVoter {
    const voter = this.voters[id];
    if (!voter) throw new Error(`no voter ${id}`);
    return voter;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  private shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }
}
