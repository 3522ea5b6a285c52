// The stage snapshots of one loaded inventory: its hypervisor's driver and its record file.
import type { LoadedInventory } from '../inventory/load.js';
import { SnapshotRecordFile, snapshotRecordPath } from './record.js';
import { snapshotDriverFor } from './select.js';
import { StageSnapshots } from './stage-snapshots.js';

export async function stageSnapshotsFor(loaded: LoadedInventory): Promise<StageSnapshots> {
  return new StageSnapshots(await snapshotDriverFor(loaded), new SnapshotRecordFile(snapshotRecordPath(loaded.file)));
}
