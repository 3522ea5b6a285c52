// The producer-id file of a data dir from before the metadata quorum: its high-water is read
// (the broker skips controller blocks below it), a missing file means no floor, and a damaged
// one is refused rather than guessed at.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PRODUCER_ID_FILE, ProducerIdStateError, readLegacyProducerIdFloor } from '../../broker/coordinator/producer-ids.js';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'klab-producer-ids-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the legacy producer-id file', () => {
  it('sets no floor when the data dir has none', async () => {
    await expect(readLegacyProducerIdFloor(dataDir)).resolves.toBe(0);
  });

  it('gives the first id it did not reserve', async () => {
    await writeFile(path.join(dataDir, PRODUCER_ID_FILE), '{"version":1,"nextBlockStart":3000}\n');
    await expect(readLegacyProducerIdFloor(dataDir)).resolves.toBe(3000);
  });

  it('refuses a damaged file instead of guessing', async () => {
    await writeFile(path.join(dataDir, PRODUCER_ID_FILE), '{"version":1,"nextBlockStart":"many"}');
    await expect(readLegacyProducerIdFloor(dataDir)).rejects.toThrow(ProducerIdStateError);
    await writeFile(path.join(dataDir, PRODUCER_ID_FILE), 'not json');
    await expect(readLegacyProducerIdFloor(dataDir)).rejects.toThrow(/not valid JSON/);
  });
});
