// The core's in-memory copy of the replicated log: entries after the latest snapshot, with the
// snapshot's last index and term standing in for everything before it. It remembers the lowest
// index changed since the last drain, so the driver rewrites only the changed suffix.
import { RaftUsageError } from './errors.js';
import type { RaftEntry, RaftSnapshot } from './types.js';

export class RaftLog {
  private entries: RaftEntry[];
  private baseIndex: number;
  private baseTerm: number;
  private dirtyFrom: number | null = null;

  constructor(snapshot: RaftSnapshot | null, entries: readonly RaftEntry[]) {
    this.baseIndex = snapshot?.lastIndex ?? 0;
    this.baseTerm = snapshot?.lastTerm ?? 0;
    this.entries = [];
    for (const entry of entries) {
      if (entry.index <= this.baseIndex) continue;
      if (entry.index !== this.lastIndex + 1) {
        throw new RaftUsageError(`log entries are not consecutive: ${entry.index} follows ${this.lastIndex}`);
      }
      this.entries.push(entry);
    }
  }

  /** Index of the last entry covered by the snapshot (0 without one). */
  get snapshotIndex(): number {
    return this.baseIndex;
  }

  get lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.baseTerm;
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or not there yet. */
  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    return this.entryAt(index)?.term;
  }

  entryAt(index: number): RaftEntry | undefined {
    if (index <= this.baseIndex) return undefined;
    return this.entries[index - this.baseIndex - 1];
  }

  /** Entries with index in [from, to), at most `max` of them; `from` must be after the snapshot. */
  slice(from: number, to: number, max = Number.POSITIVE_INFINITY): RaftEntry[] {
    if (from <= this.baseIndex) throw new RaftUsageError(`entry ${from} is compacted into the snapshot at ${this.baseIndex}`);
    const end = Math.min(to, this.lastIndex + 1, from + max);
    return this.entries.slice(from - this.baseIndex - 1, end - this.baseIndex - 1);
  }

  /** First index of the run of entries sharing the term of the entry at `index`. */
  firstIndexOfTermAt(index: number): number {
    const term = this.termAt(index);
    let first = index;
    while (first - 1 > this.baseIndex && this.termAt(first - 1) === term) first--;
    return first;
  }

  append(entry: RaftEntry): void {
    if (entry.index !== this.lastIndex + 1) throw new RaftUsageError(`entry ${entry.index} does not follow ${this.lastIndex}`);
    this.entries.push(entry);
    this.markDirty(entry.index);
  }

  /** Removes every entry at index >= `from`. */
  truncateFrom(from: number): void {
    if (from <= this.baseIndex) throw new RaftUsageError(`cannot truncate at ${from}: compacted up to ${this.baseIndex}`);
    if (from > this.lastIndex) return;
    this.entries.length = from - this.baseIndex - 1;
    this.markDirty(from);
  }

  /** Drops the entries up to and including `snapshot.lastIndex`, which the snapshot now covers. */
  compact(snapshot: RaftSnapshot): void {
    const keep = this.termAt(snapshot.lastIndex) === snapshot.lastTerm ? this.entries.slice(snapshot.lastIndex - this.baseIndex) : [];
    if (keep.length === 0 && this.lastIndex > snapshot.lastIndex) this.markDirty(snapshot.lastIndex + 1);
    this.entries = keep;
    this.baseIndex = snapshot.lastIndex;
    this.baseTerm = snapshot.lastTerm;
    if (this.dirtyFrom !== null && this.dirtyFrom <= this.baseIndex) this.dirtyFrom = this.baseIndex + 1;
  }

  hasChanges(): boolean {
    return this.dirtyFrom !== null;
  }

  /** The changed suffix since the last call, for the driver to write, or null when nothing changed. */
  drainChanges(): { from: number; entries: RaftEntry[] } | null {
    if (this.dirtyFrom === null) return null;
    const from = Math.max(this.dirtyFrom, this.baseIndex + 1);
    this.dirtyFrom = null;
    return { from, entries: this.slice(from, this.lastIndex + 1) };
  }

  private markDirty(index: number): void {
    this.dirtyFrom = this.dirtyFrom === null ? index : Math.min(this.dirtyFrom, index);
  }
}
