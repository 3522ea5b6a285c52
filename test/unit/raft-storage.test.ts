// The Raft voter's files on a real temporary directory: quorum state, log and snapshot survive
// a reopen; a torn tail is cut off; damage is reported with its file and offset; suffix
// truncation and snapshot compaction follow Ready's rules, checked against the simulation's
// in-memory disk over a random sequence of writes.
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RaftStorageError } from '../../broker/controller/raft/errors.js';
import { RaftFileStorage } from '../../broker/controller/raft/storage.js';
import type { PersistedRaftState, RaftEntry, Ready } from '../../broker/controller/raft/types.js';
import { MemoryRaftStorage } from '../support/raft-sim.js';
import { seededRandom } from '../support/seeded-random.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'klab-raft-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(index: number, term: number, text: string | null = `e${index}`): RaftEntry {
  return { index, term, data: text === null ? null : new TextEncoder().encode(text) };
}

function ready(parts: Partial<Ready>): Ready {
  return { quorum: null, snapshot: null, log: null, messages: [], restore: null, committed: [], ...parts };
}

async function reopen(storage: RaftFileStorage): Promise<RaftFileStorage> {
  await storage.close();
  return RaftFileStorage.open(dir);
}

interface Summary {
  quorum: PersistedRaftState['quorum'];
  snapshot: { lastIndex: number; lastTerm: number; data: string } | null;
  entries: [number, number, string | null][];
}

function summary(state: PersistedRaftState): Summary {
  return {
    quorum: state.quorum,
    snapshot: state.snapshot && { ...state.snapshot, data: Buffer.from(state.snapshot.data).toString() },
    entries: state.entries.map((e): [number, number, string | null] => [e.index, e.term, e.data === null ? null : Buffer.from(e.data).toString()]),
  };
}

async function storageErrorOf(action: () => Promise<unknown>): Promise<RaftStorageError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof RaftStorageError) return error;
    throw error;
  }
  throw new Error('expected a RaftStorageError');
}

