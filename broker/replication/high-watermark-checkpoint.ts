// The high watermarks of this broker's replicas, kept in one file in the data dir as Kafka's
// replication-offset-checkpoint: written every second when they moved, and at shutdown. A
// replica that restarts begins at its checkpointed mark (capped at its log end) instead of
// 0, so after a restart in which an ISR member stays away, consumers still see every record
// committed before it, and "latest" is not reported as 0 while the ISR catches up. A mark that
// lags is safe: it only hides records until the followers' fetches move it again.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { replaceFileDurably } from '../storage/durable-file.js';

export const HIGH_WATERMARK_FILE = 'replication-offset-checkpoint';
const formatVersion = 0;

/** Reads the checkpoint: high watermark by partition directory name. A missing or damaged file gives none (logged), never a guess. */
export function readHighWatermarks(dataDir: string, logger: Logger): Map<string, number> {
  const file = path.join(dataDir, HIGH_WATERMARK_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('cannot read the high-watermark checkpoint; replicas start at 0', { file, reason: (error as Error).message });
    return new Map();
  }
  const problem = (reason: string) => {
    logger.warn('ignoring a damaged high-watermark checkpoint; replicas start at 0 until their ISR catches up', { file, reason });
    return new Map<string, number>();
  };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== String(formatVersion)) return problem(`unknown format version line ${JSON.stringify(lines[0] ?? '')}`);
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) return problem(`it says ${lines[1]} entries but has ${lines.length - 2}`);
  const marks = new Map<string, number>();
  for (const line of lines.slice(2)) {
    const match = /^(\S+) (\d+) (\d+)$/.exec(line);
    const offset = match ? Number(match[3]) : NaN;
    if (!match || !Number.isSafeInteger(offset)) return problem(`unreadable entry ${JSON.stringify(line)}`);
    marks.set(`${match[1]}-${match[2]}`, offset);
  }
  return marks;
}

/** Writes every replica's high watermark (topic, partition, offset per line) atomically and durably. */
export async function writeHighWatermarks(dataDir: string, marks: ReadonlyArray<{ topic: string; partition: number; highWatermark: number }>): Promise<void> {
  const lines = [String(formatVersion), String(marks.length), ...marks.map(({ topic, partition, highWatermark }) => `${topic} ${partition} ${highWatermark}`)];
  await replaceFileDurably(path.join(dataDir, HIGH_WATERMARK_FILE), `${lines.join('\n')}\n`);
}
