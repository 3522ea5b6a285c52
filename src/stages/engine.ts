// The stage manager. Tasks of a stage run in order; each task runs on its hosts in
// parallel; the first task that fails anywhere stops the stage (later tasks may depend on it,
// also across hosts). When a stage has finished on all its hosts, each host gets a marker
// with the stage's digest, then the optional afterStage hook runs (hypervisor snapshots).
import { KlabError, exitCodes } from '../errors.js';
import type { Host } from '../transport/host.js';
import { redact } from '../transport/shell.js';
import type { RunContext, TemplateView } from './context.js';
import { stageDigest } from './digest.js';
import type { TemplateStore } from './digest.js';
import type { EngineEvent, Reporter, TaskOutcome, TaskStatus } from './events.js';
import { zeroCounts } from './events.js';
import { markerDir, readMarkers, writeMarker } from './markers.js';
import type { StageMarker } from './markers.js';
import { decideStage } from './planner.js';
import type { Stage, Task } from './playbook.js';
import { MissingValueError, lookupPath, render } from './render.js';
import {
  HostStep,
  TaskFailure,
  evaluateCondition,
  runApt,
  runAssert,
  runBlockInFile,
  runCapture,
  runCommand,
  runLocalFile,
  runTemplate,
  runWait,
} from './tasks.js';
import type { TaskEnv, TaskResult } from './tasks.js';
import { klabVersion } from '../run/version.js';

export interface EngineOptions {
  context: RunContext;
  /** Connected hosts by inventory name. */
  hosts: ReadonlyMap<string, Host>;
  templates: TemplateStore;
  dryRun: boolean;
  /** Run stages even when their markers are current. */
  force: boolean;
  reporter: Reporter;
  /** Where stage markers live on a host; tests point it at a temporary folder per host. */
  markerDirFor?: (host: string) => string;
  /**
   * Runs after a stage finished on all its hosts, and after a stage skipped as already done
   * (not in dry-run): the hook for VM snapshots.
   */
  afterStage?: (stage: Stage, hosts: readonly string[], how: AfterStage) => Promise<void>;
}

/**
 * How a stage came to be done: it ran now, or it was skipped; a skipped stage also tells
 * whether a later stage is done on one of its hosts (then the machines are past it).
 */
export type AfterStage = { ran: true } | { ran: false; laterStageDone: boolean };

export interface StageFailure {
  stage: string;
  task: string;
  taskNumber: number;
  host: string;
  message: string;
  exitCode?: number;
  output?: string;
  hint?: string;
  unfit: boolean;
}

export interface StageSummary {
  stage: string;
  status: 'done' | 'skipped' | 'failed';
  reason?: string;
  counts?: Record<TaskStatus, number>;
}

export class StageFailedError extends KlabError {
  constructor(readonly failures: readonly StageFailure[]) {
    const first = failures[0];
    const stage = first?.stage ?? '?';
    const lines = failures.map((f) => {
      const code = f.exitCode === undefined || f.message.includes(`code ${f.exitCode}`) ? '' : ` (exit code ${f.exitCode})`;
      const output = f.output ? `\n${f.output.split('\n').map((l) => `      ${l}`).join('\n')}` : '';
      return `  ${f.host}: task ${f.taskNumber} "${f.task}": ${f.message}${code}${output}`;
    });
    const unfit = failures.length > 0 && failures.every((f) => f.unfit);
    super(
      `stage ${stage} failed on ${failures.map((f) => f.host).join(', ')}:\n${lines.join('\n')}`,
      unfit ? exitCodes.preflightFailed : exitCodes.stageFailed,
      first?.hint ?? `Fix the cause, then run klab up again: finished stages are skipped and ${stage} runs again.`,
    );
  }
}

function tail(text: string, lines = 12): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function describeCondition(task: Task): string {
  const when = task.when;
  if (!when) return '';
  const [op, value] = Object.entries(when).find(([k]) => k !== 'var') ?? ['', ''];
  return `${when.var} ${op} ${JSON.stringify(value)}`;
}

