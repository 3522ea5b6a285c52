// `klab up`, `klab stage`, `klab plan`, `klab status`: run stages, preview them, or report
// what the hosts' markers say.
import type { Command } from 'commander';
import { KlabError, exitCodes } from '../errors.js';
import { StageEngine } from '../stages/engine.js';
import type { StageSummary } from '../stages/engine.js';
import type { Reporter } from '../stages/events.js';
import { selectStages, stageStatus } from '../stages/planner.js';
import type { StageSelection, StageStatus } from '../stages/planner.js';
import { loadPlaybooks, resolveStage } from '../stages/playbook.js';
import { playbooksDir } from '../stages/paths.js';
import type { Stage } from '../stages/playbook.js';
import { JsonReporter, ListrReporter, PlainReporter, Reporters } from '../run/reporters.js';
import { withSession } from '../run/session.js';
import { inventoryWarnings } from '../inventory/cluster-settings.js';
import { statusTable } from '../run/status-table.js';
import type { RunSession } from '../run/session.js';
import { snapshotAfterStage } from '../snapshots/hook.js';
import { stageSnapshotsFor } from '../snapshots/open.js';
import type { StageSnapshots } from '../snapshots/stage-snapshots.js';
import { loadInventory } from '../inventory/load.js';

interface GlobalOptions {
  inventory: string;
}

