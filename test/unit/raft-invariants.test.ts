// The checkers the simulated runs rely on must be able to fail: each is fed a fabricated
// history that breaks its property and must throw, naming the property and the evidence.
import { describe, expect, it } from 'vitest';
import type { RaftEntry } from '../../broker/controller/raft/types.js';
import { RaftInvariantError, RaftInvariants, type LogView } from '../support/raft-invariants.js';
import { errorOf } from '../support/thrown.js';

function entry(index: number, term: number, text = `e${index}`): RaftEntry {
  return { index, term, data: new TextEncoder().encode(text) };
}

function view(id: number, entries: RaftEntry[], snapshotIndex = 0): LogView {
  return {
    id,
    snapshotIndex,
    lastIndex: snapshotIndex + entries.length,
    entryAt: (index) => entries.find((e) => e.index === index),
  };
}

function violation(action: () => void): RaftInvariantError {
  return errorOf(RaftInvariantError, action);
}

describe('raft invariant checkers', () => {
  it('election safety: two leaders of one term', () => {
    const checker = new RaftInvariants();
    checker.observeRole(0, 3, 'leader');
    checker.observeRole(0, 3, 'leader');
    checker.observeRole(1, 4, 'leader');
    const error = violation(() => checker.observeRole(2, 3, 'leader'));
    expect(error.property).toBe('election safety');
    expect(error.message).toContain('voters 0 and 2 both led term 3');
  });

  it('log matching: same index and term with different data, or after different entries', () => {
    const checker = new RaftInvariants();
    checker.observeStored(0, entry(1, 1), 0);
    checker.observeStored(0, entry(2, 2), 1);
    checker.observeStored(1, entry(2, 2), 1);
    expect(violation(() => checker.observeStored(1, entry(2, 2, 'other'), 1)).message).toContain('with other data');
    expect(violation(() => checker.observeStored(2, entry(2, 2), 3)).message).toContain('after an entry of term 3');
  });

  it('log matching over whole logs: agreeing at an index but not before it', () => {
    const checker = new RaftInvariants();
    checker.checkLogPair(view(0, [entry(1, 1), entry(2, 1)]), view(1, [entry(1, 1), entry(2, 1), entry(3, 2)]));
    const error = violation(() =>
      checker.checkLogPair(view(0, [entry(1, 1), entry(2, 1), entry(3, 2)]), view(1, [entry(1, 1), entry(2, 2), entry(3, 2)])),
    );
    expect(error.property).toBe('log matching');
    expect(error.message).toContain('differ at 2');
  });

  it('state machine safety: two voters apply different entries at one index, or skip one', () => {
    const checker = new RaftInvariants();
    checker.observeApplied(0, 1, entry(1, 1));
    checker.observeApplied(1, 1, entry(1, 1));
    expect(violation(() => checker.observeApplied(2, 2, entry(1, 2))).message).toContain('another voter applied term 1 there');
    expect(violation(() => checker.observeApplied(0, 1, entry(3, 1))).message).toContain('where 2 was next');
  });

  it('state machine safety: a restored snapshot whose state differs from what was applied', () => {
    const checker = new RaftInvariants();
    checker.observeApplied(0, 1, entry(1, 1, 'a'));
    checker.observeApplied(0, 1, { index: 2, term: 1, data: null });
    checker.observeRestore(1, 2, ['a']);
    expect(violation(() => checker.observeRestore(2, 2, ['b'])).property).toBe('state machine safety');
    expect(violation(() => checker.observeRestore(2, 3, ['a'])).message).toContain('which nobody applied');
  });

  it('leader completeness: a later leader without a committed entry', () => {
    const checker = new RaftInvariants();
    checker.observeApplied(0, 2, entry(1, 1));
    checker.observeApplied(0, 2, entry(2, 2));
    checker.checkLeader(view(1, [entry(1, 1), entry(2, 2), entry(3, 3)]), 3);
    // A leader of the commit's own term or before is not bound by it (a stale leader).
    checker.checkLeader(view(2, [entry(1, 1)]), 2);
    const error = violation(() => checker.checkLeader(view(2, [entry(1, 1), entry(2, 3)]), 4));
    expect(error.property).toBe('leader completeness');
    expect(error.message).toContain('leader 2 of term 4 lacks entry 2 (term 2) committed in term 2; it holds term 3 there');
    // Entries committed while a leader already leads are checked as they commit.
    checker.observeApplied(0, 4, entry(3, 4));
    expect(violation(() => checker.checkCommittedAgainst([{ view: view(1, [entry(1, 1), entry(2, 2)]), term: 5 }], 3)).property).toBe(
      'leader completeness',
    );
  });
});
