import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../src/stages/events.js';
import { JsonReporter, ListrReporter, PlainReporter } from '../../src/run/reporters.js';

const events: EngineEvent[] = [
  { type: 'stage-skip', stage: '00-preflight', description: 'checks', reason: 'already done on every host' },
  { type: 'stage-start', stage: '03-kernel', description: 'Kernel modules', hosts: ['master', 'node1'], dryRun: false },
  { type: 'task-start', stage: '03-kernel', task: 'Load modules', index: 0, hosts: ['master', 'node1'] },
  { type: 'task-result', stage: '03-kernel', task: 'Load modules', index: 0, outcome: { host: 'master', status: 'ok', detail: 'already done', durationMs: 5 } },
  {
    type: 'task-result',
    stage: '03-kernel',
    task: 'Load modules',
    index: 0,
    outcome: { host: 'node1', status: 'failed', detail: 'exited with code 1', exitCode: 1, output: 'modprobe: FATAL: Module br_netfilter not found', durationMs: 5 },
  },
  { type: 'task-result', stage: '03-kernel', task: 'Memory', index: 1, outcome: { host: 'master', status: 'ok', detail: 'warning', warning: 'master has 980 MB', durationMs: 1 } },
  { type: 'stage-end', stage: '03-kernel', status: 'failed', counts: { ok: 2, changed: 0, failed: 1, skipped: 0 }, durationMs: 1500 },
];

describe('reporters', () => {
  it('plain lines name stage, host, status, task and the failing output', async () => {
    const lines: string[] = [];
    const reporter = new PlainReporter((l) => lines.push(l), ['master', 'node1']);
    for (const event of events) await reporter.event(event);
    expect(lines).toEqual([
      'stage 00-preflight: skipped, already done on every host',
      'stage 03-kernel: Kernel modules [master, node1]',
      '  master  ok       Load modules: already done',
      '  node1   failed   Load modules: exited with code 1',
      '                   | modprobe: FATAL: Module br_netfilter not found',
      '  master  warning  Memory: master has 980 MB',
      'stage 03-kernel: failed (2 ok, 1 failed) in 1.5 s',
    ]);
  });

  it('plans list only what would change, fail or warn', async () => {
    const lines: string[] = [];
    const reporter = new PlainReporter((l) => lines.push(l), ['master', 'node1'], true);
    for (const event of events) await reporter.event(event);
    expect(lines.some((l) => l.includes('master  ok'))).toBe(false);
    expect(lines.some((l) => l.includes('node1   failed'))).toBe(true);
    expect(lines.some((l) => l.includes('warning'))).toBe(true);
  });

  it('JSON lines carry every event whole', async () => {
    const lines: string[] = [];
    const reporter = new JsonReporter((l) => lines.push(l));
    for (const event of events) await reporter.event(event);
    const parsed = lines.map((l) => JSON.parse(l) as EngineEvent & { time: string });
    expect(parsed.map((e) => e.type)).toEqual(events.map((e) => e.type));
    expect(parsed[4]).toMatchObject({ outcome: { host: 'node1', exitCode: 1 } });
    expect(Date.parse(parsed[0]?.time ?? '')).not.toBeNaN();
  });

  it('listr progress finishes each stage before the next event returns, and lists warnings after it', async () => {
    const lines: string[] = [];
    const reporter = new ListrReporter((l) => lines.push(l));
    for (const event of events) await reporter.event(event);
    expect(lines).toEqual(['  warning master: master has 980 MB']);
  });
});

/** What listr2's terminal renderer draws for `events`, as on a TTY: every frame, control sequences removed. */
async function drawnOnTerminal(reporterEvents: readonly EngineEvent[]): Promise<string> {
  const drawn: string[] = [];
  const wasTty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (drawn.push(String(chunk)), true));
  try {
    const reporter = new ListrReporter(() => undefined);
    for (const event of reporterEvents) await reporter.event(event);
  } finally {
    write.mockRestore();
    if (wasTty) Object.defineProperty(process.stdout, 'isTTY', wasTty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
  }
  return stripVTControlCharacters(drawn.join(''));
}

describe('a clean re-run reads as success on a terminal', () => {
  it('a stage already done on every host is drawn with the completed tick, never the warning sign', async () => {
    const rerun: EngineEvent[] = ['00-preflight', '01-hosts', '02-ssh'].map((stage) => ({
      type: 'stage-skip',
      stage,
      description: 'checks',
      reason: 'already done on every host',
    }));
    const screen = await drawnOnTerminal(rerun);
    for (const stage of ['00-preflight', '01-hosts', '02-ssh']) expect(screen).toContain(`✔ ${stage}: checks (already done on every host)`);
    expect(screen).not.toContain('⚠');
    expect(screen).not.toContain('↓');
  });

  it('a stage that failed still shows its failure', async () => {
    const screen = await drawnOnTerminal(events.slice(1));
    expect(screen).toContain('✖');
    expect(screen).toContain('node1');
  });
});