export class StageEngine {
  /** Hosts on which a dry-run found a change it did not make: later probes there may not tell the truth yet. */
  private readonly pendingHosts = new Set<string>();

  constructor(private readonly options: EngineOptions) {}

  private async emit(event: EngineEvent): Promise<void> {
    await this.options.reporter.event(event);
  }

  async readAllMarkers(hosts: readonly string[]): Promise<Map<string, Map<string, StageMarker>>> {
    const entries = await Promise.all(
      hosts.map(async (name) => [name, await readMarkers(this.host(name), this.markerDir(name), this.options.context.secrets)] as const),
    );
    return new Map(entries);
  }

  async digests(stage: Stage, hosts: readonly string[]): Promise<Map<string, string>> {
    const { context, templates } = this.options;
    return new Map(await Promise.all(hosts.map(async (h) => [h, await stageDigest(stage, context, h, templates)] as const)));
  }

  private markerDir(host: string): string {
    return this.options.markerDirFor?.(host) ?? markerDir;
  }

  private host(name: string): Host {
    const host = this.options.hosts.get(name);
    if (!host) throw new Error(`host ${name} is not connected`);
    return host;
  }

  /** Runs the stages in order, skipping finished ones; throws StageFailedError at the first failed stage. */
  async run(stages: readonly Stage[]): Promise<StageSummary[]> {
    const { context } = this.options;
    const allHosts = [...new Set(stages.flatMap((s) => context.stageHosts(s).map((h) => h.name)))];
    const markers = await this.readAllMarkers(allHosts);
    const summaries: StageSummary[] = [];
    for (const stage of stages) {
      const hosts = context.stageHosts(stage).map((h) => h.name);
      const digests = await this.digests(stage, hosts);
      const decision = decideStage(stage, hosts, markers, digests, this.options.force);
      if (decision.action === 'skip') {
        await this.emit({ type: 'stage-skip', stage: stage.id, description: stage.description, reason: decision.reason });
        summaries.push({ stage: stage.id, status: 'skipped', reason: decision.reason });
        // Stage ids begin with their two-digit number, so they sort in stage order.
        const laterStageDone = hosts.some((h) => [...(markers.get(h)?.keys() ?? [])].some((id) => id > stage.id));
        if (!this.options.dryRun) await this.options.afterStage?.(stage, hosts, { ran: false, laterStageDone });
        continue;
      }
      const result = await this.runStage(stage, hosts, decision.finishedOn, digests);
      summaries.push({ stage: stage.id, status: result.failures.length > 0 ? 'failed' : 'done', reason: decision.reason, counts: result.counts });
      if (result.failures.length > 0) throw new StageFailedError(result.failures);
    }
    return summaries;
  }

