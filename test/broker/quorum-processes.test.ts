// Three metadata quorum voters as separate node processes on loopback, with the broker's own
// timing. The leader is killed with SIGKILL while it commits records; a new leader takes over
// and commits more; the killed voter restarts from its data dir and catches up. Nothing any
// leader reported committed is lost, and every voter applied the same record at each index.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleVoterScript, startVoterProcess, type VoterProcess } from '../support/quorum-voter-process.js';
import { freePorts, waitFor } from '../support/quorum-voters.js';

let root: string;
let script: string;
const processes: VoterProcess[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'klab-quorum-processes-'));
  script = await bundleVoterScript(root);
});
afterAll(async () => {
  for (const voter of processes) {
    voter.child.kill('SIGKILL');
    await voter.exited;
  }
  await rm(root, { recursive: true, force: true });
});

function startVoter(id: number, voterList: string): VoterProcess {
  const voter = startVoterProcess(script, id, voterList, join(root, `voter-${id}`));
  processes.push(voter);
  return voter;
}

const committedBy = (voter: VoterProcess) => voter.events.filter((event) => event.event === 'committed');

/** index -> data of what `voter` applied; fails on an index applied twice with different data. */
function appliedOf(voter: VoterProcess): Map<number, string> {
  const applied = new Map<number, string>();
  for (const event of voter.events) {
    if (event.event !== 'applied') continue;
    const earlier = applied.get(event.index!);
    if (earlier !== undefined) expect.fail(`voter ${voter.id} applied index ${event.index} twice`);
    applied.set(event.index!, event.data!);
  }
  return applied;
}

it('three voter processes survive kill -9 of the leader: a new leader carries on, the killed voter catches up, nothing committed is lost', async () => {
  const ports = await freePorts(3);
  const voterList = ports.map((port, id) => `${id}@127.0.0.1:${port}`).join(',');
  const voters = [0, 1, 2].map((id) => startVoter(id, voterList));
  const describe = () => voters.map((voter) => `voter ${voter.id} stderr:\n${voter.stderr.slice(-3000)}`).join('\n');

  const first = await waitFor('a leader to commit 30 records', () => voters.find((voter) => committedBy(voter).length >= 30), 30_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${describe()}`);
  });
  first.child.kill('SIGKILL');
  await first.exited;
  const committedBeforeKill = committedBy(first);

  const survivors = voters.filter((voter) => voter !== first);
  const second = await waitFor('a new leader to commit 30 records', () => survivors.find((voter) => committedBy(voter).length >= 30), 30_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${describe()}`);
  });
  expect(second.events.findLast((event) => event.event === 'leader')).toMatchObject({ leader: second.id });

  const restarted = startVoter(first.id, voterList);
  const everyCommitted = () => [...committedBeforeKill, ...survivors.flatMap(committedBy)];
  const target = Math.max(...everyCommitted().map((event) => event.index!));
  for (const voter of [...survivors, restarted]) {
    await waitFor(`voter ${voter.id} to apply through index ${target}`, () => (appliedOf(voter).has(target) ? true : undefined), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${describe()}\n${restarted.stderr}`);
    });
  }

  const views = [...survivors, restarted].map(appliedOf);
  // Nothing any leader saw committed is lost: each voter holds it at the index it was given.
  const committed = everyCommitted().filter((event) => event.index! <= target);
  expect(committed.length).toBeGreaterThanOrEqual(60);
  for (const view of views) {
    for (const event of committed) expect(view.get(event.index!), `index ${event.index}`).toBe(event.data);
  }
  // Every voter applied the same record at every index it applied, and no record twice.
  for (const view of views) {
    for (const [index, data] of view) {
      for (const other of views) if (other.has(index)) expect(other.get(index), `index ${index}`).toBe(data);
    }
    expect(new Set(view.values()).size).toBe(view.size);
  }
  // The killed leader's records are followed by the new leader's, in one log.
  const order = [...views[0]!.entries()].sort(([a], [b]) => a - b).map(([, data]) => data);
  expect(order.findIndex((data) => data.startsWith(`v${second.id}-`))).toBeGreaterThan(order.findIndex((data) => data.startsWith(`v${first.id}-`)));
});
