// A voter's disk: the quorum state, the Raft log and the latest snapshot, in one directory.
//
//   quorum-state   JSON {version, term, votedFor}, replaced durably (write, fsync, rename) on
//                  every change, before the answer that depends on it is sent.
//   raft.log       append-only entries: [u32 payload length][u32 CRC-32 of payload][payload],
//                  payload = [u64 index][u64 term][u8 kind: 0 leader marker, 1 record][data].
//   raft.snapshot  [magic "KRSN"][u8 version][u64 last index][u64 last term][u32 CRC-32][u32 length][data],
//                  replaced durably.
//
// A crash mid-append leaves a torn tail (a short or unfinished last record), which open cuts
// off: it was never fsynced, so nobody was told it was stored. Damage anywhere else is
// reported with the file and byte offset, never skipped. Writes are not concurrent: the
// driver awaits each persist() before the next.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import type { Logger } from '../../log.js';
import { replaceFileDurably, syncDirectory } from '../../storage/durable-file.js';
import { RaftStorageError } from './errors.js';
import type { PersistedRaftState, QuorumState, RaftEntry, RaftSnapshot, Ready } from './types.js';

const recordHeaderBytes = 8;
const payloadHeaderBytes = 17;
const snapshotMagic = Buffer.from('KRSN');
const snapshotHeaderBytes = 4 + 1 + 8 + 8 + 4 + 4;
const quorumStateSchema = z.object({
  version: z.literal(1),
  term: z.number().int().nonnegative(),
  votedFor: z.number().int().nonnegative().nullable(),
});

/** What open() found and repaired: the torn tail it cut off, if any. */
export interface RaftStorageRecovery {
  readonly tornTailAt: number | null;
  readonly tornTailBytes: number;
}

export class RaftFileStorage {
  private constructor(
    readonly dir: string,
    private logHandle: FileHandle,
    private quorum: QuorumState,
    private snapshot: RaftSnapshot | null,
    private entries: RaftEntry[],
    /** File offset of each entry in `entries`, plus the end of the file last. */
    private offsets: number[],
    readonly recovery: RaftStorageRecovery,
  ) {}

  get quorumFile(): string {
    return join(this.dir, 'quorum-state');
  }

  get logFile(): string {
    return join(this.dir, 'raft.log');
  }

  get snapshotFile(): string {
    return join(this.dir, 'raft.snapshot');
  }

  /** Opens (creating) the storage in `dir`, cutting off a torn log tail. */
  static async open(dir: string, logger?: Logger): Promise<RaftFileStorage> {
    await mkdir(dir, { recursive: true });
    const quorum = await readQuorumState(join(dir, 'quorum-state'));
    const snapshot = await readSnapshot(join(dir, 'raft.snapshot'));
    const logFile = join(dir, 'raft.log');
    const scanned = scanLog(logFile, await readIfExists(logFile));
    if (scanned.tornTailAt !== null) {
      logger?.warn('cutting a torn tail off the raft log', { file: logFile, offset: scanned.tornTailAt, bytes: scanned.tornTailBytes });
    }
    const handle = await open(logFile, 'a+');
    await handle.close();
    const logHandle = await open(logFile, 'r+');
    const storage = new RaftFileStorage(dir, logHandle, quorum, snapshot, scanned.entries, scanned.offsets, {
      tornTailAt: scanned.tornTailAt,
      tornTailBytes: scanned.tornTailBytes,
    });
    try {
      if (scanned.tornTailAt !== null) {
        await logHandle.truncate(scanned.tornTailAt);
        await logHandle.sync();
      }
      await syncDirectory(dir);
      if (snapshot) await storage.fitLogToSnapshot(snapshot);
      else if (scanned.entries.length > 0 && scanned.entries[0]!.index !== 1) {
        throw new RaftStorageError(logFile, 0, `the log starts at entry ${scanned.entries[0]!.index} but there is no snapshot before it`);
      }
    } catch (error) {
      await logHandle.close();
      throw error;
    }
    return storage;
  }

  /** What the core restarts from. */
  load(): PersistedRaftState {
    return { quorum: this.quorum, snapshot: this.snapshot, entries: [...this.entries] };
  }

