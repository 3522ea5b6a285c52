// Raft's safety properties, checked against what a run shows: which voter led which term,
// what each voter's log holds, and what each applier applied. Each check throws
// RaftInvariantError naming the property and the evidence, so a randomized run stops at the
// first step that breaks one. The checks are incremental (every appended, committed or applied
// entry is checked once) so they can run after every simulated event.
import type { NodeId, RaftEntry, RaftRole } from '../../broker/controller/raft/types.js';

export class RaftInvariantError extends Error {
  constructor(
    readonly property: 'election safety' | 'log matching' | 'leader completeness' | 'state machine safety',
    detail: string,
  ) {
    super(`${property} violated: ${detail}`);
    this.name = 'RaftInvariantError';
  }
}

/** What the checker needs to see of one voter's log. */
export interface LogView {
  readonly id: NodeId;
  readonly snapshotIndex: number;
  readonly lastIndex: number;
  entryAt(index: number): RaftEntry | undefined;
}

interface CommittedEntry {
  readonly term: number;
  readonly data: string | null;
  /** The lowest term of a voter that reported it committed: every leader of a later term must hold it. */
  committedInTerm: number;
}

function describeData(data: Uint8Array | null): string | null {
  return data === null ? null : Buffer.from(data).toString('hex');
}

export class RaftInvariants {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** For each (index, term) ever stored: its data and the term of the entry before it. */
  private readonly stored = new Map<string, { data: string | null; prevTerm: number }>();
  private readonly committed = new Map<number, CommittedEntry>();
  private readonly appliedIndex = new Map<NodeId, number>();
  /** (voter, term) pairs already checked for leader completeness at election. */
  private readonly checkedLeaders = new Set<string>();

  /** Election safety: at most one leader per term. */
  observeRole(id: NodeId, term: number, role: RaftRole): void {
    if (role !== 'leader') return;
    const leader = this.leaderOfTerm.get(term);
    if (leader === undefined) this.leaderOfTerm.set(term, id);
    else if (leader !== id) throw new RaftInvariantError('election safety', `voters ${leader} and ${id} both led term ${term}`);
  }

  /**
   * Log matching, one stored entry at a time: the same (index, term) always carries the same
   * data and follows an entry of the same term, so by induction equal (index, term) means an
   * equal prefix. `prevTerm` is the term of the voter's entry at index - 1.
   */
  observeStored(id: NodeId, entry: RaftEntry, prevTerm: number): void {
    const key = `${entry.index}:${entry.term}`;
    const data = describeData(entry.data);
    const seen = this.stored.get(key);
    if (!seen) {
      this.stored.set(key, { data, prevTerm });
      return;
    }
    if (seen.data !== data) {
      throw new RaftInvariantError('log matching', `voter ${id} holds entry ${entry.index} of term ${entry.term} with other data than another voter`);
    }
    if (seen.prevTerm !== prevTerm) {
      throw new RaftInvariantError(
        'log matching',
        `voter ${id} holds entry ${entry.index} of term ${entry.term} after an entry of term ${prevTerm}, another voter after term ${seen.prevTerm}`,
      );
    }
  }

  /** Whole-log log matching between two voters (also used on fabricated logs to prove the check bites). */
  checkLogPair(a: LogView, b: LogView): void {
    const low = Math.max(a.snapshotIndex, b.snapshotIndex) + 1;
    let high = Math.min(a.lastIndex, b.lastIndex);
    while (high >= low && a.entryAt(high)?.term !== b.entryAt(high)?.term) high--;
    for (let index = low; index <= high; index++) {
      const left = a.entryAt(index);
      const right = b.entryAt(index);
      if (!left || !right || left.term !== right.term || describeData(left.data) !== describeData(right.data)) {
        throw new RaftInvariantError(
          'log matching',
          `voters ${a.id} and ${b.id} agree on entry ${high} but differ at ${index} (terms ${left?.term} and ${right?.term})`,
        );
      }
    }
  }

  /** An entry a voter in `observerTerm` reported committed (applied); also state machine safety. */
  observeApplied(id: NodeId, observerTerm: number, entry: RaftEntry): void {
    const expected = (this.appliedIndex.get(id) ?? 0) + 1;
    if (entry.index !== expected) {
      throw new RaftInvariantError('state machine safety', `voter ${id} applied entry ${entry.index} where ${expected} was next`);
    }
    this.appliedIndex.set(id, entry.index);
    const data = describeData(entry.data);
    const known = this.committed.get(entry.index);
    if (!known) {
      this.committed.set(entry.index, { term: entry.term, data, committedInTerm: observerTerm });
      return;
    }
    if (known.term !== entry.term || known.data !== data) {
      throw new RaftInvariantError(
        'state machine safety',
        `voter ${id} applied entry ${entry.index} of term ${entry.term}, another voter applied term ${known.term} there`,
      );
    }
    known.committedInTerm = Math.min(known.committedInTerm, observerTerm);
  }

  /** A voter's applier restarted from a snapshot at `lastIndex` holding `records` (the non-marker data). */
  observeRestore(id: NodeId, lastIndex: number, records: readonly string[]): void {
    const expected: string[] = [];
    for (let index = 1; index <= lastIndex; index++) {
      const entry = this.committed.get(index);
      if (!entry) throw new RaftInvariantError('state machine safety', `voter ${id} restored a snapshot at ${lastIndex} covering entry ${index}, which nobody applied`);
      if (entry.data !== null) expected.push(entry.data);
    }
    const actual = records.map((record) => Buffer.from(record).toString('hex'));
    if (actual.length !== expected.length || actual.some((record, i) => record !== expected[i])) {
      throw new RaftInvariantError('state machine safety', `voter ${id} restored a snapshot at ${lastIndex} whose state differs from the applied entries`);
    }
    this.appliedIndex.set(id, lastIndex);
  }

  /** The applier of a crashed voter starts again from `index` (its stored snapshot, or 0). */
  forgetApplied(id: NodeId, index: number): void {
    this.appliedIndex.set(id, index);
  }

  /**
   * Leader completeness: a leader holds every entry committed in an earlier term. Checked in full
   * the first time a voter is seen leading a term; entries committed later are checked as they
   * commit by `checkNewlyCommitted`.
   */
  checkLeader(leader: LogView, term: number): void {
    const key = `${leader.id}:${term}`;
    if (this.checkedLeaders.has(key)) return;
    this.checkedLeaders.add(key);
    for (const [index, entry] of this.committed) this.checkHolds(leader, term, index, entry);
  }

  /** Leader completeness for entries committed at `index` against the current leaders. */
  checkCommittedAgainst(leaders: readonly { view: LogView; term: number }[], index: number): void {
    const entry = this.committed.get(index);
    if (!entry) return;
    for (const { view, term } of leaders) this.checkHolds(view, term, index, entry);
  }

  /** The term of the entry applied at `index`, if any voter applied one. */
  committedTermAt(index: number): number | undefined {
    return this.committed.get(index)?.term;
  }

  private checkHolds(leader: LogView, term: number, index: number, entry: CommittedEntry): void {
    if (term <= entry.committedInTerm || index <= leader.snapshotIndex) return;
    const held = leader.entryAt(index);
    if (!held || held.term !== entry.term || describeData(held.data) !== entry.data) {
      throw new RaftInvariantError(
        'leader completeness',
        `leader ${leader.id} of term ${term} lacks entry ${index} (term ${entry.term}) committed in term ${entry.committedInTerm}` +
          (held ? `; it holds term ${held.term} there` : ''),
      );
    }
  }
}
