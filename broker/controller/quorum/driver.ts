// The quorum driver runs the pure Raft core (../raft) on real time, real files and real TCP:
// a timer turns time into tick()s, messages from the transport are step()ped in, and each
// Ready is handled whole and in order: persisted (fsync) first, only then its messages sent,
// a received snapshot restored and its committed records applied. A proposal resolves when an
// entry with its index and term is applied here; it fails when another term's entry commits
// at its index or this voter stops leading first. The broker wires it from its flags (node id,
// --voters, --controller-listen, data dir) and reads status() for DescribeQuorum.
import type { Logger } from '../../log.js';
import { describeError } from '../../log.js';
import { RaftNode, type ProposalPosition } from '../raft/raft.js';
import { RaftFileStorage } from '../raft/storage.js';
import type { NodeId, RaftEntry, RaftMessage, RaftRole, RaftSnapshot } from '../raft/types.js';
import type { MetadataApplier } from './applier.js';
import { LeadershipLostError, ProposalLostError, QuorumClosedError, QuorumConfigError } from './errors.js';
import { QuorumTransport, defaultTransportLimits, type TransportLimits } from './transport.js';
import type { VoterAddress } from './wire.js';

export interface QuorumTiming {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
}

/**
 * 100 ms ticks, a 1.0–2.0 s randomized election timeout (electionTicks 10, drawn from [10, 20)),
 * heartbeats every 200 ms (heartbeatTicks 2).
 *
 * Detection: after a leader dies, the first follower's timeout runs out 1.0–2.0 s after the
 * last heartbeat (about 1.3 s on average, the earlier of two draws), then a pre-vote and a vote
 * round trip on the LAN with an fsync each (milliseconds), and the new leader's first commit.
 * So a dead leader is replaced in about 1.1–2.1 s, which leaves the broker's layers above
 * (fencing, partition leader moves, client metadata refresh) the rest of a 3 s budget.
 *
 * False elections: a follower campaigns only after ten ticks without a heartbeat, i.e. five
 * heartbeats in a row missed. Ticks count timer callbacks, not wall time, so a voter whose
 * event loop stalls (GC, a slow fsync, a starved core) does not see the stall as elapsed time
 * and campaign the moment it wakes; its queued heartbeats are read right after. The leader's
 * heartbeats only go out when its own loop turns, so what deposes a healthy leader is its own
 * loop stalled for over a second, which on a busy 2-core machine is rare. The leader steps
 * down itself (check quorum) only after a whole election timeout without any answer from a
 * majority, and pre-vote plus the followers' lease keep a voter that merely lost touch from
 * raising the term.
 */
export const defaultQuorumTiming: QuorumTiming = { tickMs: 100, electionTicks: 10, heartbeatTicks: 2 };

/** Entries applied since the last snapshot before the log up to them is replaced by one. */
export const defaultSnapshotEveryEntries = 10_000;

export interface QuorumDriverOptions {
  readonly nodeId: NodeId;
  /** Every voter names the same cluster; a peer naming another is refused. */
  readonly clusterId: string;
  /** Every voter's controller address by id, the same on every voter, this one included. */
  readonly voters: ReadonlyMap<NodeId, VoterAddress>;
  /**
   * Where this voter's controller listener binds (may differ from its entry in `voters`, e.g.
   * 0.0.0.0). Null for a lone voter (a broker without --voters): it talks to nobody, so it
   * listens nowhere.
   */
  readonly listen: VoterAddress | null;
  /** The voter's directory: quorum state, raft log and snapshot. */
  readonly dataDir: string;
  readonly logger: Logger;
  readonly applier: MetadataApplier;
  readonly timing?: Partial<QuorumTiming>;
  readonly snapshotEveryEntries?: number;
  readonly transportLimits?: Partial<TransportLimits>;
  /** Uniform in [0, 1), for the election timeouts. */
  readonly random?: () => number;
}

export interface VoterStatus {
  readonly id: NodeId;
  /** The voter's last log index as this voter knows it: its own always, the others' only on the leader. */
  readonly logEnd: number | null;
  /** When a message last came from it (ms since the epoch); its own is now. */
  readonly lastContact: number | null;
}

export interface QuorumStatus {
  readonly nodeId: NodeId;
  readonly role: RaftRole;
  readonly leader: NodeId | null;
  /** Raft's term, KRaft's leader epoch. */
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly VoterStatus[];
}

