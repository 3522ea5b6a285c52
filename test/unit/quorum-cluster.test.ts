// Three quorum drivers in this process, on real files and real TCP sockets on 127.0.0.1:
// they elect one leader, commit proposals that every voter applies in the same order, carry on
// when the leader stops without resigning, and take the stopped voter back from its data dir.
// Peers that do not belong (another cluster, another voter list) and malformed frames are
// refused, closing only their own connection.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QuorumDriver, type QuorumEvent } from '../../broker/controller/quorum/driver.js';
import { LeadershipLostError } from '../../broker/controller/quorum/errors.js';
import { decodeHandshakeResponse, encodeHandshake, encodeRaftMessage, type VoterAddress } from '../../broker/controller/quorum/wire.js';
import { NotLeaderError } from '../../broker/controller/raft/errors.js';
import type { NodeId } from '../../broker/controller/raft/types.js';
import { ListApplier, RecordingLogger, freePorts, waitFor } from '../support/quorum-voters.js';

interface Voter {
  id: NodeId;
  driver: QuorumDriver;
  events: QuorumEvent[];
  applier: ListApplier;
  logger: RecordingLogger;
}

let root: string;
let voters: Map<NodeId, VoterAddress>;
const running: (Voter | null)[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'klab-quorum-'));
  const ports = await freePorts(3);
  voters = new Map(ports.map((port, id) => [id, { host: '127.0.0.1', port }]));
  running.length = 0;
});
afterEach(async () => {
  for (const voter of running) await voter?.driver.close({ resign: false });
  await rm(root, { recursive: true, force: true });
});

// Faster than the broker's defaults so the suite is quick; the same code paths.
const timing = { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 };
const encoder = new TextEncoder();

async function startVoter(id: NodeId, options: { clusterId?: string; voterList?: Map<NodeId, VoterAddress> } = {}): Promise<Voter> {
  const applier = new ListApplier();
  const logger = new RecordingLogger(`voter-${id}`);
  const list = options.voterList ?? voters;
  const driver = await QuorumDriver.start({
    nodeId: id,
    clusterId: options.clusterId ?? 'cluster-a',
    voters: list,
    listen: list.get(id)!,
    dataDir: join(root, `voter-${id}`),
    logger,
    applier,
    timing,
    snapshotEveryEntries: 8,
  });
  const events: QuorumEvent[] = [];
  driver.subscribe((event) => events.push(event));
  const voter = { id, driver, events, applier, logger };
  running[id] = voter;
  return voter;
}

function leaderAmong(candidates: readonly (Voter | null)[]): Voter | undefined {
  const leaders = candidates.filter((voter): voter is Voter => voter !== null && voter.driver.status().role === 'leader');
  return leaders.length === 1 ? leaders[0] : undefined;
}

/** Proposes `records` one after another on whichever voter leads, retrying through elections. */
async function proposeAll(candidates: readonly (Voter | null)[], records: readonly string[]): Promise<void> {
  for (const record of records) {
    for (let attempt = 0; ; attempt++) {
      const leader = await waitFor('a leader', () => leaderAmong(candidates));
      try {
        await leader.driver.propose(encoder.encode(record));
        break;
      } catch (error) {
        if (!(error instanceof NotLeaderError || error instanceof LeadershipLostError) || attempt > 20) throw error;
        // LeadershipLostError: the record may have committed anyway; the checks below allow no duplicates,
        // so these tests only retry when it is certainly absent.
        if (error instanceof LeadershipLostError && candidates.some((voter) => voter?.applier.records.includes(record))) break;
      }
    }
  }
}

const allApplied = (group: readonly (Voter | null)[], count: number) => () =>
  group.every((voter) => voter === null || voter.applier.records.length >= count) ? true : undefined;