  /** Makes a Ready's quorum state, snapshot and log writes durable, in that order. */
  async persist(ready: Ready): Promise<void> {
    if (ready.quorum) {
      const content = JSON.stringify({ version: 1, term: ready.quorum.term, votedFor: ready.quorum.votedFor });
      await replaceFileDurably(this.quorumFile, `${content}\n`);
      this.quorum = ready.quorum;
    }
    if (ready.snapshot) {
      await replaceFileDurably(this.snapshotFile, encodeSnapshot(ready.snapshot));
      this.snapshot = ready.snapshot;
      await this.fitLogToSnapshot(ready.snapshot);
    }
    if (ready.log) await this.writeLog(ready.log.from, ready.log.entries);
  }

  async close(): Promise<void> {
    await this.logHandle.close();
  }

  /** Drops entries from `from` on, then appends `entries`, and fsyncs. */
  private async writeLog(from: number, entries: readonly RaftEntry[]): Promise<void> {
    const base = this.snapshot?.lastIndex ?? 0;
    const lastIndex = this.entries.at(-1)?.index ?? base;
    if (from <= base || from > lastIndex + 1) {
      throw new RaftStorageError(this.logFile, null, `cannot write entries from ${from}: the log holds ${base + 1}..${lastIndex}`);
    }
    entries.forEach((entry, i) => {
      if (entry.index !== from + i) throw new RaftStorageError(this.logFile, null, `entry ${entry.index} written where ${from + i} belongs`);
    });
    const keep = from - (this.entries[0]?.index ?? from);
    if (keep < this.entries.length) {
      const cut = this.offsets[keep]!;
      await this.logHandle.truncate(cut);
      this.entries.length = keep;
      this.offsets.length = keep + 1;
    }
    if (entries.length > 0) {
      const end = this.offsets.at(-1)!;
      const encoded = entries.map(encodeEntry);
      const buffer = Buffer.concat(encoded);
      await this.logHandle.write(buffer, 0, buffer.length, end);
      let offset = end;
      this.offsets.length = this.entries.length;
      for (let i = 0; i < entries.length; i++) {
        this.entries.push(entries[i]!);
        this.offsets.push(offset);
        offset += encoded[i]!.length;
      }
      this.offsets.push(offset);
    }
    await this.logHandle.sync();
  }

  /**
   * Keeps only the log after the snapshot, and only if the log holds the snapshot's last entry
   * with its term; otherwise the log belongs to a history the snapshot replaced and is emptied.
   * The log file is rewritten whole (it is small once compacted) and replaced durably.
   */
  private async fitLogToSnapshot(snapshot: RaftSnapshot): Promise<void> {
    if (this.entries.length === 0 || this.entries[0]!.index > snapshot.lastIndex) {
      const first = this.entries[0]?.index;
      if (first !== undefined && first !== snapshot.lastIndex + 1) {
        throw new RaftStorageError(this.logFile, 0, `the log starts at entry ${first} but the snapshot ends at ${snapshot.lastIndex}`);
      }
      return;
    }
    const holdsLast = this.entries.some((entry) => entry.index === snapshot.lastIndex && entry.term === snapshot.lastTerm);
    const kept = holdsLast ? this.entries.filter((entry) => entry.index > snapshot.lastIndex) : [];
    const encoded = kept.map(encodeEntry);
    await this.logHandle.close();
    await replaceFileDurably(this.logFile, Buffer.concat(encoded));
    this.logHandle = await open(this.logFile, 'r+');
    this.entries = kept;
    this.offsets = [0];
    for (const bytes of encoded) this.offsets.push(this.offsets.at(-1)! + bytes.length);
  }
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RaftStorageError(file, null, `cannot read: ${(error as Error).message}`, { cause: error });
  }
}

