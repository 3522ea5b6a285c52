// Producer ids for idempotent producers (InitProducerId). Ids are handed out from blocks, as
// Kafka's controller does: before the first id of a block is used, the end of that block is
// written durably, so after a restart (or a crash) allocation resumes past every id that could
// have been given out — ids are never reused, at the cost of skipping the rest of a block.
// The block high-water lives in one small file in the data dir, replaced atomically
// (write + fsync a temporary file, rename, fsync the directory); with a replicated metadata
// log this becomes a metadata record instead.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFileDurably } from '../storage/durable-file.js';

export const PRODUCER_ID_FILE = 'producer-ids.json';
const BLOCK_SIZE = 1000;
const FORMAT_VERSION = 1;

/** The producer-id file exists but cannot be trusted: allocation refuses to guess. */
export class ProducerIdStateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProducerIdStateError';
  }
}

export class ProducerIdManager {
  private next: number;
  private blockEnd: number;
  private reserving: Promise<void> | null = null;

  private constructor(
    private readonly file: string,
    reservedUpTo: number,
    private readonly blockSize: number,
  ) {
    // Everything below the recorded high-water may have been handed out before.
    this.next = reservedUpTo;
    this.blockEnd = reservedUpTo;
  }

  static async open(dataDir: string, blockSize = BLOCK_SIZE): Promise<ProducerIdManager> {
    const file = path.join(dataDir, PRODUCER_ID_FILE);
    let reservedUpTo = 0;
    let text: string | null = null;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== null) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new ProducerIdStateError(`${file} is not valid JSON; move it aside only if no producer ids were ever issued`, {
          cause: error,
        });
      }
      const { version, nextBlockStart } = (parsed ?? {}) as { version?: unknown; nextBlockStart?: unknown };
      if (version !== FORMAT_VERSION || !Number.isSafeInteger(nextBlockStart) || (nextBlockStart as number) < 0) {
        throw new ProducerIdStateError(`${file} must hold {"version":${FORMAT_VERSION},"nextBlockStart":<id ≥ 0>}`);
      }
      reservedUpTo = nextBlockStart as number;
    }
    return new ProducerIdManager(file, reservedUpTo, blockSize);
  }

  /** The next unused producer id; reserves (durably) a new block when the current one is used up. */
  async allocate(): Promise<number> {
    while (this.next >= this.blockEnd) {
      // Concurrent requests share one reservation rather than each writing a block.
      this.reserving ??= this.reserveBlock().finally(() => {
        this.reserving = null;
      });
      await this.reserving;
    }
    return this.next++;
  }

  private async reserveBlock(): Promise<void> {
    const end = this.blockEnd + this.blockSize;
    await replaceFileDurably(this.file, `${JSON.stringify({ version: FORMAT_VERSION, nextBlockStart: end })}\n`);
    this.blockEnd = end;
  }
}

/**
 * The broker's producer-id allocator as InitProducerId uses it: the file is read on the first
 * request, not at startup (idempotent producers are optional), and a failed read is retried
 * by the next request, so a disk that comes back makes allocation work again.
 */
export class ProducerIdService {
  private opening: Promise<ProducerIdManager> | null = null;

  constructor(private readonly dataDir: string) {}

  async allocate(): Promise<number> {
    this.opening ??= ProducerIdManager.open(this.dataDir).catch((error: unknown) => {
      this.opening = null;
      throw error;
    });
    return (await this.opening).allocate();
  }
}
