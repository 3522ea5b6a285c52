// Storage micro-benchmark: CRC-32C speed, append throughput (fsync always / interval) and
// sequential read throughput the way a consumer fetches (1 MiB per read). Prints figures;
// asserts nothing. Run: `node bench/storage.mjs [total MiB, default 256]`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../broker/log.js';
import { crc32c } from '../broker/storage/crc32c.js';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../broker/storage/partition-log.js';
import { buildBatch } from '../broker/storage/record-batch.js';

class QuietLogger extends Logger {
  override info(): void {}
}

const MiB = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? 256);

function rate(bytes: number, ms: number): string {
  return `${((bytes / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;
}

function benchCrc(): void {
  const big = Buffer.alloc(64 * MiB);
  for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 7) & 0xff;
  crc32c(big); // warm up
  let start = performance.now();
  for (let round = 0; round < 4; round++) crc32c(big);
  console.log(`crc32c, 64 MiB buffer:        ${rate(4 * big.length, performance.now() - start)}`);
  // A produce batch from a busy client is about this size.
  start = performance.now();
  for (let round = 0; round < 4; round++) {
    for (let at = 0; at + MiB <= big.length; at += MiB) crc32c(big, at, at + MiB);
  }
  console.log(`crc32c, 1 MiB pieces:         ${rate(4 * big.length, performance.now() - start)}`);
  start = performance.now();
  for (let at = 0; at + 16384 <= big.length; at += 16384) crc32c(big, at, at + 16384);
  console.log(`crc32c, 16 KiB pieces:        ${rate(big.length, performance.now() - start)}`);
}

/** A 16 KiB-ish batch of 16 records of 1 KiB, like a busy producer's. */
function sampleBatch(): Buffer {
  return buildBatch(Array.from({ length: 16 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(1024, i) })));
}

async function benchLog(label: string, config: Partial<LogConfig>, megabytes: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'klab-bench-'));
  try {
    const log = await PartitionLog.open(join(root, 'bench-0'), { ...defaultLogConfig, segmentBytes: 128 * MiB, ...config }, {
      logger: new QuietLogger('bench'),
    });
    const template = sampleBatch();
    const count = Math.ceil((megabytes * MiB) / template.length);
    let start = performance.now();
    for (let i = 0; i < count; i++) await log.append(Buffer.from(template));
    await log.flush();
    const appendMs = performance.now() - start;
    const bytes = count * template.length;
    console.log(`append ${label.padEnd(22)} ${rate(bytes, appendMs)} (${count} batches, ${(count / (appendMs / 1000)).toFixed(0)} appends/s)`);

    start = performance.now();
    let offset = 0;
    let read = 0;
    while (offset < log.highWatermark) {
      const chunk = await log.read(offset, MiB);
      read += chunk.length;
      // Next offset: the last batch's base + lastOffsetDelta + 1, as a consumer computes it.
      let at = 0;
      let last = 0;
      while (at < chunk.length) {
        last = at;
        at += 12 + chunk.readInt32BE(at + 8);
      }
      offset = Number(chunk.readBigInt64BE(last)) + chunk.readInt32BE(last + 23) + 1;
    }
    console.log(`read   ${label.padEnd(22)} ${rate(read, performance.now() - start)} (1 MiB fetches)`);
    await log.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

benchCrc();
await benchLog('fsync=interval', { fsync: 'interval' }, totalMiB);
await benchLog('fsync=always', { fsync: 'always' }, Math.min(totalMiB, 32));
