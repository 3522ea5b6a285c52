// A full disk (a small tmpfs as the data dir; tests run as root): produce gets
// KAFKA_STORAGE_ERROR, reads keep working, and nothing already stored is damaged. A metadata
// change either succeeds or, when the metadata log cannot be written, stops the broker with a
// message naming the disk (as Kafka halts); once the disk has room again a restart finds every
// acknowledged record and nothing to truncate.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeWithKcat, kafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';

let mountPoint: string;
let broker: BrokerProcess | undefined;

beforeAll(async () => {
  mountPoint = await mkdtemp(path.join(os.tmpdir(), 'klab-disk-full-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountPoint]);
});

afterAll(async () => {
  await broker?.dispose();
  await execa('umount', [mountPoint], { reject: false });
  await rm(mountPoint, { recursive: true, force: true });
});

describe('disk full', () => {
  it('fails produce with KAFKA_STORAGE_ERROR, keeps serving reads, and damages nothing stored', async () => {
    broker = await startBroker({ dataDir: mountPoint, args: ['--fsync', 'always'] });
    const kafka = kafkaClient(broker.bootstrap);
    await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic: 'filling', numPartitions: 1 }] }));

    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    const acknowledged: string[] = [];
    let failure: unknown;
    for (let i = 0; i < 200 && failure === undefined; i++) {
      const messages = Array.from({ length: 4 }, (_, j) => ({ value: `${i}-${j}-${'z'.repeat(64 * 1024)}` }));
      try {
        await producer.send({ topic: 'filling', acks: -1, messages });
        acknowledged.push(...messages.map((message) => message.value));
      } catch (error) {
        failure = error;
      }
    }
    // The error is retriable, so kafkajs wraps it even with retries: 0.
    expect(failure).toMatchObject({ cause: { type: 'KAFKA_STORAGE_ERROR' } });
    expect(acknowledged.length).toBeGreaterThan(0);
    await broker.waitForLog(/ENOSPC/);

    // Still full: another write fails the same way, and reads are unaffected.
    await expect(producer.send({ topic: 'filling', acks: -1, messages: [{ value: 'z'.repeat(256 * 1024) }] })).rejects.toMatchObject({
      cause: { type: 'KAFKA_STORAGE_ERROR' },
    });
    await producer.disconnect();
    expect((await consumeWithKcat(broker.bootstrap, 'filling')).map((record) => record.value)).toEqual(acknowledged);

    // A metadata change on the full disk: created, refused, or the broker stops saying why.
    const fullAdmin = kafka.admin({ retry: { retries: 0 } });
    await fullAdmin.connect();
    const created = await fullAdmin
      .createTopics({ topics: [{ topic: 'while-full', numPartitions: 8 }], waitForLeaders: false, timeout: 5000 })
      .then(() => 'created', (error: { errors?: Array<{ type: string }>; type?: string }) => error.errors?.[0]?.type ?? error.type ?? String(error));
    await fullAdmin.disconnect().catch(() => undefined);
    if (!['created', 'KAFKA_STORAGE_ERROR'].includes(created)) {
      await broker.waitForLog(/the metadata quorum failed; stopping the broker.*ENOSPC/);
    }

    await broker.stop();
    // Room again: the restart writes its metadata and finds everything acknowledged.
    await execa('mount', ['-o', 'remount,size=12m', mountPoint]);
    await broker.restart();
    expect(broker.logs()).not.toMatch(/truncat/i);
    expect((await consumeWithKcat(broker.bootstrap, 'filling')).map((record) => record.value)).toEqual(acknowledged);
  });
});