describe('quorum drivers on loopback', { timeout: 60_000 }, () => {
  it('elect one leader and commit proposals that every voter applies in the same order', async () => {
    const group = [await startVoter(0), await startVoter(1), await startVoter(2)];
    const leader = await waitFor('a leader', () => leaderAmong(group));
    const records = Array.from({ length: 20 }, (_, i) => `record-${i}`);
    const positions = await Promise.all(records.map((record) => leader.driver.propose(encoder.encode(record))));
    expect(positions.map((position) => position.index)).toEqual([...positions.map((position) => position.index)].sort((a, b) => a - b));
    await waitFor('every voter to apply 20 records', allApplied(group, 20));
    for (const voter of group) expect(voter.applier.records).toEqual(records);

    const follower = group.find((voter) => voter !== leader)!;
    await expect(follower.driver.propose(encoder.encode('x'))).rejects.toMatchObject({ name: 'NotLeaderError', leader: leader.id });
    const status = leader.driver.status();
    expect(status).toMatchObject({ role: 'leader', leader: leader.id });
    expect(status.voters.map((voter) => voter.id)).toEqual([0, 1, 2]);
    for (const voter of status.voters) {
      expect(voter.logEnd).toBeGreaterThanOrEqual(positions.at(-1)!.index);
      expect(voter.lastContact).not.toBeNull();
    }
    const term = status.term;
    expect(leader.events).toContainEqual({ kind: 'role-changed', role: 'leader', term });
    for (const voter of group) expect(voter.events).toContainEqual({ kind: 'leader-changed', leader: leader.id, term });
  });

  it('elect a new leader when the leader stops without resigning, and take the stopped voter back from its data dir', async () => {
    const group: (Voter | null)[] = [await startVoter(0), await startVoter(1), await startVoter(2)];
    const first = await waitFor('a leader', () => leaderAmong(group));
    const before = Array.from({ length: 10 }, (_, i) => `before-${i}`);
    await proposeAll(group, before);
    const firstTerm = first.driver.status().term;

    await first.driver.close({ resign: false });
    group[first.id] = null;
    running[first.id] = null;
    const second = await waitFor('a new leader', () => leaderAmong(group));
    expect(second.id).not.toBe(first.id);
    expect(second.driver.status().term).toBeGreaterThan(firstTerm);
    // More than the snapshot interval, so the returning voter may need a snapshot to catch up.
    const during = Array.from({ length: 20 }, (_, i) => `during-${i}`);
    await proposeAll(group, during);
    await waitFor('the two survivors to apply everything', allApplied(group, 30));
    const survivors = group.filter((voter): voter is Voter => voter !== null);
    expect(survivors[0]!.applier.records).toEqual(survivors[1]!.applier.records);
    expect(survivors[0]!.applier.records).toEqual([...before, ...during]);

    const returned = await startVoter(first.id);
    group[first.id] = returned;
    await waitFor('the returned voter to catch up', () => (returned.applier.records.length >= 30 ? true : undefined));
    expect(returned.applier.records).toEqual([...before, ...during]);
    // It started from its own snapshot (taken every 8 entries), then needed the leader's: the
    // leader had compacted its log past where the returning voter's log ended.
    expect(returned.applier.restores).toBeGreaterThanOrEqual(2);
    expect(returned.logger.lines.some((line) => line.includes("restored the metadata image from the leader's snapshot"))).toBe(true);
    for (const voter of group) expect(voter!.driver.status().snapshotIndex).toBeGreaterThanOrEqual(8);
    await proposeAll(group, ['after']);
    await waitFor('every voter to apply the last record', allApplied(group, 31));
    for (const voter of group) expect(voter!.applier.records).toEqual([...before, ...during, 'after']);
  });

  it('resigns on a controlled close, so another voter leads without waiting out an election timeout', async () => {
    const group: (Voter | null)[] = [await startVoter(0), await startVoter(1), await startVoter(2)];
    const first = await waitFor('a leader', () => leaderAmong(group));
    await proposeAll(group, ['a', 'b']);
    await waitFor('every voter to apply both records', allApplied(group, 2));
    await first.driver.close();
    group[first.id] = null;
    running[first.id] = null;
    expect(first.logger.lines.some((line) => line.includes('resigning the metadata leadership'))).toBe(true);
    const second = await waitFor('a new leader', () => leaderAmong(group));
    expect(second.id).not.toBe(first.id);
    await proposeAll(group, ['c']);
    await waitFor('the survivors to apply the third record', allApplied(group, 3));
  });

  it('refuses a voter of another cluster, naming both sides, while the other two carry on', async () => {
    const group = [await startVoter(0), await startVoter(1), await startVoter(2, { clusterId: 'cluster-b' })];
    const leader = await waitFor('a leader among voters 0 and 1', () => leaderAmong(group.slice(0, 2)));
    await leader.driver.propose(encoder.encode('only-a'));
    await waitFor('voters 0 and 1 to apply the record', allApplied(group.slice(0, 2), 1));
    const refused = (voter: Voter) => () => voter.logger.lines.find((line) => line.includes('refused a controller connection') && line.includes('cluster ids differ'));
    const line = await waitFor('voter 0 to log the refusal', refused(group[0]!));
    expect(line).toContain("voter 2 of cluster 'cluster-b'");
    expect(line).toContain("voter 0 of cluster 'cluster-a'");
    const told = await waitFor('voter 2 to be told why', () => group[2]!.logger.lines.find((text) => text.includes('peer refused our connection')));
    expect(told).toContain('cluster ids differ');
    expect(group[2]!.applier.records).toEqual([]);
    expect(group[2]!.driver.status().role).not.toBe('leader');
  });

  it('refuses a handshake with another voter list or an unknown id, answering why', async () => {
    const group = [await startVoter(0), await startVoter(1), await startVoter(2)];
    await waitFor('a leader', () => leaderAmong(group));
    const otherList = new Map(voters);
    otherList.set(3, { host: '127.0.0.1', port: 1 });
    const refusal = async (handshake: Buffer): Promise<string> => {
      const socket = net.connect(voters.get(0)!);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.write(handshake);
      await new Promise((resolve) => socket.once('close', resolve));
      const answer = decodeHandshakeResponse(Buffer.concat(chunks).subarray(4));
      expect(answer.accepted).toBe(false);
      return answer.reason ?? '';
    };
    const listOf = (list: Map<NodeId, VoterAddress>) => [...list].map(([id, a]) => `${id}@${a.host}:${a.port}`).join(',');
    expect(await refusal(encodeHandshake({ clusterId: 'cluster-a', senderId: 1, receiverId: 0, voters: listOf(otherList) }))).toContain('every voter needs the same voter ids in --voters');
    expect(await refusal(encodeHandshake({ clusterId: 'cluster-a', senderId: 7, receiverId: 0, voters: listOf(voters) }))).toContain('7 is not another voter');
    expect(await refusal(encodeHandshake({ clusterId: 'cluster-a', senderId: 1, receiverId: 2, voters: listOf(voters) }))).toContain('meant to dial voter 2');
  });

  it('refuses to start with a voter list that leaves itself out, or on a controller address already in use', async () => {
    const applier = new ListApplier();
    const base = { clusterId: 'cluster-a', voters, dataDir: join(root, 'voter-x'), logger: new RecordingLogger(), applier };
    await expect(QuorumDriver.start({ ...base, nodeId: 5, listen: voters.get(0)! })).rejects.toThrow(/node 5 is not among the voters 0, 1, 2/);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(voters.get(0)!.port, '127.0.0.1', resolve));
    try {
      const failure = QuorumDriver.start({ ...base, nodeId: 0, listen: voters.get(0)! });
      await expect(failure).rejects.toMatchObject({ name: 'QuorumListenError', address: voters.get(0) });
      await expect(failure).rejects.toThrow(/cannot listen for controller connections on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('closes only the connection that sent a malformed frame', async () => {
    const group = [await startVoter(0), await startVoter(1), await startVoter(2)];
    await waitFor('a leader', () => leaderAmong(group));
    const list = [...voters].map(([id, a]) => `${id}@${a.host}:${a.port}`).join(',');
    const target = group[0]!;
    const closedAfter = async (frames: Buffer[], reason: string): Promise<void> => {
      const socket = net.connect(voters.get(0)!);
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.write(encodeHandshake({ clusterId: 'cluster-a', senderId: 1, receiverId: 0, voters: list }));
      for (const frame of frames) socket.write(frame);
      await new Promise((resolve) => socket.once('close', resolve));
      await waitFor(`the malformed frame to be logged (${reason})`, () => target.logger.lines.find((line) => line.includes('malformed frame') && line.includes(reason)));
    };
    const garbage = Buffer.from([0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 0xff]);
    await closedAfter([garbage], 'truncated: int32 needs 4 bytes, 0 left (RaftMessage v0, field to');
    const unknownKind = encodeRaftMessage({ kind: 'heartbeat', from: 1, to: 0, term: 1, commit: 0 });
    unknownKind[4] = 0x7f;
    await closedAfter([unknownKind], 'unknown raft message kind 127');
    const oversize = Buffer.alloc(4);
    oversize.writeInt32BE(0x7fffffff, 0);
    await closedAfter([oversize], 'frame length 2147483647');

    // The real voters' connections were untouched: the quorum still commits on all three.
    const leader = await waitFor('a leader', () => leaderAmong(group));
    await leader.driver.propose(encoder.encode('still-working'));
    await waitFor('every voter to apply the record', allApplied(group, 1));
    for (const voter of group) expect(voter.applier.records).toEqual(['still-working']);
  });
});