export type QuorumEvent =
  | { readonly kind: 'leader-changed'; readonly leader: NodeId | null; readonly term: number }
  | { readonly kind: 'role-changed'; readonly role: RaftRole; readonly term: number }
  /**
   * This voter leads and has applied an entry of its own term, so its applier holds every
   * committed record: the moment a controller may decide on what it has applied.
   */
  | { readonly kind: 'leader-ready'; readonly term: number }
  /** Committed records (or a snapshot) were applied, up to `appliedIndex`: readers of the image look again. */
  | { readonly kind: 'applied'; readonly appliedIndex: number }
  /** The voter stopped: its disk failed or the core found its safety broken. The broker should exit. */
  | { readonly kind: 'failed'; readonly error: Error };

export interface CloseOptions {
  /** Hand leadership over first, as a controlled shutdown does (default true); false is like a crash. */
  readonly resign?: boolean;
}

interface PendingProposal {
  readonly term: number;
  resolve(position: ProposalPosition): void;
  reject(error: Error): void;
}

/** How long a resigning leader waits for its hand-over message to leave. */
const resignFlushMs = 500;

export class QuorumDriver {
  private readonly pending = new Map<number, PendingProposal>();
  private readonly listeners = new Set<(event: QuorumEvent) => void>();
  private readonly timer: NodeJS.Timeout;
  private draining: Promise<void> | null = null;
  private stopped = false;
  private closing: Promise<void> | null = null;
  private appliedIndex: number;
  private snapshotIndex: number;
  private role: RaftRole;
  private leader: NodeId | null;
  private term: number;
  /** The term in which this voter, leading, applied an entry of its own; -1 before that. */
  private readyTerm = -1;

  private constructor(
    private readonly options: QuorumDriverOptions,
    private readonly core: RaftNode,
    private readonly storage: RaftFileStorage,
    private transport: QuorumTransport | null,
    private readonly snapshotEveryEntries: number,
    tickMs: number,
  ) {
    const status = core.status();
    this.appliedIndex = status.snapshotIndex;
    this.snapshotIndex = status.snapshotIndex;
    this.role = status.role;
    this.leader = status.leader;
    this.term = status.term;
    this.timer = setInterval(() => this.onTick(), tickMs);
  }

  /** Opens the voter's storage, restores the applier from its snapshot, listens and starts ticking. */
  static async start(options: QuorumDriverOptions): Promise<QuorumDriver> {
    const timing = { ...defaultQuorumTiming, ...options.timing };
    const snapshotEveryEntries = options.snapshotEveryEntries ?? defaultSnapshotEveryEntries;
    validate(options, timing, snapshotEveryEntries);
    const logger = options.logger;
    const storage = await RaftFileStorage.open(options.dataDir, logger);
    let core: RaftNode;
    try {
      const persisted = storage.load();
      if (persisted.snapshot) options.applier.restore(persisted.snapshot);
      core = new RaftNode(
        {
          id: options.nodeId,
          voters: [...options.voters.keys()],
          electionTicks: timing.electionTicks,
          heartbeatTicks: timing.heartbeatTicks,
          random: options.random ?? Math.random,
        },
        persisted,
      );
    } catch (error) {
      await storage.close();
      throw error;
    }
    const driver = new QuorumDriver(options, core, storage, null, snapshotEveryEntries, timing.tickMs);
    if (options.listen === null) {
      // A lone voter is the whole quorum: no election timeout needs to pass before it knows
      // nobody else leads, so it campaigns (and wins) before the broker serves anything.
      for (let ticks = 0; core.status().role !== 'leader' && ticks < 2 * timing.electionTicks; ticks++) core.tick();
      driver.schedule();
      await driver.idle();
      logger.info('metadata quorum of one started', { self: options.nodeId, term: core.status().term, lastIndex: core.status().lastIndex });
      return driver;
    }
    const listen = options.listen;
    try {
      driver.transport = await QuorumTransport.start({
        nodeId: options.nodeId,
        clusterId: options.clusterId,
        voters: options.voters,
        listen,
        logger,
        limits: { ...defaultTransportLimits, ...options.transportLimits },
        onMessage: (message) => driver.onMessage(message),
      });
    } catch (error) {
      driver.stopped = true;
      clearInterval(driver.timer);
      await storage.close();
      throw error;
    }
    const status = core.status();
    logger.info('metadata quorum voter started', { self: options.nodeId, term: status.term, lastIndex: status.lastIndex, snapshotIndex: status.snapshotIndex, listen: `${listen.host}:${listen.port}` });
    return driver;
  }

  /** The bound controller address (its real port when `listen.port` was 0). */
  get address(): VoterAddress {
    if (!this.transport) throw new QuorumClosedError(this.options.nodeId, 'not started');
    return this.transport.address;
  }

