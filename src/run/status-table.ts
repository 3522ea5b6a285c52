// `klab status` on a screen: stages down, hosts across, then what each word means. Every line
// fits an 80-column terminal: hosts that do not fit beside each other go into a further table
// below, and a host name too long for any column is shortened with an ellipsis.
import type { StageStatus } from '../stages/planner.js';

export const statusWidth = 80;

const legend: readonly (readonly [StageStatus, string])[] = [
  ['done', 'finished with the current playbook'],
  ['outdated', 'finished with an older playbook, template or inventory'],
  ['missing', 'not finished'],
  ['n/a', 'the stage does not touch this host'],
];

const gap = '  ';
const cellWidth = Math.max(...legend.map(([word]) => word.length));

/** `statusOf(stage, host)` gives each cell; the result is the lines to print, none wider than `width`. */
export function statusTable(
  stageIds: readonly string[],
  hostNames: readonly string[],
  statusOf: (stage: string, host: string) => StageStatus | undefined,
  width = statusWidth,
): string[] {
  const stageWidth = Math.min(Math.max('stage'.length, ...stageIds.map((id) => id.length)), width - gap.length - cellWidth);
  const room = width - stageWidth;
  const columns = hostNames.map((name) => {
    const label = fit(name, room - gap.length);
    return { name, label, width: Math.max(label.length, cellWidth) };
  });

  const groups: (typeof columns)[] = [];
  for (const column of columns) {
    const current = groups.at(-1);
    const used = current?.reduce((sum, c) => sum + gap.length + c.width, 0) ?? 0;
    if (current && used + gap.length + column.width <= room) current.push(column);
    else groups.push([column]);
  }

  const lines: string[] = [];
  for (const [index, group] of groups.entries()) {
    if (index > 0) lines.push('');
    const row = (first: string, cells: readonly string[]): string =>
      [fit(first, stageWidth).padEnd(stageWidth), ...cells.map((cell, i) => cell.padEnd(group[i]?.width ?? cellWidth))].join(gap).trimEnd();
    lines.push(row('stage', group.map((c) => c.label)));
    for (const stage of stageIds) lines.push(row(stage, group.map((c) => statusOf(stage, c.name) ?? '')));
  }
  lines.push('', ...legend.map(([word, meaning]) => fit(`${word.padEnd(cellWidth)}${gap}${meaning}`, width)));
  return lines;
}

function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}
