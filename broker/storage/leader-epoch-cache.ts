// The leader-epoch cache of one partition (KIP-101): which leader epoch wrote which offsets, as
// an ordered list of (epoch, first offset written in that epoch). A follower asks its leader
// for the end offset of its own latest epoch and truncates to it, instead of trusting its high
// watermark, so a leader change cannot leave it with a diverged tail.
//
// Entries change once per leader change (and on truncation or log-start moves), so the file
// `leader-epoch-checkpoint` beside the segments is rewritten whole each time, atomically. Its
// text layout follows Kafka's checkpoint files: a version line, a count line, then one
// "epoch startOffset" line per entry.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFileDurably } from './durable-file.js';

export const LEADER_EPOCH_FILE = 'leader-epoch-checkpoint';
const FORMAT_VERSION = 0;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** An OffsetForLeaderEpoch answer; both -1 when the epoch is unknown here. */
export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: number;
}

export const UNDEFINED_EPOCH_END: Readonly<EpochEndOffset> = { leaderEpoch: -1, endOffset: -1 };

export class LeaderEpochCache {
  private entries: EpochEntry[] = [];

  constructor(readonly path: string) {}

  static forDir(dir: string): LeaderEpochCache {
    return new LeaderEpochCache(join(dir, LEADER_EPOCH_FILE));
  }

  /**
   * Loads the checkpoint file. Returns null after loading it, or why it cannot be used
   * ('missing' when there is no file), leaving the cache empty for a rebuild from the log.
   */
  async load(): Promise<string | null> {
    this.entries = [];
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? 'missing' : `unreadable (${code ?? String(error)})`;
    }
    const parsed = parseCheckpoint(text);
    if (typeof parsed === 'string') return parsed;
    this.entries = parsed;
    return null;
  }

  /** Writes the entries to the checkpoint file, replacing it atomically and durably. */
  async save(): Promise<void> {
    const lines = [String(FORMAT_VERSION), String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    await replaceFileDurably(this.path, `${lines.join('\n')}\n`);
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? -1;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  all(): ReadonlyArray<EpochEntry> {
    return this.entries.slice();
  }

  /**
   * Notes that a batch of `epoch` starts at `startOffset`. Only an epoch newer than the latest
   * starts an entry; negative epochs (batches written before epochs existed) are ignored.
   * Returns whether the entries changed.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || epoch <= this.latestEpoch) return false;
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /**
   * The largest epoch ≤ `epoch` and where it ended: the next epoch's start offset, or
   * `logEndOffset` for the latest epoch. Unknown (below the earliest, or no entries) → -1/-1.
   */
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    let index = -1;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]!.epoch <= epoch) {
        index = i;
        break;
      }
    }
    if (index < 0) return { ...UNDEFINED_EPOCH_END };
    const next = this.entries[index + 1];
    return { leaderEpoch: this.entries[index]!.epoch, endOffset: next ? next.startOffset : logEndOffset };
  }

  /** Drops entries starting at or after `endOffset` (the log was cut there). Returns whether any were. */
  truncateFromEnd(endOffset: number): boolean {
    const keep = this.entries.filter((entry) => entry.startOffset < endOffset);
    if (keep.length === this.entries.length) return false;
    this.entries = keep;
    return true;
  }

  /**
   * The log now starts at `startOffset`: entries wholly below it collapse into one, the epoch
   * that was current at that offset, starting there. Returns whether anything changed.
   */
  truncateFromStart(startOffset: number): boolean {
    let current = -1;
    while (current + 1 < this.entries.length && this.entries[current + 1]!.startOffset <= startOffset) current++;
    if (current < 0 || (current === 0 && this.entries[0]!.startOffset === startOffset)) return false;
    const collapsed: EpochEntry = { epoch: this.entries[current]!.epoch, startOffset };
    this.entries = [collapsed, ...this.entries.slice(current + 1)];
    return true;
  }

  clear(): boolean {
    if (this.entries.length === 0) return false;
    this.entries = [];
    return true;
  }
}

/** The entries a checkpoint file holds, or why it is not a valid one. */
function parseCheckpoint(text: string): EpochEntry[] | string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== String(FORMAT_VERSION)) return `unknown format version line ${JSON.stringify(lines[0] ?? '')}`;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) {
    return `count line ${JSON.stringify(lines[1] ?? '')} does not match the ${Math.max(lines.length - 2, 0)} entry lines`;
  }
  const entries: EpochEntry[] = [];
  for (const [i, line] of lines.slice(2).entries()) {
    const match = /^(\d+) (\d+)$/.exec(line);
    const epoch = Number(match?.[1]);
    const startOffset = Number(match?.[2]);
    const previous = entries.at(-1);
    if (!match || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset) || epoch > 0x7fffffff) {
      return `entry ${i} ${JSON.stringify(line)} is not "epoch startOffset"`;
    }
    if (previous && (epoch <= previous.epoch || startOffset <= previous.startOffset)) {
      return `entry ${i} (${line}) does not follow entry ${i - 1} (${previous.epoch} ${previous.startOffset})`;
    }
    entries.push({ epoch, startOffset });
  }
  return entries;
}
