// Every run writes a log file: each remote command with host, exit code, duration and
// output (already redacted by the transport), and every engine event. Lines are written
// synchronously so a crash or Ctrl-C never loses the lines that explain it.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { EngineEvent, Reporter } from '../stages/events.js';
import type { CommandLogger, CommandRecord } from '../transport/host.js';

let latest: RunLog | undefined;

/** The log file of the latest run, for the error screen; taking it forgets it, so a later error never names an older run's log. */
export function takeRunLogPath(): string | undefined {
  const path = latest?.path;
  latest = undefined;
  return path;
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

export class RunLog implements Reporter {
  private fd: number | undefined;

  private constructor(readonly path: string) {
    this.fd = openSync(path, 'a', 0o600);
    latest = this;
  }

  /** Opens `<dir>/<time>-<command>.log` (the folder is created 0700). */
  static open(dir: string, command: string): RunLog {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return new RunLog(path.join(dir, `${stamp}-${command}.log`));
  }

  private write(text: string): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${new Date().toISOString()} ${text}\n`);
  }

  note(text: string): void {
    this.write(text);
  }

  readonly commandLogger: CommandLogger = (record: CommandRecord) => {
    const lines = [`[${record.host}] $ ${record.command.includes('\n') ? `\n${indent(record.command, '    | ')}` : record.command}`];
    lines.push(`    exit ${record.code} after ${record.durationMs} ms`);
    if (record.stdout.trim() !== '') lines.push(`    stdout:\n${indent(record.stdout, '      ')}`);
    if (record.stderr.trim() !== '') lines.push(`    stderr:\n${indent(record.stderr, '      ')}`);
    this.write(lines.join('\n'));
  };

  event(event: EngineEvent): void {
    switch (event.type) {
      case 'stage-start':
        this.write(`== stage ${event.stage} starts on ${event.hosts.join(', ')}${event.dryRun ? ' (dry run)' : ''}`);
        break;
      case 'stage-skip':
        this.write(`== stage ${event.stage} skipped: ${event.reason}`);
        break;
      case 'task-start':
        this.write(`-- task ${event.index + 1} "${event.task}" on ${event.hosts.join(', ')}`);
        break;
      case 'task-result': {
        const o = event.outcome;
        const code = o.exitCode === undefined ? '' : ` (exit ${o.exitCode})`;
        const warning = o.warning ? `\n    warning: ${o.warning}` : '';
        const output = o.output ? `\n${indent(o.output, '      ')}` : '';
        this.write(`-- [${o.host}] task ${event.index + 1} ${o.status}${code}: ${o.detail ?? ''}${warning}${output}`);
        break;
      }
      case 'stage-end':
        this.write(`== stage ${event.stage} ${event.status} in ${event.durationMs} ms: ${JSON.stringify(event.counts)}`);
        break;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
