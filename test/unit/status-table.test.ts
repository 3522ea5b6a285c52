import { describe, expect, it } from 'vitest';
import { statusTable, statusWidth } from '../../src/run/status-table.js';
import type { StageStatus } from '../../src/stages/planner.js';

const stages = ['00-preflight', '01-hosts', '05-containerd', '07-control-plane', '12-smoke'];
const cycle: StageStatus[] = ['done', 'outdated', 'missing', 'n/a'];
const statusOf = (stage: string, host: string): StageStatus => cycle[(stages.indexOf(stage) + host.length) % cycle.length] ?? 'done';

describe('klab status on an 80-column terminal', () => {
  it('three hosts: one table, the legend on lines of its own, nothing wider than 80 columns', () => {
    const lines = statusTable(stages, ['master', 'node1', 'node2'], statusOf);
    expect(lines[0]).toBe('stage             master    node1     node2');
    expect(lines[1]).toBe(`00-preflight      ${statusOf('00-preflight', 'master').padEnd(8)}  ${statusOf('00-preflight', 'node1').padEnd(8)}  ${statusOf('00-preflight', 'node2')}`.trimEnd());
    expect(lines).toContain('outdated  finished with an older playbook, template or inventory');
    expect(lines).toContain('n/a       the stage does not touch this host');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(statusWidth);
  });

  it('many hosts wrap into further tables, each host shown once with every stage', () => {
    const hosts = Array.from({ length: 9 }, (_, i) => `worker-number-${i + 1}`);
    const lines = statusTable(stages, hosts, statusOf);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(statusWidth);
    const headers = lines.filter((line) => line.startsWith('stage '));
    expect(headers.length).toBeGreaterThan(1);
    expect(headers.flatMap((h) => h.split(/\s+/).slice(1))).toEqual(hosts);
    expect(lines.filter((line) => line.startsWith('12-smoke'))).toHaveLength(headers.length);
  });

  it('a host name longer than a whole line is shortened, not allowed to overflow', () => {
    const long = 'a'.repeat(63);
    const lines = statusTable(['00-preflight'], [long, 'node1'], statusOf, 60);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    expect(lines[0]).toContain('…');
  });
});
