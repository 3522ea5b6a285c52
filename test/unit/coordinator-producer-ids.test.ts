import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PRODUCER_ID_FILE, ProducerIdManager, ProducerIdStateError } from '../../broker/coordinator/producer-ids.js';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'klab-producer-ids-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('ProducerIdManager', () => {
  it('hands out distinct ids, reserving blocks durably before using them', async () => {
    const manager = await ProducerIdManager.open(dataDir, 10);
    const ids = await Promise.all(Array.from({ length: 25 }, () => manager.allocate()));
    expect(new Set(ids).size).toBe(25);
    expect(Math.min(...ids)).toBe(0);
    const stored = JSON.parse(await readFile(path.join(dataDir, PRODUCER_ID_FILE), 'utf8')) as { nextBlockStart: number };
    expect(stored.nextBlockStart).toBe(30);
  });

  it('never reuses an id after a restart', async () => {
    const before = await ProducerIdManager.open(dataDir, 10);
    const issued = [await before.allocate(), await before.allocate()];
    const after = await ProducerIdManager.open(dataDir, 10);
    const next = await after.allocate();
    expect(next).toBeGreaterThan(Math.max(...issued));
    expect(next).toBe(10);
  });

  it('refuses a damaged id file instead of guessing', async () => {
    await writeFile(path.join(dataDir, PRODUCER_ID_FILE), '{"version":1,"nextBlockStart":"many"}');
    await expect(ProducerIdManager.open(dataDir)).rejects.toThrow(ProducerIdStateError);
    await writeFile(path.join(dataDir, PRODUCER_ID_FILE), 'not json');
    await expect(ProducerIdManager.open(dataDir)).rejects.toThrow(/not valid JSON/);
  });
});
