// Three Raft voters on real files, driven as the broker's driver will drive them: each Ready
// is persisted (fsync) before its messages go out and its entries are applied. Messages move
// through an in-process queue. A voter is stopped and reopened from its directory, and the
// cluster carries on with nothing committed lost.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RaftNode } from '../../broker/controller/raft/raft.js';
import { RaftFileStorage } from '../../broker/controller/raft/storage.js';
import type { NodeId, RaftMessage } from '../../broker/controller/raft/types.js';
import { seededRandom } from '../support/seeded-random.js';

interface FileVoter {
  id: NodeId;
  storage: RaftFileStorage;
  core: RaftNode;
  records: string[];
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'klab-raft-cluster-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const random = seededRandom(7);
const decoder = new TextDecoder();

async function startVoter(id: NodeId): Promise<FileVoter> {
  const storage = await RaftFileStorage.open(join(root, `voter-${id}`));
  const persisted = storage.load();
  const core = new RaftNode({ id, voters: [0, 1, 2], electionTicks: 10, heartbeatTicks: 2, random: seededRandom(Math.floor(random() * 2 ** 32)) }, persisted);
  // Without a snapshot the applier starts empty and re-applies the log as commits are learned.
  return { id, storage, core, records: [] };
}

/** Persists, then sends, then applies every pending Ready of `voter`. */
async function drive(voter: FileVoter, outbox: RaftMessage[]): Promise<void> {
  while (voter.core.hasReady()) {
    const ready = voter.core.ready();
    await voter.storage.persist(ready);
    outbox.push(...ready.messages);
    for (const entry of ready.committed) if (entry.data) voter.records.push(decoder.decode(entry.data));
  }
}

async function runTicks(voters: (FileVoter | null)[], ticks: number, until?: () => boolean): Promise<void> {
  for (let t = 0; t < ticks && !until?.(); t++) {
    const outbox: RaftMessage[] = [];
    for (const voter of voters) {
      if (!voter) continue;
      voter.core.tick();
      await drive(voter, outbox);
    }
    while (outbox.length > 0) {
      const message = outbox.shift()!;
      const target = voters[message.to];
      if (!target) continue;
      target.core.step(message);
      await drive(target, outbox);
    }
  }
}

it('three voters on real files elect a leader, commit, and survive a voter stopped and reopened from disk', async () => {
  const voters: (FileVoter | null)[] = [await startVoter(0), await startVoter(1), await startVoter(2)];
  const leaderOf = (): FileVoter | undefined => voters.find((voter) => voter?.core.status().role === 'leader') ?? undefined;
  await runTicks(voters, 200, () => leaderOf() !== undefined);
  const leader = leaderOf()!;
  for (let i = 0; i < 10; i++) leader.core.propose(new TextEncoder().encode(`r${i}`));
  const all = (count: number) => () => voters.every((voter) => voter !== null && voter.records.length === count);
  await runTicks(voters, 100, all(10));
  expect(voters.map((voter) => voter!.records.length)).toEqual([10, 10, 10]);

  const stopped = voters.find((voter) => voter !== leader)!;
  const term = stopped.core.status().term;
  await stopped.storage.close();
  voters[stopped.id] = null;
  for (let i = 10; i < 15; i++) leader.core.propose(new TextEncoder().encode(`r${i}`));
  await runTicks(voters, 50, () => voters.every((voter) => voter === null || voter.records.length === 15));

  const reopened = await startVoter(stopped.id);
  expect(reopened.core.status()).toMatchObject({ term, lastIndex: 11 });
  voters[stopped.id] = reopened;
  await runTicks(voters, 200, all(15));
  const expected = Array.from({ length: 15 }, (_, i) => `r${i}`);
  for (const voter of voters) expect(voter!.records).toEqual(expected);
  for (const voter of voters) await voter!.storage.close();
});
