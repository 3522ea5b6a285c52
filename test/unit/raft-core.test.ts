// The Raft core driven by hand, message by message, for the rules a randomized run rarely
// reaches on its own: commit only by counting entries of the leader's own term, one durable
// vote per term, the up-to-date check, stepping down on a higher term, and what Ready hands
// the driver.
import { describe, expect, it } from 'vitest';
import { RaftUsageError } from '../../broker/controller/raft/errors.js';
import { RaftNode, type RaftConfig } from '../../broker/controller/raft/raft.js';
import type { PersistedRaftState, RaftEntry, RaftMessage, VoteResponse } from '../../broker/controller/raft/types.js';
import { MemoryRaftStorage } from '../support/raft-sim.js';

const config: RaftConfig = { id: 0, voters: [0, 1, 2], electionTicks: 4, heartbeatTicks: 1, random: () => 0, preVote: false };

function entry(index: number, term: number, text = `e${index}`): RaftEntry {
  return { index, term, data: new TextEncoder().encode(text) };
}

function fresh(quorum = { term: 0, votedFor: null }, entries: RaftEntry[] = []): PersistedRaftState {
  return { quorum, snapshot: null, entries };
}

function voteResponse(from: number, term: number, granted: boolean): VoteResponse {
  return { kind: 'vote-response', from, to: 0, term, granted };
}

/** Ticks until the node campaigns, then grants it voter 1's vote. */
function electNode0(node: RaftNode): void {
  for (let i = 0; i < 4; i++) node.tick();
  expect(node.status().role).toBe('candidate');
  const term = node.status().term;
  node.step(voteResponse(1, term, true));
  expect(node.status().role).toBe('leader');
}

