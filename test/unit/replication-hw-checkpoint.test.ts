// The high-watermark checkpoint file: what is written reads back; a missing file, or a damaged
// one of any kind, gives no marks (replicas then start at 0, which is safe) and says why.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HIGH_WATERMARK_FILE, readHighWatermarks, writeHighWatermarks } from '../../broker/replication/high-watermark-checkpoint.js';
import { RecordingLogger } from '../support/quorum-voters.js';

let dir: string;
let logger: RecordingLogger;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'klab-hw-'));
  logger = new RecordingLogger();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('high-watermark checkpoint', () => {
  it('reads back what was written, by partition directory name', async () => {
    await writeHighWatermarks(dir, [
      { topic: 'orders', partition: 0, highWatermark: 120 },
      { topic: 'orders', partition: 11, highWatermark: 0 },
      { topic: 'a.b_c-d', partition: 3, highWatermark: 9_007_199_254 },
    ]);
    expect(readHighWatermarks(dir, logger)).toEqual(
      new Map([
        ['orders-0', 120],
        ['orders-11', 0],
        ['a.b_c-d-3', 9_007_199_254],
      ]),
    );
    expect(logger.lines).toEqual([]);
  });

  it('gives no marks, silently, when there is no checkpoint yet', () => {
    expect(readHighWatermarks(dir, logger)).toEqual(new Map());
    expect(logger.lines).toEqual([]);
  });

  it.each([
    ['an unknown version', '7\n1\norders 0 5\n', 'unknown format version'],
    ['a count that does not match', '0\n2\norders 0 5\n', 'says 2 entries but has 1'],
    ['an unreadable entry', '0\n1\norders zero 5\n', 'unreadable entry'],
    ['a negative offset', '0\n1\norders 0 -5\n', 'unreadable entry'],
    ['a torn write', '0\n2\norders 0 5\nord', 'unreadable entry'],
  ])('ignores a checkpoint with %s, with a warning saying why', async (_what, content, reason) => {
    await writeFile(path.join(dir, HIGH_WATERMARK_FILE), content);
    expect(readHighWatermarks(dir, logger)).toEqual(new Map());
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toContain('ignoring a damaged high-watermark checkpoint');
    expect(logger.lines[0]).toContain(reason);
  });
});