  async runStage(
    stage: Stage,
    hosts: readonly string[],
    finishedOn: ReadonlySet<string>,
    digests: ReadonlyMap<string, string>,
  ): Promise<{ failures: StageFailure[]; counts: Record<TaskStatus, number> }> {
    const { context, dryRun } = this.options;
    const started = Date.now();
    const counts = zeroCounts();
    const failures: StageFailure[] = [];
    const changedIds = new Map(hosts.map((h) => [h, new Set<string>()]));
    await this.emit({ type: 'stage-start', stage: stage.id, description: stage.description, hosts: [...hosts], dryRun });

    for (const [index, task] of stage.tasks.entries()) {
      const targets = context.hostsFor(task.hosts).map((h) => h.name).filter((h) => hosts.includes(h));
      if (targets.length === 0) continue;
      await this.emit({ type: 'task-start', stage: stage.id, task: task.name, index, hosts: targets });
      const where = `${stage.file} task ${index + 1} "${task.name}"`;
      const outcomes = this.isCrossHost(task)
        ? await this.runCrossHostCheck(stage, task, targets, where)
        : await Promise.all(
            targets.map((h) =>
              this.runOnHost(stage, task, h, where, { changedIds: changedIds.get(h) ?? new Set(), finishedBefore: finishedOn.has(h) }),
            ),
          );
      for (const outcome of outcomes) {
        counts[outcome.status] += 1;
        await this.emit({ type: 'task-result', stage: stage.id, task: task.name, index, outcome });
        if (outcome.status === 'failed') {
          failures.push({
            stage: stage.id,
            task: task.name,
            taskNumber: index + 1,
            host: outcome.host,
            message: outcome.detail ?? 'failed',
            ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
            ...(outcome.output === undefined ? {} : { output: outcome.output }),
            ...(task.hint === undefined ? {} : { hint: task.hint }),
            unfit: outcome.unfit === true,
          });
        }
      }
      if (failures.length > 0) break;
    }

    if (failures.length === 0 && !dryRun) {
      const finishedAt = new Date().toISOString();
      await Promise.all(
        hosts.map((h) => {
          const marker: StageMarker = { stage: stage.id, digest: digests.get(h) ?? '', klabVersion, finishedAt };
          const host = this.host(h);
          return new HostStep(host, dryRun, context).wet(`record ${stage.id}`, () => writeMarker(host, marker, this.markerDir(h), context.secrets));
        }),
      );
      await this.options.afterStage?.(stage, hosts, { ran: true });
    }
    await this.emit({ type: 'stage-end', stage: stage.id, status: failures.length > 0 ? 'failed' : 'done', counts, durationMs: Date.now() - started });
    return { failures, counts };
  }

  private isCrossHost(task: Task): boolean {
    return task.kind === 'check' && (task.spec.unique !== undefined || task.spec.clockSkew !== undefined);
  }

