// The quorum transport's memory bounds against a real voter process: frames for a voter that
// is down, or SIGSTOPped so it reads nothing, stay within the queue limit (oldest dropped);
// once it is up or continued, the link (re)connects and the newest frames reach it, which its
// answers show. Here the test plays voter 0 with the transport alone and sends big appends.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { QuorumTransport, defaultTransportLimits } from '../../broker/controller/quorum/transport.js';
import type { VoterAddress } from '../../broker/controller/quorum/wire.js';
import type { AppendResponse, RaftMessage } from '../../broker/controller/raft/types.js';
import { bundleVoterScript, startVoterProcess, type VoterProcess } from '../support/quorum-voter-process.js';
import { RecordingLogger, freePorts, waitFor } from '../support/quorum-voters.js';

const limits = { ...defaultTransportLimits, maxQueuedBytes: 1024 * 1024, socketHighWaterBytes: 256 * 1024, reconnectMaxMs: 200 };
let root: string;
let script: string;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'klab-quorum-bounds-'));
  script = await bundleVoterScript(root);
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Setup {
  listen: VoterAddress;
  transport: QuorumTransport;
  received: RaftMessage[];
  startPeer(): VoterProcess;
}

async function setup(): Promise<Setup> {
  const ports = await freePorts(2);
  const voters = new Map<number, VoterAddress>(ports.map((port, id) => [id, { host: '127.0.0.1', port }]));
  const voterList = ports.map((port, id) => `${id}@127.0.0.1:${port}`).join(',');
  const received: RaftMessage[] = [];
  const transport = await QuorumTransport.start({
    nodeId: 0,
    clusterId: 'quorum-test',
    voters,
    listen: voters.get(0)!,
    logger: new RecordingLogger(),
    limits,
    onMessage: (message) => received.push(message),
  });
  cleanup.push(() => transport.close());
  const dataDir = await mkdtemp(join(root, 'voter-1-'));
  return {
    listen: voters.get(0)!,
    transport,
    received,
    startPeer: () => {
      const peer = startVoterProcess(script, 1, voterList, dataDir);
      cleanup.push(async () => {
        peer.child.kill('SIGKILL');
        await peer.exited;
      });
      return peer;
    },
  };
}

/** An append from "leader 0" in term 1 with a 64 KiB entry; the voter refuses it (its log does not match) and says which. */
const bigAppend = (prevIndex: number): RaftMessage => ({
  kind: 'append',
  from: 0,
  to: 1,
  term: 1,
  prevIndex,
  prevTerm: 1,
  commit: 0,
  entries: [{ index: prevIndex + 1, term: 1, data: new Uint8Array(64 * 1024) }],
});

const answered = (received: RaftMessage[], prevIndex: number) => () =>
  received.some((message) => message.kind === 'append-response' && (message as AppendResponse).rejectedIndex === prevIndex) ? true : undefined;

it('keeps a bounded queue for a voter process that is down, and delivers the newest frames once it is up', async () => {
  const { listen, transport, received, startPeer } = await setup();
  expect(transport.address).toEqual(listen);
  for (let n = 1; n <= 200; n++) transport.send(bigAppend(n));
  expect(transport.queuedBytes(1)).toBeLessThanOrEqual(limits.maxQueuedBytes);
  expect(transport.droppedFrames(1)).toBeGreaterThan(150);

  startPeer();
  await waitFor('voter 1 to answer the newest append', answered(received, 200), 30_000);
  // The oldest were dropped: voter 1 never saw them, so never answered them.
  expect(answered(received, 1)()).toBeUndefined();
});

it('stops feeding a SIGSTOPped voter process and drops its oldest frames, then delivers once it is continued', async () => {
  const { transport, received, startPeer } = await setup();
  const peer = startPeer();
  transport.send({ kind: 'heartbeat', from: 0, to: 1, term: 1, commit: 0 });
  await waitFor('voter 1 to answer a heartbeat (both links open)', () => (received.some((message) => message.kind === 'heartbeat-response') ? true : undefined), 30_000);

  process.kill(peer.child.pid!, 'SIGSTOP');
  cleanup.push(() => {
    peer.child.kill('SIGCONT');
  });
  // 25 MB: more than loopback's socket buffers, the socket's high water and the queue together.
  for (let n = 1; n <= 400; n++) {
    transport.send(bigAppend(n));
    if (n % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await waitFor('frames to be dropped', () => (transport.droppedFrames(1) > 0 ? true : undefined));
  expect(transport.queuedBytes(1)).toBeLessThanOrEqual(limits.maxQueuedBytes);

  process.kill(peer.child.pid!, 'SIGCONT');
  await waitFor('voter 1 to answer the newest append once continued', answered(received, 400), 30_000);
  expect(transport.queuedBytes(1)).toBe(0);
});