describe('raft file storage', () => {
  it('keeps the quorum state, entries (markers too) and suffix truncation across a reopen', async () => {
    let storage = await RaftFileStorage.open(dir);
    expect(summary(storage.load())).toEqual({ quorum: { term: 0, votedFor: null }, snapshot: null, entries: [] });
    await storage.persist(ready({ quorum: { term: 2, votedFor: 1 }, log: { from: 1, entries: [entry(1, 1), entry(2, 2, null), entry(3, 2)] } }));
    storage = await reopen(storage);
    expect(summary(storage.load())).toEqual({
      quorum: { term: 2, votedFor: 1 },
      snapshot: null,
      entries: [
        [1, 1, 'e1'],
        [2, 2, null],
        [3, 2, 'e3'],
      ],
    });
    expect(JSON.parse(await readFile(join(dir, 'quorum-state'), 'utf8'))).toEqual({ version: 1, term: 2, votedFor: 1 });

    // A new leader overwrites entries 2.. of the old one.
    await storage.persist(ready({ log: { from: 2, entries: [entry(2, 3, 'new')] } }));
    storage = await reopen(storage);
    expect(summary(storage.load()).entries).toEqual([
      [1, 1, 'e1'],
      [2, 3, 'new'],
    ]);
    await storage.close();
  });

  it('cuts a torn tail off at open and keeps every whole entry', async () => {
    let storage = await RaftFileStorage.open(dir);
    await storage.persist(ready({ log: { from: 1, entries: [entry(1, 1), entry(2, 1)] } }));
    await storage.close();
    const logFile = join(dir, 'raft.log');
    const whole = (await stat(logFile)).size;
    // Half of a third record: its header says more bytes than follow.
    const third = Buffer.alloc(40);
    third.writeUInt32BE(100, 0);
    await appendFile(logFile, third);

    storage = await RaftFileStorage.open(dir);
    expect(storage.recovery).toEqual({ tornTailAt: whole, tornTailBytes: 40 });
    expect(summary(storage.load()).entries).toEqual([
      [1, 1, 'e1'],
      [2, 1, 'e2'],
    ]);
    expect((await stat(logFile)).size).toBe(whole);
    // Appends continue after the cut.
    await storage.persist(ready({ log: { from: 3, entries: [entry(3, 1)] } }));
    storage = await reopen(storage);
    expect(storage.load().entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(storage.recovery.tornTailAt).toBeNull();
    await storage.close();
  });

  it('treats a last entry that fails its CRC, or trailing zeros, as a torn tail', async () => {
    let storage = await RaftFileStorage.open(dir);
    await storage.persist(ready({ log: { from: 1, entries: [entry(1, 1), entry(2, 1)] } }));
    await storage.close();
    const logFile = join(dir, 'raft.log');
    const bytes = await readFile(logFile);
    const secondAt = bytes.length / 2;
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(logFile, Buffer.concat([bytes, Buffer.alloc(16)]));
    storage = await RaftFileStorage.open(dir);
    expect(storage.recovery.tornTailAt).toBe(secondAt);
    expect(storage.load().entries.map((e) => e.index)).toEqual([1]);
    await storage.close();
  });

  it('reports a damaged entry in the middle of the log with the file and its byte offset', async () => {
    const storage = await RaftFileStorage.open(dir);
    await storage.persist(ready({ log: { from: 1, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] } }));
    await storage.close();
    const logFile = join(dir, 'raft.log');
    const bytes = await readFile(logFile);
    const recordBytes = bytes.length / 3;
    bytes[recordBytes + 20]! ^= 0x01;
    await writeFile(logFile, bytes);
    const error = await storageErrorOf(() => RaftFileStorage.open(dir));
    expect(error.file).toBe(logFile);
    expect(error.offset).toBe(recordBytes);
    expect(error.message).toContain(`${logFile} at byte ${recordBytes}: entry fails its CRC check`);
  });

  it('reports a damaged quorum state or snapshot naming the file', async () => {
    await writeFile(join(dir, 'quorum-state'), '{"version":1,"term":-1,"votedFor":null}');
    const quorum = await storageErrorOf(() => RaftFileStorage.open(dir));
    expect(quorum.file).toBe(join(dir, 'quorum-state'));
    expect(quorum.message).toContain('term');
    await rm(join(dir, 'quorum-state'));

    const storage = await RaftFileStorage.open(dir);
    await storage.persist(ready({ log: { from: 1, entries: [entry(1, 1)] } }));
    await storage.persist(ready({ snapshot: { lastIndex: 1, lastTerm: 1, data: new TextEncoder().encode('state') } }));
    await storage.close();
    const snapshotFile = join(dir, 'raft.snapshot');
    const bytes = await readFile(snapshotFile);
    bytes[bytes.length - 1]! ^= 0x01;
    await writeFile(snapshotFile, bytes);
    const snapshot = await storageErrorOf(() => RaftFileStorage.open(dir));
    expect(snapshot.file).toBe(snapshotFile);
    expect(snapshot.message).toContain('fails its CRC check');
  });

  it('a snapshot drops the log it covers; one from another history empties the log', async () => {
    let storage = await RaftFileStorage.open(dir);
    await storage.persist(ready({ log: { from: 1, entries: [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)] } }));
    await storage.persist(ready({ snapshot: { lastIndex: 2, lastTerm: 1, data: new TextEncoder().encode('s2') } }));
    storage = await reopen(storage);
    expect(summary(storage.load())).toMatchObject({ snapshot: { lastIndex: 2, lastTerm: 1, data: 's2' }, entries: [[3, 2, 'e3'], [4, 2, 'e4']] });

    // A leader's snapshot whose last entry this log holds with another term replaces it all.
    await storage.persist(ready({ snapshot: { lastIndex: 4, lastTerm: 3, data: new TextEncoder().encode('s4') } }));
    storage = await reopen(storage);
    expect(summary(storage.load())).toMatchObject({ snapshot: { lastIndex: 4, lastTerm: 3 }, entries: [] });
    await storage.persist(ready({ log: { from: 5, entries: [entry(5, 3)] } }));
    storage = await reopen(storage);
    expect(storage.load().entries.map((e) => e.index)).toEqual([5]);
    await storage.close();
  });

  it('refuses a write that would leave a gap in the log', async () => {
    const storage = await RaftFileStorage.open(dir);
    const error = await storageErrorOf(() => storage.persist(ready({ log: { from: 3, entries: [entry(3, 1)] } })));
    expect(error.message).toContain('cannot write entries from 3');
    await storage.close();
  });

  it('matches the simulation disk over a random sequence of appends, overwrites, snapshots and reopens', async () => {
    const random = seededRandom(42);
    const memory = new MemoryRaftStorage();
    let storage = await RaftFileStorage.open(dir);
    let term = 1;
    const done = { overwrites: 0, snapshots: 0, foreignSnapshots: 0, reopens: 0 };
    for (let step = 0; step < 100; step++) {
      const state = memory.load();
      const base = state.snapshot?.lastIndex ?? 0;
      const last = state.entries.at(-1)?.index ?? base;
      const roll = random();
      let next: Ready;
      if (roll < 0.6) {
        const from = Math.max(base + 1, last + 1 - Math.floor(random() * 3));
        if (from <= last) {
          term++;
          done.overwrites++;
        }
        const count = Math.floor(random() * 4);
        next = ready({ log: { from, entries: Array.from({ length: count }, (_, i) => entry(from + i, term, random() < 0.2 ? null : `s${step}.${i}`)) } });
      } else if (roll < 0.75 && last > base) {
        const at = base + 1 + Math.floor(random() * (last - base));
        const held = state.entries.find((e) => e.index === at)!;
        const foreign = random() < 0.3;
        next = ready({ snapshot: { lastIndex: foreign ? at + 2 : at, lastTerm: foreign ? term + 1 : held.term, data: new TextEncoder().encode(`snap${step}`) } });
        if (foreign) term++;
        done[foreign ? 'foreignSnapshots' : 'snapshots']++;
      } else if (roll < 0.85) {
        next = ready({ quorum: { term, votedFor: Math.floor(random() * 3) } });
      } else {
        storage = await reopen(storage);
        done.reopens++;
        expect(summary(storage.load())).toEqual(summary(memory.load()));
        continue;
      }
      memory.persist(next);
      await storage.persist(next);
      expect(summary(storage.load())).toEqual(summary(memory.load()));
    }
    storage = await reopen(storage);
    expect(summary(storage.load())).toEqual(summary(memory.load()));
    await storage.close();
    for (const [kind, count] of Object.entries(done)) expect({ kind, happened: count > 0 }).toEqual({ kind, happened: true });
  });

  it('a crash after the snapshot was written but before the log was cut is finished at open', async () => {
    const other = await mkdtemp(join(tmpdir(), 'klab-raft-snapshot-'));
    try {
      const source = await RaftFileStorage.open(other);
      await source.persist(ready({ log: { from: 1, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] } }));
      await source.persist(ready({ snapshot: { lastIndex: 2, lastTerm: 1, data: new TextEncoder().encode('s2') } }));
      await source.close();
      let storage = await RaftFileStorage.open(dir);
      await storage.persist(ready({ log: { from: 1, entries: [entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)] } }));
      await storage.close();
      await writeFile(join(dir, 'raft.snapshot'), await readFile(join(other, 'raft.snapshot')));
      storage = await RaftFileStorage.open(dir);
      expect(summary(storage.load())).toMatchObject({ snapshot: { lastIndex: 2 }, entries: [[3, 1, 'e3'], [4, 1, 'e4']] });
      storage = await reopen(storage);
      expect(storage.load().entries.map((e) => e.index)).toEqual([3, 4]);
      await storage.close();
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
