// The Raft core on the simulated network, scenario by scenario: elections, replication,
// crashes, partitions, stale leaders, pre-vote and snapshots. Every run also passes the
// invariant checkers after each simulated event (see test/support/raft-sim.ts).
import { describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../broker/controller/raft/errors.js';
import type { NodeId } from '../../broker/controller/raft/types.js';
import { RaftSim } from '../support/raft-sim.js';

const electionTicks = 10;

function electLeader(sim: RaftSim): NodeId {
  sim.runUntil(() => sim.leaders().length === 1, 20 * electionTicks, 'a leader is elected');
  return sim.leaders()[0]!;
}

function termOf(sim: RaftSim, id: NodeId): number {
  return sim.voterOf(id).core!.status().term;
}

function proposeAll(sim: RaftSim, leader: NodeId, records: string[]): void {
  for (const record of records) sim.propose(leader, record);
}

function waitApplied(sim: RaftSim, ids: NodeId[], records: string[], maxTicks = 200): void {
  sim.runUntil(
    () => ids.every((id) => sim.records(id).length === records.length),
    maxTicks,
    `voters ${ids.join(',')} apply ${records.length} records`,
  );
  for (const id of ids) expect(sim.records(id)).toEqual(records);
}

describe('raft elections', () => {
  it('a 3-voter cluster elects exactly one leader, which keeps its term while all is well', () => {
    const sim = new RaftSim({ seed: 1 });
    const leader = electLeader(sim);
    const term = termOf(sim, leader);
    sim.tick(200);
    expect(sim.leaders()).toEqual([leader]);
    for (const voter of sim.voters) {
      expect(voter.core!.status().term).toBe(term);
      expect(voter.core!.status().leader).toBe(leader);
    }
  });

  it('a follower refuses a proposal with NotLeaderError naming the leader', () => {
    const sim = new RaftSim({ seed: 2 });
    const leader = electLeader(sim);
    sim.tick(5);
    const follower = sim.voters.find((voter) => voter.id !== leader)!;
    let error: unknown;
    try {
      follower.core!.propose(new TextEncoder().encode('x'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).leader).toBe(leader);
    expect((error as NotLeaderError).message).toContain(`send to voter ${leader}`);
  });

  it('after the leader crashes a new leader is elected within bounded ticks and nothing committed is lost', () => {
    const sim = new RaftSim({ seed: 3 });
    const first = electLeader(sim);
    const before = ['a', 'b', 'c'];
    proposeAll(sim, first, before);
    waitApplied(sim, [0, 1, 2], before);

    sim.crash(first);
    const ticks = sim.runUntil(() => sim.leader() !== null && sim.leader() !== first, 6 * electionTicks, 'a new leader after the crash');
    expect(ticks).toBeLessThanOrEqual(6 * electionTicks);
    const second = sim.leader()!;
    expect(termOf(sim, second)).toBeGreaterThan(0);
    const after = [...before, 'd', 'e'];
    proposeAll(sim, second, ['d', 'e']);
    const survivors = [0, 1, 2].filter((id) => id !== first);
    waitApplied(sim, survivors, after);

    sim.restart(first);
    waitApplied(sim, [0, 1, 2], after);
    expect(sim.leaders()).toEqual([second]);
  });

  it('a resigning leader hands over to a caught-up follower, elected within three message trips', () => {
    const sim = new RaftSim({ seed: 9 });
    const first = electLeader(sim);
    proposeAll(sim, first, ['a', 'b']);
    waitApplied(sim, [0, 1, 2], ['a', 'b']);
    const term = termOf(sim, first);
    const target = sim.voterOf(first).core!.resign();
    expect(target).not.toBeNull();
    expect(sim.voterOf(first).core!.status()).toMatchObject({ role: 'follower', leader: null });
    const ticks = sim.runUntil(() => sim.leader() === target, electionTicks, 'the chosen follower leads');
    // Three trips of at most 2 ticks (timeout-now, vote request, answer); an election after a
    // crash waits at least electionTicks first.
    expect(ticks).toBeLessThanOrEqual(6);
    expect(termOf(sim, target!)).toBe(term + 1);
    proposeAll(sim, target!, ['c']);
    waitApplied(sim, [0, 1, 2], ['a', 'b', 'c']);
  });

  it('with pre-vote, an isolated follower catches up after healing without deposing the healthy leader', () => {
    const sim = new RaftSim({ seed: 4, voters: 3 });
    const leader = electLeader(sim);
    const term = termOf(sim, leader);
    const follower = [0, 1, 2].find((id) => id !== leader)!;
    sim.isolate(follower);
    proposeAll(sim, leader, ['a', 'b', 'c', 'd']);
    sim.tick(10 * electionTicks);
    expect(termOf(sim, follower)).toBe(term);

    sim.heal();
    waitApplied(sim, [0, 1, 2], ['a', 'b', 'c', 'd']);
    expect(sim.leaders()).toEqual([leader]);
    expect(termOf(sim, leader)).toBe(term);
  });

  it('without pre-vote, the same healed follower does raise the term (what pre-vote prevents)', () => {
    const sim = new RaftSim({ seed: 4, voters: 3, preVote: false });
    const leader = electLeader(sim);
    const term = termOf(sim, leader);
    const follower = [0, 1, 2].find((id) => id !== leader)!;
    sim.isolate(follower);
    sim.tick(10 * electionTicks);
    expect(termOf(sim, follower)).toBeGreaterThan(term);
    sim.heal();
    sim.runUntil(() => termOf(sim, leader) > term, 10 * electionTicks, 'the leader sees the higher term');
  });
});

describe('raft replication', () => {
  it('proposals commit and every voter applies them in order', () => {
    const sim = new RaftSim({ seed: 5, voters: 5 });
    const leader = electLeader(sim);
    const records = Array.from({ length: 50 }, (_, i) => `record-${i}`);
    proposeAll(sim, leader, records);
    waitApplied(sim, [0, 1, 2, 3, 4], records);
    sim.checkAllLogs();
  });

  it('a leader cut off in a minority cannot commit; its uncommitted entry is overwritten by the majority leader', () => {
    const sim = new RaftSim({ seed: 6, voters: 5 });
    const stale = electLeader(sim);
    proposeAll(sim, stale, ['committed']);
    waitApplied(sim, [0, 1, 2, 3, 4], ['committed']);

    const others = [0, 1, 2, 3, 4].filter((id) => id !== stale);
    const minority = [stale, others[0]!];
    const majority = others.slice(1);
    sim.partition(minority, majority);
    const lost = sim.propose(stale, 'never-committed');
    sim.runUntil(() => majority.includes(sim.leader() ?? -1), 10 * electionTicks, 'the majority elects a leader');
    const fresh = sim.leader()!;
    proposeAll(sim, fresh, ['x', 'y']);
    waitApplied(sim, majority, ['committed', 'x', 'y']);
    sim.tick(5 * electionTicks);
    expect(sim.isCommitted(lost)).toBe(false);
    expect(sim.records(stale)).toEqual(['committed']);
    // Check quorum: the cut-off leader resigned on its own.
    expect(sim.voterOf(stale).core!.status().role).not.toBe('leader');

    sim.heal();
    waitApplied(sim, [0, 1, 2, 3, 4], ['committed', 'x', 'y']);
    const staleLog = sim.voterOf(stale).core!;
    expect(staleLog.termAt(lost.index)).not.toBe(lost.term);
    sim.checkAllLogs();
  });

  it('messages lost, duplicated and reordered still converge', () => {
    const sim = new RaftSim({ seed: 7, voters: 3, lossRate: 0.2, duplicationRate: 0.2, maxDelay: 4 });
    const records: string[] = [];
    for (let i = 0; i < 30; i++) {
      const leader = electLeader(sim);
      try {
        sim.propose(leader, `r${i}`);
        records.push(`r${i}`);
      } catch (error) {
        if (!(error instanceof NotLeaderError)) throw error;
      }
      sim.tick(3);
    }
    sim.lossRate = 0;
    sim.duplicationRate = 0;
    electLeader(sim);
    sim.runUntil(() => sim.voters.every((voter) => sim.records(voter.id).length >= sim.records(sim.leader()!).length && sim.records(voter.id).length > 0), 300, 'voters converge');
    const applied = sim.records(0);
    for (const id of [1, 2]) expect(sim.records(id)).toEqual(applied);
    // Every applied record was proposed, once, in proposal order.
    expect(applied.filter((record) => !records.includes(record))).toEqual([]);
    expect(new Set(applied).size).toBe(applied.length);
    expect(sim.counts.lost).toBeGreaterThan(0);
    expect(sim.counts.duplicated).toBeGreaterThan(0);
  });
});

describe('raft snapshots', () => {
  it('voters compact their logs and a follower that was down catches up from a snapshot', () => {
    const sim = new RaftSim({ seed: 8, voters: 3, snapshotEvery: 5 });
    const leader = electLeader(sim);
    const lagging = [0, 1, 2].find((id) => id !== leader)!;
    sim.crash(lagging);
    const records = Array.from({ length: 40 }, (_, i) => `s${i}`);
    proposeAll(sim, leader, records);
    const up = [0, 1, 2].filter((id) => id !== lagging);
    waitApplied(sim, up, records);
    expect(sim.voterOf(leader).core!.status().snapshotIndex).toBeGreaterThan(20);

    sim.restart(lagging);
    waitApplied(sim, [0, 1, 2], records);
    expect(sim.deliveredKinds.get('snapshot') ?? 0).toBeGreaterThan(0);
    expect(sim.voterOf(lagging).core!.status().snapshotIndex).toBeGreaterThan(20);

    // After a restart from its snapshot and log, the lagging voter still applies the same state.
    sim.crash(lagging);
    sim.restart(lagging);
    proposeAll(sim, sim.leader()!, ['after']);
    waitApplied(sim, [0, 1, 2], [...records, 'after']);
  });
});