async function readQuorumState(file: string): Promise<QuorumState> {
  const bytes = await readIfExists(file);
  if (bytes === null) return { term: 0, votedFor: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new RaftStorageError(file, null, `not valid JSON (${(error as Error).message}); restore it from a backup or remove the voter's data to rejoin empty`, { cause: error });
  }
  const result = quorumStateSchema.safeParse(parsed);
  if (!result.success) {
    throw new RaftStorageError(file, null, `expected {"version":1,"term":<n>,"votedFor":<id or null>}: ${result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  return { term: result.data.term, votedFor: result.data.votedFor };
}

function encodeEntry(entry: RaftEntry): Buffer {
  const data = entry.data ?? new Uint8Array(0);
  const record = Buffer.alloc(recordHeaderBytes + payloadHeaderBytes + data.length);
  const payload = record.subarray(recordHeaderBytes);
  payload.writeBigUInt64BE(BigInt(entry.index), 0);
  payload.writeBigUInt64BE(BigInt(entry.term), 8);
  payload.writeUInt8(entry.data === null ? 0 : 1, 16);
  payload.set(data, payloadHeaderBytes);
  record.writeUInt32BE(payload.length, 0);
  record.writeUInt32BE(crc32(payload), 4);
  return record;
}

interface ScannedLog {
  entries: RaftEntry[];
  offsets: number[];
  tornTailAt: number | null;
  tornTailBytes: number;
}

/**
 * Reads every whole record. The tail is torn when the file ends inside a record, when only
 * zeros follow (space allocated but not written), or when the last record fails its CRC.
 */
function scanLog(file: string, bytes: Buffer | null): ScannedLog {
  const entries: RaftEntry[] = [];
  const offsets: number[] = [];
  if (bytes === null) return { entries, offsets: [0], tornTailAt: null, tornTailBytes: 0 };
  let offset = 0;
  const torn = (): ScannedLog => ({ entries, offsets: [...offsets, offset], tornTailAt: offset, tornTailBytes: bytes.length - offset });
  while (offset < bytes.length) {
    if (bytes.length - offset < recordHeaderBytes) return torn();
    const length = bytes.readUInt32BE(offset);
    const end = offset + recordHeaderBytes + length;
    if (end > bytes.length || (length === 0 && onlyZeros(bytes, offset))) return torn();
    if (length < payloadHeaderBytes) throw new RaftStorageError(file, offset, `record length ${length} is shorter than an entry header; the log is damaged`);
    const payload = bytes.subarray(offset + recordHeaderBytes, end);
    if (crc32(payload) !== bytes.readUInt32BE(offset + 4)) {
      if (onlyZeros(bytes, end)) return torn();
      throw new RaftStorageError(file, offset, 'entry fails its CRC check and more entries follow it; the log is damaged (restore the voter from a backup, or remove its data so it rejoins from the leader)');
    }
    const index = Number(payload.readBigUInt64BE(0));
    const term = Number(payload.readBigUInt64BE(8));
    const kind = payload.readUInt8(16);
    if (kind > 1) throw new RaftStorageError(file, offset, `unknown entry kind ${kind}`);
    const previous = entries.at(-1);
    if (previous && index !== previous.index + 1) throw new RaftStorageError(file, offset, `entry ${index} follows entry ${previous.index}`);
    entries.push({ index, term, data: kind === 0 ? null : new Uint8Array(payload.subarray(payloadHeaderBytes)) });
    offsets.push(offset);
    offset = end;
  }
  offsets.push(offset);
  return { entries, offsets, tornTailAt: null, tornTailBytes: 0 };
}

function onlyZeros(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function encodeSnapshot(snapshot: RaftSnapshot): Buffer {
  const header = Buffer.alloc(snapshotHeaderBytes);
  snapshotMagic.copy(header, 0);
  header.writeUInt8(1, 4);
  header.writeBigUInt64BE(BigInt(snapshot.lastIndex), 5);
  header.writeBigUInt64BE(BigInt(snapshot.lastTerm), 13);
  header.writeUInt32BE(crc32(snapshot.data), 21);
  header.writeUInt32BE(snapshot.data.length, 25);
  return Buffer.concat([header, snapshot.data]);
}

async function readSnapshot(file: string): Promise<RaftSnapshot | null> {
  const bytes = await readIfExists(file);
  if (bytes === null) return null;
  if (bytes.length < snapshotHeaderBytes || !bytes.subarray(0, 4).equals(snapshotMagic)) {
    throw new RaftStorageError(file, 0, 'not a raft snapshot (bad header)');
  }
  const version = bytes.readUInt8(4);
  if (version !== 1) throw new RaftStorageError(file, 4, `unknown snapshot version ${version}`);
  const length = bytes.readUInt32BE(25);
  if (bytes.length !== snapshotHeaderBytes + length) {
    throw new RaftStorageError(file, snapshotHeaderBytes, `snapshot data is ${bytes.length - snapshotHeaderBytes} bytes, its header says ${length}`);
  }
  const data = new Uint8Array(bytes.subarray(snapshotHeaderBytes));
  if (crc32(data) !== bytes.readUInt32BE(21)) throw new RaftStorageError(file, snapshotHeaderBytes, 'snapshot data fails its CRC check');
  return { lastIndex: Number(bytes.readBigUInt64BE(5)), lastTerm: Number(bytes.readBigUInt64BE(13)), data };
}
