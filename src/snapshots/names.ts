// Snapshot names: one per stage, `klab-NN-name`, so a snapshot says which stage it follows
// and klab never touches snapshots it did not make.
import type { Stage } from '../stages/playbook.js';

const prefix = 'klab-';

export function snapshotName(stage: Pick<Stage, 'id'>): string {
  return `${prefix}${stage.id}`;
}

/** The stage id a klab snapshot name stands for (`klab-03-kernel` → `03-kernel`); undefined for other snapshots. */
export function stageIdOf(name: string): string | undefined {
  const match = /^klab-(\d{2}-[a-z0-9-]+)$/.exec(name);
  return match?.[1];
}
