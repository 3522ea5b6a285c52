// How a run looks: listr2 progress on a terminal (a list per stage, a line per host), plain
// lines without a terminal (CI), JSON lines with --json. All of them read the same engine
// events; the log file gets everything regardless.
import { Listr } from 'listr2';
import type { ListrTaskWrapper } from 'listr2';
import type { EngineEvent, Reporter, TaskOutcome, TaskStatus } from '../stages/events.js';
import { zeroCounts } from '../stages/events.js';

type Write = (line: string) => void;

const formatSeconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function countsText(counts: Record<TaskStatus, number>): string {
  return (['ok', 'changed', 'skipped', 'failed'] as const)
    .filter((status) => counts[status] > 0)
    .map((status) => `${counts[status]} ${status}`)
    .join(', ');
}

/** Broadcasts each event to several reporters (the screen and the log file). */
export class Reporters implements Reporter {
  private readonly all: Reporter[];

  constructor(...reporters: Reporter[]) {
    this.all = reporters;
  }

  async event(event: EngineEvent): Promise<void> {
    for (const reporter of this.all) await reporter.event(event);
  }
}

export class JsonReporter implements Reporter {
  constructor(private readonly write: Write) {}

  event(event: EngineEvent): void {
    this.write(JSON.stringify({ time: new Date().toISOString(), ...event }));
  }
}

/** One line per result. With `onlyNews` (plans), results that are plain ok are counted, not listed. */
export class PlainReporter implements Reporter {
  private readonly hostWidth: number;

  constructor(
    private readonly write: Write,
    hostNames: readonly string[],
    private readonly onlyNews = false,
  ) {
    this.hostWidth = Math.max(4, ...hostNames.map((h) => h.length));
  }

  event(event: EngineEvent): void {
    switch (event.type) {
      case 'stage-start':
        this.write(`${event.dryRun ? 'plan' : 'stage'} ${event.stage}: ${event.description} [${event.hosts.join(', ')}]`);
        break;
      case 'stage-skip':
        this.write(`stage ${event.stage}: skipped, ${event.reason}`);
        break;
      case 'task-start':
        break;
      case 'task-result':
        this.result(event.task, event.outcome);
        break;
      case 'stage-end':
        this.write(`stage ${event.stage}: ${event.status} (${countsText(event.counts)}) in ${formatSeconds(event.durationMs)}`);
        break;
    }
  }

  private result(task: string, outcome: TaskOutcome): void {
    if (this.onlyNews && outcome.status === 'ok' && !outcome.warning) return;
    const status = outcome.warning ? 'warning' : outcome.status;
    const text = outcome.warning ?? outcome.detail ?? '';
    this.write(`  ${outcome.host.padEnd(this.hostWidth)}  ${status.padEnd(7)}  ${task}${text ? `: ${text}` : ''}`);
    if (outcome.status === 'failed' && outcome.output) {
      for (const line of outcome.output.split('\n')) this.write(`  ${' '.repeat(this.hostWidth)}           | ${line}`);
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type HostTask = ListrTaskWrapper<unknown, never, never>;

interface HostLine {
  done: Deferred;
  task?: HostTask;
  title: string;
  counts: Record<TaskStatus, number>;
  warnings: string[];
  failed: boolean;
}

/** listr2 progress: one list per stage, one line per host showing the task it is on. */
export class ListrReporter implements Reporter {
  private stage: { run: Promise<void>; hosts: Map<string, HostLine> } | undefined;

  constructor(private readonly write: Write) {}

  async event(event: EngineEvent): Promise<void> {
    switch (event.type) {
      case 'stage-skip':
        // A stage skipped because it is done is a success: shown with the completed tick, not
        // listr2's skip sign (a yellow warning triangle), so a clean re-run reads as all green.
        await new Listr([{ title: `${event.stage}: ${event.description} (${event.reason})`, task: () => undefined }], {
          registerSignalListeners: false,
        }).run();
        break;
      case 'stage-start':
        this.startStage(event.stage, event.description, event.hosts);
        break;
      case 'task-start':
        for (const host of event.hosts) this.retitle(host, `${host}: ${event.task}`);
        break;
      case 'task-result': {
        const line = this.stage?.hosts.get(event.outcome.host);
        if (!line) break;
        line.counts[event.outcome.status] += 1;
        if (event.outcome.warning) line.warnings.push(event.outcome.warning);
        if (event.outcome.status === 'failed') line.failed = true;
        if (line.task && event.outcome.detail) line.task.output = `${event.task}: ${event.outcome.detail}`;
        break;
      }
      case 'stage-end':
        await this.endStage();
        break;
    }
  }

  private retitle(host: string, title: string): void {
    const line = this.stage?.hosts.get(host);
    if (!line) return;
    line.title = title;
    if (line.task) line.task.title = title;
  }

  private startStage(stage: string, description: string, hosts: readonly string[]): void {
    const lines = new Map<string, HostLine>(
      hosts.map((h) => [h, { done: deferred(), title: h, counts: zeroCounts(), warnings: [], failed: false }]),
    );
    const list = new Listr(
      [
        {
          title: `${stage}: ${description}`,
          task: async (_ctx, task) => {
            await task
              .newListr(
              hosts.map((h) => ({
                title: h,
                task: async (_c: unknown, hostTask: HostTask) => {
                  const line = lines.get(h);
                  if (!line) return;
                  line.task = hostTask;
                  hostTask.title = line.title;
                  await line.done.promise;
                },
              })),
              { concurrent: true, exitOnError: false },
              )
              .run();
            const failed = [...lines].filter(([, line]) => line.failed).map(([host]) => host);
            if (failed.length > 0) throw new Error(`failed on ${failed.join(', ')}`);
          },
        },
      ],
      { exitOnError: false, registerSignalListeners: false, rendererOptions: { collapseSubtasks: false } },
    );
    this.stage = { run: list.run().then(() => undefined), hosts: lines };
  }

  private async endStage(): Promise<void> {
    const stage = this.stage;
    if (!stage) return;
    for (const [host, line] of stage.hosts) {
      const title = `${host}: ${countsText(line.counts) || 'nothing to do'}`;
      this.retitle(host, title);
      // listr2 shows a failed task's error message in place of its title.
      if (line.failed) line.done.reject(new Error(title));
      else line.done.resolve();
    }
    await stage.run.catch(() => undefined);
    for (const [host, line] of stage.hosts) for (const warning of line.warnings) this.write(`  warning ${host}: ${warning}`);
    this.stage = undefined;
  }
}