  /**
   * Appends `data` to the metadata log on the leader; resolves with its position once it is
   * committed and applied here. Rejects with raft's NotLeaderError (naming the leader it knows) off
   * the leader, LeadershipLostError if leadership ends first, ProposalLostError if another
   * entry took its place, QuorumClosedError if the driver closes first.
   */
  propose(data: Uint8Array): Promise<ProposalPosition> {
    if (this.stopped) return Promise.reject(new QuorumClosedError(this.options.nodeId, 'proposal after close'));
    let position: ProposalPosition;
    try {
      position = this.core.propose(data);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const settled = new Promise<ProposalPosition>((resolve, reject) => {
      this.pending.set(position.index, { term: position.term, resolve, reject });
    });
    this.schedule();
    return settled;
  }

  status(): QuorumStatus {
    const status = this.core.status();
    const now = Date.now();
    const voters = [...this.options.voters.keys()]
      .sort((a, b) => a - b)
      .map((id): VoterStatus => {
        if (id === this.options.nodeId) return { id, logEnd: status.lastIndex, lastContact: now };
        return { id, logEnd: status.matchIndex.get(id) ?? null, lastContact: this.transport?.lastContact(id) ?? null };
      });
    return {
      nodeId: this.options.nodeId,
      role: status.role,
      leader: status.leader,
      term: status.term,
      commitIndex: status.commitIndex,
      appliedIndex: this.appliedIndex,
      snapshotIndex: status.snapshotIndex,
      voters,
    };
  }

  /** True while this voter leads and has applied everything committed before its term (see 'leader-ready'). */
  isReadyLeader(): boolean {
    const status = this.core.status();
    return !this.stopped && status.role === 'leader' && status.term === this.readyTerm;
  }

  /** Calls `listener` on leader and role changes and on failure; returns the unsubscribe. */
  subscribe(listener: (event: QuorumEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resigns if leading (unless told not to), then stops ticking and closes sockets and storage. */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.resign ?? true);
    return this.closing;
  }

  // ---- inside ------------------------------------------------------------------------------

  private async shutdown(resign: boolean): Promise<void> {
    if (resign && !this.stopped && this.core.status().role === 'leader') {
      const successor = this.core.resign();
      this.options.logger.info('resigning the metadata leadership', { self: this.options.nodeId, term: this.core.status().term, successor: successor ?? 'none caught up' });
      this.schedule();
      await this.idle();
      await this.transport?.flush(resignFlushMs);
    }
    await this.stop(new QuorumClosedError(this.options.nodeId, 'closed'));
  }

  private async stop(reason: Error): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.idle();
    this.rejectPending(() => reason);
    await this.transport?.close();
    await this.storage.close();
  }

