// Which stages a command runs, and which of those are already done. Pure functions: the
// markers and digests are read by the caller, so the decisions are unit-testable.
import { KlabError, exitCodes } from '../errors.js';
import type { StageMarker } from './markers.js';
import type { Stage } from './playbook.js';
import { resolveStage } from './playbook.js';

export interface StageSelection {
  from?: string | undefined;
  to?: string | undefined;
  only?: string | undefined;
}

export function selectStages(stages: readonly Stage[], selection: StageSelection): Stage[] {
  if (selection.only !== undefined) {
    if (selection.from !== undefined || selection.to !== undefined) {
      throw new KlabError('--only cannot be combined with --from or --to', exitCodes.usage, 'Use --only S for one stage, or --from/--to for a range.');
    }
    return [resolveStage(stages, selection.only)];
  }
  const first = selection.from === undefined ? 0 : stages.indexOf(resolveStage(stages, selection.from));
  const last = selection.to === undefined ? stages.length - 1 : stages.indexOf(resolveStage(stages, selection.to));
  if (first > last) {
    throw new KlabError(
      `--from ${selection.from ?? ''} comes after --to ${selection.to ?? ''}`,
      exitCodes.usage,
      `Stages run in order: ${stages.map((s) => s.id).join(', ')}.`,
    );
  }
  return stages.slice(first, last + 1);
}

export interface StageDecision {
  action: 'run' | 'skip';
  reason: string;
  /** Hosts whose marker for this stage was current before the run. */
  finishedOn: Set<string>;
}

/**
 * A stage is skipped when every host it targets carries its marker with the current digest,
 * unless forced. One outdated or missing marker runs it everywhere: the
 * tasks are idempotent, so the hosts that were done simply report ok.
 */
export function decideStage(
  stage: Stage,
  hosts: readonly string[],
  markers: ReadonlyMap<string, ReadonlyMap<string, StageMarker>>,
  digests: ReadonlyMap<string, string>,
  force: boolean,
): StageDecision {
  const finishedOn = new Set(hosts.filter((h) => markers.get(h)?.get(stage.id)?.digest === digests.get(h)));
  if (force) return { action: 'run', reason: 'forced', finishedOn };
  if (hosts.length > 0 && finishedOn.size === hosts.length) return { action: 'skip', reason: 'already done on every host', finishedOn };
  const missing = hosts.filter((h) => !finishedOn.has(h));
  const outdated = missing.filter((h) => markers.get(h)?.has(stage.id));
  const reason = outdated.length > 0 ? `changed since last run on ${outdated.join(', ')}` : `not done on ${missing.join(', ')}`;
  return { action: 'run', reason, finishedOn };
}

export type StageStatus = 'done' | 'outdated' | 'missing' | 'n/a';

/** One cell of `klab status`: a host's markers against the stage's current digest for that host. */
export function stageStatus(
  stage: Stage,
  targeted: boolean,
  markers: ReadonlyMap<string, StageMarker> | undefined,
  digest: string | undefined,
): StageStatus {
  if (!targeted) return 'n/a';
  const marker = markers?.get(stage.id);
  if (!marker) return 'missing';
  return marker.digest === digest ? 'done' : 'outdated';
}
