// The engine's afterStage hook for `klab up --snapshots`: a snapshot of every VM after each
// stage that ran, and after a skipped stage whose snapshot is missing while the machines are
// still at that stage (no later stage done), so an interrupted snapshot is made up for.
import { KlabError } from '../errors.js';
import type { AfterStage } from '../stages/engine.js';
import type { Stage } from '../stages/playbook.js';
import { SnapshotError } from './driver.js';
import type { StageSnapshots } from './stage-snapshots.js';

export function snapshotAfterStage(
  snapshots: StageSnapshots,
  taken: (stage: Stage, name: string) => void,
): (stage: Stage, hosts: readonly string[], how: AfterStage) => Promise<void> {
  return async (stage, _hosts, how) => {
    if (!how.ran && (how.laterStageDone || (await snapshots.has(stage)))) return;
    try {
      taken(stage, await snapshots.take(stage));
    } catch (error) {
      if (!(error instanceof KlabError)) throw error;
      throw new SnapshotError(
        `stage ${stage.id} is done (its markers are written), but ${error.message}`,
        `${error.hint ? `${error.hint} ` : ''}Then run klab up --snapshots again: done stages are skipped and the missing snapshot is taken.`,
        { cause: error },
      );
    }
  };
}