interface RunFlags extends StageSelection {
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  /** Snapshot every VM after each stage (also inventory `snapshots: each-stage`). */
  snapshots?: boolean;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function screenReporter(session: RunSession, json: boolean, plan: boolean): Reporter {
  if (json) return new JsonReporter(out);
  if (!plan && process.stdout.isTTY) return new ListrReporter(out);
  return new PlainReporter(out, [...session.hosts.keys()], plan);
}

async function runStages(
  session: RunSession,
  stages: readonly Stage[],
  flags: RunFlags,
  plan: boolean,
  snapshots: StageSnapshots | undefined,
): Promise<StageSummary[]> {
  // listr2 owns a terminal while a stage is on screen: snapshot lines wait for the end of the run there.
  const later: string[] = [];
  const afterStage = snapshots
    ? snapshotAfterStage(snapshots, (stage, name) => {
        const line = `snapshot ${name} taken of ${snapshots.driver.vms.join(', ')}`;
        session.log.note(line);
        if (flags.json === true) out(JSON.stringify({ time: new Date().toISOString(), type: 'snapshot', stage: stage.id, name, vms: snapshots.driver.vms }));
        else if (process.stdout.isTTY) later.push(line);
        else out(line);
      })
    : undefined;
  const engine = new StageEngine({
    context: session.context,
    hosts: session.hosts,
    templates: session.templates,
    dryRun: plan,
    force: flags.force === true,
    reporter: new Reporters(screenReporter(session, flags.json === true, plan), session.log),
    ...(afterStage ? { afterStage } : {}),
  });
  try {
    return await engine.run(stages);
  } finally {
    for (const line of later) out(line);
  }
}

function finish(summaries: readonly StageSummary[], logPath: string, json: boolean, plan: boolean): void {
  if (json) {
    out(JSON.stringify({ time: new Date().toISOString(), type: 'run-end', status: 'ok', stages: summaries, log: logPath }));
    return;
  }
  const ran = summaries.filter((s) => s.status === 'done').map((s) => s.stage);
  const skipped = summaries.filter((s) => s.status === 'skipped').map((s) => s.stage);
  const parts = [ran.length > 0 ? `${plan ? 'planned' : 'ran'} ${ran.join(', ')}` : '', skipped.length > 0 ? `already done ${skipped.join(', ')}` : ''];
  out(`${plan ? 'plan' : 'done'}: ${parts.filter(Boolean).join('; ') || 'nothing selected'}. Log: ${logPath}`);
}

async function up(global: GlobalOptions, flags: RunFlags, command: string, plan: boolean, pick: (stages: Stage[]) => Stage[]): Promise<void> {
  // Stage names are checked before any host is contacted.
  const stages = pick(await loadPlaybooks(playbooksDir()));
  // So is the hypervisor, when snapshots are wanted: a run that cannot take them does not start.
  const loaded = plan ? undefined : await loadInventory(global.inventory);
  const snapshots = loaded && (flags.snapshots === true || loaded.inventory.snapshots === 'each-stage') ? await stageSnapshotsFor(loaded) : undefined;
  await withSession({ inventoryFile: global.inventory, command, createKeys: !plan }, async (session) => {
    // Said once, before the stages, in plain output only: JSON lines stay events.
    if (flags.json !== true) for (const warning of inventoryWarnings(session.loaded.inventory)) out(`warning: ${warning}`);
    let summaries: StageSummary[];
    try {
      summaries = await runStages(session, stages, flags, plan, snapshots);
    } catch (error) {
      if (flags.json === true) {
        const exitCode = session.interrupted ? exitCodes.interrupted : error instanceof KlabError ? error.exitCode : exitCodes.internal;
        const message = error instanceof Error ? error.message : String(error);
        out(JSON.stringify({ time: new Date().toISOString(), type: 'run-end', status: 'failed', exitCode, message, log: session.log.path }));
      }
      throw error;
    }
    finish(summaries, session.log.path, flags.json === true, plan);
  });
}

export async function status(global: GlobalOptions, flags: { json?: boolean }): Promise<void> {
  const stages = await loadPlaybooks(playbooksDir());
  await withSession({ inventoryFile: global.inventory, command: 'status', createKeys: false }, async (session) => {
    const hostNames = [...session.hosts.keys()];
    const engine = new StageEngine({
      context: session.context,
      hosts: session.hosts,
      templates: session.templates,
      dryRun: true,
      force: false,
      reporter: session.log,
    });
    const markers = await engine.readAllMarkers(hostNames);
    const rows: { stage: Stage; cells: Map<string, { status: StageStatus; finishedAt?: string; klabVersion?: string }> }[] = [];
    for (const stage of stages) {
      const targeted = new Set(session.context.stageHosts(stage).map((h) => h.name));
      const digests = await engine.digests(stage, [...targeted]);
      const cells = new Map(
        hostNames.map((h) => {
          const marker = markers.get(h)?.get(stage.id);
          const cell = { status: stageStatus(stage, targeted.has(h), markers.get(h), digests.get(h)) };
          return [h, marker && cell.status !== 'n/a' ? { ...cell, finishedAt: marker.finishedAt, klabVersion: marker.klabVersion } : cell] as const;
        }),
      );
      rows.push({ stage, cells });
    }
    if (flags.json === true) {
      out(
        JSON.stringify({
          hosts: hostNames,
          stages: rows.map((r) => ({ stage: r.stage.id, description: r.stage.description, hosts: Object.fromEntries(r.cells) })),
        }),
      );
      return;
    }
    const byStage = new Map(rows.map((row) => [row.stage.id, row.cells]));
    for (const line of statusTable([...byStage.keys()], hostNames, (stage, host) => byStage.get(stage)?.get(host)?.status)) out(line);
  });
}

export function registerRunCommands(program: Command): void {
  const globals = (command: Command): GlobalOptions => command.optsWithGlobals<GlobalOptions>();
  const selection = (command: Command): Command =>
    command
      .option('--from <stage>', 'first stage (03, kernel or 03-kernel)')
      .option('--to <stage>', 'last stage')
      .option('--only <stage>', 'just this stage')
      .option('--force', 'run stages even when their markers say they are done')
      .option('--json', 'JSON lines on standard output instead of progress');

  selection(program.command('up').description('Bring the hosts up stage by stage, skipping stages already done'))
    .option('--dry-run', 'show what would change; change nothing')
    .option('--snapshots', "snapshot every VM after each stage (klab-NN-name, through the inventory's hypervisor)")
    .action(async (flags: RunFlags, command: Command) => {
      await up(globals(command), flags, 'up', flags.dryRun === true, (stages) => selectStages(stages, flags));
    });

  program
    .command('stage')
    .description('Run one stage alone, even when its markers say it is done')
    .argument('<name>', 'the stage: 03, kernel or 03-kernel')
    .option('--dry-run', 'show what would change; change nothing')
    .option('--json', 'JSON lines on standard output instead of progress')
    .action(async (name: string, flags: RunFlags, command: Command) => {
      await up(globals(command), { ...flags, force: true }, 'stage', flags.dryRun === true, (stages) => [resolveStage(stages, name)]);
    });

  selection(program.command('plan').description('Show what each stage would do on each host; change nothing')).action(
    async (flags: RunFlags, command: Command) => {
      await up(globals(command), flags, 'plan', true, (stages) => selectStages(stages, flags));
    },
  );

  program
    .command('status')
    .description('Show which stages each host has finished, from the markers on the hosts')
    .option('--json', 'one JSON document on standard output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await status(globals(command), flags);
    });
}