  private async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private onTick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.schedule();
  }

  private onMessage(message: RaftMessage): void {
    if (this.stopped) return;
    try {
      this.core.step(message);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.schedule();
  }

  /** Notes role and leader changes, then starts draining Readies unless a drain is running. */
  private schedule(): void {
    this.noticeChanges();
    if (this.draining || this.stopped || !this.core.hasReady()) return;
    this.draining = this.drain()
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.draining = null;
        if (!this.stopped && this.core.hasReady()) this.schedule();
      });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.core.hasReady()) {
      const ready = this.core.ready();
      await this.storage.persist(ready);
      if (this.stopped) return;
      for (const message of ready.messages) this.transport?.send(message);
      if (ready.restore) this.restore(ready.restore);
      for (const entry of ready.committed) this.applyEntry(entry);
      this.maybeSnapshot();
      this.noticeChanges();
      if (ready.restore || ready.committed.length > 0) this.emit({ kind: 'applied', appliedIndex: this.appliedIndex });
    }
  }

  private restore(snapshot: RaftSnapshot): void {
    this.options.applier.restore(snapshot);
    this.appliedIndex = snapshot.lastIndex;
    this.snapshotIndex = snapshot.lastIndex;
    this.options.logger.info('restored the metadata image from the leader\'s snapshot', { self: this.options.nodeId, lastIndex: snapshot.lastIndex, lastTerm: snapshot.lastTerm, bytes: snapshot.data.length });
    // What the snapshot covers can no longer be matched against a term.
    this.rejectPending((index, proposal) => (index <= snapshot.lastIndex ? new LeadershipLostError(this.options.nodeId, index, proposal.term, this.leader) : null));
  }

  private applyEntry(entry: RaftEntry): void {
    if (entry.data !== null) this.options.applier.apply({ index: entry.index, term: entry.term, data: entry.data });
    this.appliedIndex = entry.index;
    if (entry.term !== this.readyTerm) {
      const status = this.core.status();
      if (status.role === 'leader' && entry.term === status.term) {
        this.readyTerm = entry.term;
        this.emit({ kind: 'leader-ready', term: entry.term });
      }
    }
    const proposal = this.pending.get(entry.index);
    if (!proposal) return;
    this.pending.delete(entry.index);
    if (proposal.term === entry.term) proposal.resolve({ index: entry.index, term: entry.term });
    else proposal.reject(new ProposalLostError(entry.index, proposal.term, entry.term));
  }

  private maybeSnapshot(): void {
    if (this.appliedIndex - this.snapshotIndex < this.snapshotEveryEntries) return;
    const index = this.appliedIndex;
    this.core.takeSnapshot(index, this.options.applier.snapshot());
    this.snapshotIndex = index;
    this.options.logger.debug('took a metadata snapshot', { self: this.options.nodeId, lastIndex: index });
  }

  private noticeChanges(): void {
    const status = this.core.status();
    if (status.leader !== this.leader || status.term !== this.term) {
      const leaderChanged = status.leader !== this.leader;
      this.leader = status.leader;
      this.term = status.term;
      if (leaderChanged) {
        this.options.logger.info('metadata leader changed', { self: this.options.nodeId, leader: status.leader ?? 'none', term: status.term });
        this.emit({ kind: 'leader-changed', leader: status.leader, term: status.term });
      }
    }
    if (status.role !== this.role) {
      const wasLeader = this.role === 'leader';
      this.role = status.role;
      this.emit({ kind: 'role-changed', role: status.role, term: status.term });
      // Entries already committed will still be applied and resolve; the rest may never commit here.
      if (wasLeader) {
        this.rejectPending((index, proposal) => (index > status.commitIndex ? new LeadershipLostError(this.options.nodeId, index, proposal.term, status.leader) : null));
      }
    }
  }

  private rejectPending(reasonFor: (index: number, proposal: PendingProposal) => Error | null): void {
    for (const [index, proposal] of this.pending) {
      const reason = reasonFor(index, proposal);
      if (reason === null) continue;
      this.pending.delete(index);
      proposal.reject(reason);
    }
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    this.options.logger.error('metadata quorum voter failed; it stops taking part', { self: this.options.nodeId, reason: describeError(failure) });
    this.stopped = true;
    this.closing ??= this.stop(new QuorumClosedError(this.options.nodeId, `failed: ${failure.message}`)).catch((closeError: unknown) => {
      this.options.logger.error('closing the failed voter', { self: this.options.nodeId, reason: describeError(closeError) });
    });
    this.emit({ kind: 'failed', error: failure });
  }

  private emit(event: QuorumEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.error('quorum event listener threw', { kind: event.kind, reason: describeError(error) });
      }
    }
  }
}

function validate(options: QuorumDriverOptions, timing: QuorumTiming, snapshotEveryEntries: number): void {
  const ids = [...options.voters.keys()];
  if (!options.voters.has(options.nodeId)) {
    throw new QuorumConfigError(`node ${options.nodeId} is not among the voters ${ids.join(', ')}; a voter must list itself in --voters`);
  }
  if (options.listen === null && options.voters.size !== 1) {
    throw new QuorumConfigError(`voter ${options.nodeId} has no controller listener, yet the quorum has ${options.voters.size} voters`);
  }
  for (const [id, address] of options.voters) {
    if (!Number.isInteger(id) || id < 0) throw new QuorumConfigError(`voter id ${id} is not a non-negative integer`);
    if (options.listen === null) continue;
    if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) throw new QuorumConfigError(`voter ${id}'s port ${address.port} is not in 1..65535`);
    if (address.host.length === 0) throw new QuorumConfigError(`voter ${id} has an empty host`);
  }
  if (options.clusterId.length === 0) throw new QuorumConfigError('the cluster id is empty');
  if (!Number.isInteger(timing.tickMs) || timing.tickMs < 1) throw new QuorumConfigError(`tickMs must be a positive integer, got ${timing.tickMs}`);
  if (!Number.isInteger(timing.electionTicks) || timing.electionTicks < 2) throw new QuorumConfigError(`electionTicks must be an integer >= 2, got ${timing.electionTicks}`);
  if (!Number.isInteger(timing.heartbeatTicks) || timing.heartbeatTicks < 1 || timing.heartbeatTicks >= timing.electionTicks) {
    throw new QuorumConfigError(`heartbeatTicks must be an integer in [1, electionTicks), got ${timing.heartbeatTicks}`);
  }
  if (!Number.isInteger(snapshotEveryEntries) || snapshotEveryEntries < 1) throw new QuorumConfigError(`snapshotEveryEntries must be a positive integer, got ${snapshotEveryEntries}`);
}