  private async runOnHost(
    stage: Stage,
    task: Task,
    hostName: string,
    where: string,
    state: { changedIds: Set<string>; finishedBefore: boolean },
  ): Promise<TaskOutcome> {
    const { context, dryRun, templates } = this.options;
    const started = Date.now();
    const step = new HostStep(this.host(hostName), dryRun, context);
    const view = context.view(hostName, stage);
    const done = (status: TaskStatus, fields: Partial<TaskOutcome>): TaskOutcome => ({
      host: hostName,
      status,
      ...fields,
      ...(fields.detail === undefined ? {} : { detail: redact(fields.detail, context.secrets) }),
      durationMs: Date.now() - started,
    });
    try {
      if (task.when && !evaluateCondition(task.when, view, where)) {
        return done('skipped', { detail: `condition not met (${describeCondition(task)})` });
      }
      const env: TaskEnv = { step, view, context, templates, where, playbookFile: stage.file };
      const result = await this.dispatch(task, env, state);
      if (step.changed) {
        if (task.id !== undefined) state.changedIds.add(task.id);
        if (dryRun) this.pendingHosts.add(hostName);
        return done('changed', { detail: dryRun ? `would ${step.changes.join('; ')}` : result.detail, ...(result.warning ? { warning: result.warning } : {}) });
      }
      return done(result.status ?? 'ok', { detail: result.detail, ...(result.warning ? { warning: result.warning } : {}) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (dryRun && this.pendingHosts.has(hostName)) {
        const reason = error instanceof MissingValueError ? `needs ${error.names.join(', ')}` : message;
        return done('skipped', { detail: `cannot tell before earlier changes are made (${reason})` });
      }
      const failure = error instanceof TaskFailure ? error : undefined;
      return done('failed', {
        detail: message,
        ...(failure?.exitCode === undefined ? {} : { exitCode: failure.exitCode }),
        ...(failure?.output ? { output: tail(redact(failure.output, context.secrets)) } : {}),
        ...(failure?.unfit ? { unfit: true } : {}),
      });
    }
  }

  private dispatch(task: Task, env: TaskEnv, state: { changedIds: Set<string>; finishedBefore: boolean }): Promise<TaskResult> {
    switch (task.kind) {
      case 'template':
        return runTemplate(env, task.spec);
      case 'blockinfile':
        return runBlockInFile(env, task.spec);
      case 'command':
        return runCommand(env, task.spec, state);
      case 'apt':
        return runApt(env, task.spec);
      case 'localFile':
        return runLocalFile(env, task.spec);
      case 'wait':
        return runWait(env, task.spec);
      case 'capture':
        return runCapture(env, task.spec);
      case 'check': {
        const { assert } = task.spec;
        if (assert === undefined) throw new Error(`${env.where}: a cross-host check reached the per-host path`);
        return Promise.resolve(runAssert(env, { ...task.spec, assert }));
      }
    }
  }

  /** `unique` and `clockSkew`: a verdict per host that needs every host's value. */
  private async runCrossHostCheck(stage: Stage, task: Task, hosts: readonly string[], where: string): Promise<TaskOutcome[]> {
    if (task.kind !== 'check') throw new Error(`${where}: not a check`);
    const { context } = this.options;
    const spec = task.spec;
    const started = Date.now();
    const views = new Map<string, TemplateView>(hosts.map((h) => [h, context.view(h, stage)]));
    const verdict = (host: string, problem: string | undefined, detail: string): TaskOutcome => {
      const base = { host, durationMs: Date.now() - started };
      if (problem === undefined) return { ...base, status: 'ok', detail };
      const message = `${render(spec.message, views.get(host) ?? {}, `${where} (check.message)`)} (${problem})`;
      if (spec.severity === 'warn') return { ...base, status: 'ok', detail, warning: message };
      return { ...base, status: 'failed', detail: message, unfit: true };
    };

    if (spec.unique !== undefined) {
      const path = spec.unique;
      const values = new Map(hosts.map((h) => [h, lookupPath(views.get(h), path)]));
      return hosts.map((h) => {
        const value = values.get(h);
        if (value === undefined) return { host: h, status: 'failed', detail: `${where}: {{${path}}} has no value`, durationMs: Date.now() - started };
        const twins = hosts.filter((other) => other !== h && values.get(other) === value);
        return verdict(h, twins.length > 0 ? `same ${path} as ${twins.join(', ')}` : undefined, `unique ${path}`);
      });
    }

    const maxMs = (spec.clockSkew?.maxSeconds ?? 0) * 1000;
    const offsets = await Promise.all(
      hosts.map(async (h) => {
        // The remote reading lies between the local readings before and after; the midpoint is within half a round trip.
        const before = Date.now();
        const result = await this.host(h).exec('date +%s%N', { timeoutMs: 30_000 });
        const after = Date.now();
        const remoteMs = Number(result.stdout.trim()) / 1e6;
        return { host: h, offsetMs: result.code === 0 && Number.isFinite(remoteMs) ? remoteMs - (before + after) / 2 : undefined };
      }),
    );
    const known = offsets.flatMap((o) => (o.offsetMs === undefined ? [] : [o.offsetMs])).sort((a, b) => a - b);
    const median = known[Math.floor(known.length / 2)] ?? 0;
    const spread = (known.at(-1) ?? 0) - (known[0] ?? 0);
    return offsets.map(({ host, offsetMs }) => {
      if (offsetMs === undefined) return { host, status: 'failed', detail: 'cannot read the clock (date +%s%N failed)', durationMs: Date.now() - started };
      const off = offsetMs - median;
      const shown = `${off >= 0 ? '+' : ''}${(off / 1000).toFixed(1)} s from the other hosts`;
      return verdict(host, spread > maxMs && Math.abs(off) > maxMs / 2 ? `clock ${shown}, allowed skew ${maxMs / 1000} s` : undefined, `clock ${shown}`);
    });
  }
}