describe('raft core rules', () => {
  it('a leader does not commit an older term entry by counting replicas, only with an entry of its own term (Raft §5.4.2)', () => {
    const node = new RaftNode(config, fresh({ term: 2, votedFor: null }, [entry(1, 1), entry(2, 2)]));
    electNode0(node);
    expect(node.status().term).toBe(3);
    expect(node.entryAt(3)).toMatchObject({ index: 3, term: 3, data: null });
    node.ready();

    // Voter 1 now holds entry 2 (term 2): a majority has it, but it is not of term 3.
    node.step({ kind: 'append-response', from: 1, to: 0, term: 3, success: true, matchIndex: 2, rejectedIndex: 0, hintIndex: 0 });
    expect(node.status().commitIndex).toBe(0);
    expect(node.ready().committed).toEqual([]);

    node.step({ kind: 'append-response', from: 1, to: 0, term: 3, success: true, matchIndex: 3, rejectedIndex: 0, hintIndex: 0 });
    expect(node.status().commitIndex).toBe(3);
    expect(node.ready().committed.map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('grants one vote per term, and the vote survives a restart because Ready hands it over with the answer', () => {
    const storage = new MemoryRaftStorage();
    storage.persist({ quorum: { term: 5, votedFor: null }, snapshot: null, log: null, messages: [], restore: null, committed: [] });
    const node = new RaftNode({ ...config, id: 2 }, storage.load());
    node.step({ kind: 'vote', from: 0, to: 2, term: 5, lastIndex: 0, lastTerm: 0, transfer: false });
    const ready = node.ready();
    expect(ready.quorum).toEqual({ term: 5, votedFor: 0 });
    expect(ready.messages).toEqual([{ kind: 'vote-response', from: 2, to: 0, term: 5, granted: true }]);
    storage.persist(ready);

    node.step({ kind: 'vote', from: 1, to: 2, term: 5, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(node.ready().messages).toEqual([{ kind: 'vote-response', from: 2, to: 1, term: 5, granted: false }]);

    const restarted = new RaftNode({ ...config, id: 2 }, storage.load());
    restarted.step({ kind: 'vote', from: 1, to: 2, term: 5, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(restarted.ready().messages).toEqual([{ kind: 'vote-response', from: 2, to: 1, term: 5, granted: false }]);
    restarted.step({ kind: 'vote', from: 0, to: 2, term: 5, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(restarted.ready().messages).toEqual([{ kind: 'vote-response', from: 2, to: 0, term: 5, granted: true }]);
  });

  it('refuses its vote to a candidate whose log is less up to date', () => {
    const voter = (): RaftNode => new RaftNode({ ...config, id: 2 }, fresh({ term: 3, votedFor: null }, [entry(1, 1), entry(2, 3)]));
    const cases: { lastIndex: number; lastTerm: number; granted: boolean }[] = [
      { lastIndex: 5, lastTerm: 2, granted: false }, // longer but older last term
      { lastIndex: 1, lastTerm: 3, granted: false }, // same last term, shorter
      { lastIndex: 2, lastTerm: 3, granted: true },
      { lastIndex: 1, lastTerm: 4, granted: true }, // newer last term wins over length
    ];
    for (const c of cases) {
      const node = voter();
      node.step({ kind: 'vote', from: 0, to: 2, term: 4, lastIndex: c.lastIndex, lastTerm: c.lastTerm, transfer: false });
      const answer = node.ready().messages[0] as VoteResponse;
      expect({ ...c, answer: answer.granted }).toEqual({ ...c, answer: c.granted });
      expect(node.status().term).toBe(4);
    }
  });

  it('a voter that hears from its leader ignores vote requests until an election timeout passes without it (the lease)', () => {
    // Its own election timeout is drawn near 2 × 4 ticks, so it is still a follower at tick 4.
    const node = new RaftNode({ ...config, id: 2, preVote: true, random: () => 0.99 }, fresh({ term: 3, votedFor: null }));
    node.step({ kind: 'heartbeat', from: 0, to: 2, term: 3, commit: 0 });
    node.ready();
    node.step({ kind: 'pre-vote', from: 1, to: 2, term: 4, lastIndex: 0, lastTerm: 0, transfer: false });
    node.step({ kind: 'vote', from: 1, to: 2, term: 4, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(node.ready().messages).toEqual([]);
    expect(node.status()).toMatchObject({ term: 3, leader: 0 });

    // Three ticks of silence: still inside the election timeout of 4, still loyal.
    for (let i = 0; i < 3; i++) node.tick();
    node.step({ kind: 'pre-vote', from: 1, to: 2, term: 4, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(node.ready().messages).toEqual([]);
    node.tick();
    expect(node.status()).toMatchObject({ role: 'follower', leader: 0 });
    node.step({ kind: 'pre-vote', from: 1, to: 2, term: 4, lastIndex: 0, lastTerm: 0, transfer: false });
    const ready = node.ready();
    expect(ready.messages).toEqual([{ kind: 'pre-vote-response', from: 2, to: 1, term: 4, granted: true }]);
    // A pre-vote changes neither the term nor the vote.
    expect(ready.quorum).toBeNull();
    expect(node.status()).toMatchObject({ term: 3, votedFor: null });
  });

  it('a campaign asked for by a resigning leader is answered despite the lease', () => {
    const node = new RaftNode({ ...config, id: 2, preVote: true }, fresh({ term: 3, votedFor: null }));
    node.step({ kind: 'heartbeat', from: 0, to: 2, term: 3, commit: 0 });
    node.ready();
    node.step({ kind: 'vote', from: 1, to: 2, term: 4, lastIndex: 0, lastTerm: 0, transfer: true });
    const ready = node.ready();
    expect(ready.quorum).toEqual({ term: 4, votedFor: 1 });
    expect(ready.messages).toEqual([{ kind: 'vote-response', from: 2, to: 1, term: 4, granted: true }]);
  });

  it('a leader that sees a higher term steps down and forgets its vote', () => {
    const node = new RaftNode(config, fresh());
    electNode0(node);
    node.ready();
    node.step({ kind: 'heartbeat-response', from: 2, to: 0, term: 9 });
    expect(node.status()).toMatchObject({ role: 'follower', term: 9, votedFor: null, leader: null });
    expect(node.ready().quorum).toEqual({ term: 9, votedFor: null });
  });

  it('answers a stale leader with its higher term, so the stale leader steps down', () => {
    const node = new RaftNode({ ...config, id: 1 }, fresh({ term: 7, votedFor: null }));
    node.step({ kind: 'append', from: 0, to: 1, term: 6, prevIndex: 0, prevTerm: 0, entries: [entry(1, 6)], commit: 1 });
    const [answer] = node.ready().messages as RaftMessage[];
    expect(answer).toMatchObject({ kind: 'append-response', term: 7, success: false });
    expect(node.status().lastIndex).toBe(0);
  });

  it('a follower overwrites a conflicting uncommitted suffix and tells the driver to rewrite it', () => {
    const node = new RaftNode({ ...config, id: 1 }, fresh({ term: 2, votedFor: null }, [entry(1, 1), entry(2, 2, 'old'), entry(3, 2, 'old')]));
    node.step({ kind: 'append', from: 0, to: 1, term: 3, prevIndex: 1, prevTerm: 1, entries: [entry(2, 3, 'new')], commit: 2 });
    const ready = node.ready();
    expect(ready.log?.from).toBe(2);
    expect(ready.log?.entries.map((e) => [e.index, e.term])).toEqual([[2, 3]]);
    expect(ready.committed.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    expect(node.status().lastIndex).toBe(2);
  });

  it('rejects an unusable configuration with a message naming the setting', () => {
    expect(() => new RaftNode({ ...config, id: 7 }, fresh())).toThrow(RaftUsageError);
    expect(() => new RaftNode({ ...config, id: 7 }, fresh())).toThrow(/voter 7 is not in the voter list 0,1,2/);
    expect(() => new RaftNode({ ...config, heartbeatTicks: 4 }, fresh())).toThrow(/heartbeatTicks/);
    expect(() => new RaftNode({ ...config, voters: [0, 1, 1] }, fresh())).toThrow(/repeats/);
  });

  it('takes a snapshot only of applied entries', () => {
    const node = new RaftNode({ ...config, voters: [0] }, fresh());
    node.tick();
    node.tick();
    node.tick();
    node.tick();
    expect(node.status().role).toBe('leader');
    node.propose(new TextEncoder().encode('a'));
    expect(() => node.takeSnapshot(2, new Uint8Array())).toThrow(/beyond the applied index 0/);
    node.ready();
    const snapshot = node.takeSnapshot(2, new Uint8Array([1]));
    expect(snapshot).toMatchObject({ lastIndex: 2, lastTerm: 1 });
    expect(node.ready().snapshot).toBe(snapshot);
    expect(node.readCommitted(1, 10)).toEqual({ kind: 'snapshot', snapshot });
    node.propose(new TextEncoder().encode('b'));
    node.ready();
    expect(node.readCommitted(3, 10)).toMatchObject({ kind: 'entries', entries: [{ index: 3, term: 1 }] });
  });
});
