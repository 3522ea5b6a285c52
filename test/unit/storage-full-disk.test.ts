// A full disk for real: a 1 MiB tmpfs mounted for this file (mounting needs root, which these
// tests have here and in CI). The log fills it, must refuse the append that does not fit with
// KAFKA_STORAGE_ERROR naming the partition and ENOSPC, leave every stored byte as it was, keep
// serving reads, and accept appends again once space is freed.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../broker/log.js';
import { StorageError, StorageErrorCode } from '../../broker/storage/errors.js';
import { defaultLogConfig, PartitionLog } from '../../broker/storage/partition-log.js';
import { buildBatch, decodeRecords, splitBatches } from '../../broker/storage/record-batch.js';

let mountPoint: string;
let mounted = false;

beforeAll(async () => {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'storage-full-disk.test.ts mounts a tmpfs to fill a real filesystem and must run as root (uid 0); ' +
        `this process runs as uid ${process.getuid?.() ?? 'unknown'}`,
    );
  }
  mountPoint = await mkdtemp(join(tmpdir(), 'klab-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
  mounted = true;
});

afterAll(async () => {
  if (mounted) execFileSync('umount', [mountPoint]);
  if (mountPoint) await rm(mountPoint, { recursive: true, force: true });
});

class QuietLogger extends Logger {
  override info(): void {}
}

function batch(index: number): Buffer {
  // Incompressible-looking payloads are irrelevant on tmpfs; size is what matters: ~20 KiB.
  return buildBatch(
    Array.from({ length: 10 }, (_, i) => ({ value: Buffer.alloc(2048, (index * 10 + i) % 251) })),
    { timestamp: 1_700_000_000_000 + index },
  );
}

describe('PartitionLog on a full filesystem', () => {
  it('fails the append cleanly with ENOSPC, keeps stored data intact and recovers when space is freed', async () => {
    const dir = join(mountPoint, 'full-0');
    const log = await PartitionLog.open(dir, { ...defaultLogConfig, segmentBytes: 64 * 1024 * 1024 }, { logger: new QuietLogger('test') });
    const filler = join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc(256 * 1024));

    let appended = 0;
    let failure: unknown = null;
    for (; appended < 100; appended++) {
      try {
        await log.append(batch(appended));
      } catch (error) {
        failure = error;
        break;
      }
    }
    expect(failure).toBeInstanceOf(StorageError);
    const error = failure as StorageError;
    expect(error.kafkaErrorCode).toBe(StorageErrorCode.KAFKA_STORAGE_ERROR);
    expect(error.message).toContain('full-0');
    expect(error.message).toContain('ENOSPC');
    expect(appended).toBeGreaterThan(5);

    const segmentFile = join(dir, '00000000000000000000.log');
    const storedBytes = await readFile(segmentFile);
    // The partial write was cut back: the file holds exactly the acknowledged batches.
    expect(log.logEndOffset).toBe(appended * 10);
    expect(storedBytes.length).toBe(log.sizeInBytes);
    const readBack = splitBatches(await log.read(0, 64 * 1024 * 1024));
    expect(readBack).toHaveLength(appended);
    readBack.forEach((stored, i) => {
      expect(stored.baseOffset).toBe(i * 10);
      expect(decodeRecords(stored).map((r) => r.value![0])).toEqual(Array.from({ length: 10 }, (_, j) => (i * 10 + j) % 251));
    });

    // Still full: another attempt fails the same way and changes nothing.
    await expect(log.append(batch(appended))).rejects.toMatchObject({ kafkaErrorCode: StorageErrorCode.KAFKA_STORAGE_ERROR });
    expect((await readFile(segmentFile)).equals(storedBytes)).toBe(true);
    expect(log.logEndOffset).toBe(appended * 10);

    await rm(filler);
    const result = await log.append(batch(appended));
    expect(result.baseOffset).toBe(appended * 10);
    const after = await readFile(segmentFile);
    expect(after.subarray(0, storedBytes.length).equals(storedBytes)).toBe(true);
    expect((await stat(segmentFile)).size).toBe(log.sizeInBytes);
    await log.close();

    // A reopen finds exactly the acknowledged data: nothing torn was left behind.
    const reopened = await PartitionLog.open(dir, defaultLogConfig, { logger: new QuietLogger('test') });
    expect(reopened.logEndOffset).toBe((appended + 1) * 10);
    await reopened.close();
    await rm(dir, { recursive: true });
  });

  it('survives running out of space while rolling segments, losing no acknowledged batch', async () => {
    const dir = join(mountPoint, 'rolling-0');
    const config = { ...defaultLogConfig, segmentBytes: 48 * 1024, indexIntervalBytes: 1024 };
    const log = await PartitionLog.open(dir, config, { logger: new QuietLogger('test') });
    const filler = join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc(128 * 1024));
    let acknowledged = 0;
    let failure: unknown = null;
    while (failure === null && acknowledged < 200) {
      await log.append(batch(acknowledged)).then(
        () => acknowledged++,
        (error: unknown) => (failure = error),
      );
    }
    expect(failure).toMatchObject({ kafkaErrorCode: StorageErrorCode.KAFKA_STORAGE_ERROR });
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(log.logEndOffset).toBe(acknowledged * 10);
    const check = async (target: PartitionLog, count: number) => {
      let offset = 0;
      let seen = 0;
      while (offset < target.highWatermark) {
        for (const stored of splitBatches(await target.read(offset, 1024 * 1024))) {
          expect(stored.baseOffset).toBe(seen * 10);
          expect(decodeRecords(stored)[0]!.value![0]).toBe((seen * 10) % 251);
          seen++;
          offset = stored.nextOffset;
        }
      }
      expect(seen).toBe(count);
    };
    await check(log, acknowledged);

    await rm(filler);
    await log.append(batch(acknowledged));
    await check(log, acknowledged + 1);
    await log.close();
    const reopened = await PartitionLog.open(dir, config, { logger: new QuietLogger('test') });
    await check(reopened, acknowledged + 1);
    await reopened.close();
  });
});
