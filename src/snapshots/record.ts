// klab's own note of the snapshots it took (`.klab/snapshots.json` beside the inventory):
// when each VM's snapshot was taken. The hypervisor stays the truth about which snapshots
// exist; the record adds the times vmrun and virsh do not print, and lets a skipped stage
// tell whether its snapshot is still to be taken.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { KlabError, exitCodes } from '../errors.js';
import { ensurePrivateDir, stateDir, writeFileAtomic } from '../state.js';

const recordSchema = z.strictObject({
  format: z.literal(1),
  /** Snapshot name → VM (inventory host name) → when it was taken (ISO 8601). */
  snapshots: z.record(z.string(), z.record(z.string(), z.string())),
});

export type SnapshotRecord = z.infer<typeof recordSchema>;

export function snapshotRecordPath(inventoryFile: string): string {
  return join(stateDir(inventoryFile), 'snapshots.json');
}

export const emptyRecord = (): SnapshotRecord => ({ format: 1, snapshots: {} });

export async function readSnapshotRecord(file: string): Promise<SnapshotRecord> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyRecord();
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new KlabError(`${file} is not JSON: ${(error as Error).message}`, exitCodes.usage, 'Delete the file: klab rebuilds it as it takes snapshots (the snapshots themselves stay in the hypervisor).');
  }
  const result = recordSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ');
    throw new KlabError(`${file} is not a snapshot record klab understands: ${problems}`, exitCodes.usage, 'Delete the file: klab rebuilds it as it takes snapshots.');
  }
  return result.data;
}

export function withTaken(record: SnapshotRecord, name: string, vm: string, takenAt: string): SnapshotRecord {
  return { ...record, snapshots: { ...record.snapshots, [name]: { ...record.snapshots[name], [vm]: takenAt } } };
}

export function withDeleted(record: SnapshotRecord, name: string, vm: string): SnapshotRecord {
  const { [vm]: _gone, ...rest } = record.snapshots[name] ?? {};
  const { [name]: _entry, ...others } = record.snapshots;
  return { ...record, snapshots: Object.keys(rest).length > 0 ? { ...others, [name]: rest } : others };
}

/**
 * The record file, changed one step at a time: each change is read, applied and written
 * whole (atomically), in the order the calls were made, so parallel snapshots of several VMs
 * never lose one another's entries.
 */
export class SnapshotRecordFile {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  read(): Promise<SnapshotRecord> {
    return readSnapshotRecord(this.path);
  }

  update(change: (record: SnapshotRecord) => SnapshotRecord): Promise<void> {
    const next = this.queue.then(async () => {
      const updated = change(await this.read());
      await ensurePrivateDir(dirname(this.path));
      await writeFileAtomic(this.path, `${JSON.stringify(updated, null, 2)}\n`, 0o600);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
