// Durability with real processes: a graceful restart keeps topics, ids, configs, offsets and
// records; a kill -9 in the middle of an acks=-1 stream with fsync=always loses no
// acknowledged record, and a torn tail (garbage after the last whole batch) is cut off at the
// next start while everything before it stays readable.
import { appendFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { consumeWithKcat, kafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

const started: BrokerProcess[] = [];

async function broker(args: string[] = []): Promise<BrokerProcess> {
  const process = await startBroker({ args });
  started.push(process);
  return process;
}

afterEach(async () => {
  for (const process of started.splice(0)) await process.dispose();
});

/** Cluster id and topic ids as Metadata v12 reports them. */
async function identities(port: number): Promise<{ clusterId: string | null; topicIds: Record<string, string> }> {
  const client = await WireClient.connect(port);
  try {
    const metadata = await client.request(metadataApi, 12, { topics: null });
    return {
      clusterId: metadata.clusterId,
      topicIds: Object.fromEntries(metadata.topics.map((topic) => [topic.name ?? '', topic.topicId])),
    };
  } finally {
    client.destroy();
  }
}

async function activeSegment(dataDir: string, partitionDir: string): Promise<string> {
  const dir = path.join(dataDir, partitionDir);
  const logs = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
  return path.join(dir, logs.at(-1)!);
}

/** kafkajs lists topics in the order of its own request bookkeeping, which a new client changes. */
function byName<T extends { name: string }>(metadata: { topics: T[] }): T[] {
  return [...metadata.topics].sort((a, b) => a.name.localeCompare(b.name));
}

describe('durability across restarts', () => {
  it('keeps topics, topic ids, configs, partitions, offsets and records across a graceful restart', async () => {
    const node = await broker();
    const kafka = kafkaClient(node.bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'kept', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
        { topic: 'trimmed', numPartitions: 1 },
      ],
    });
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 300 }, (_, i) => `record ${i}`);
    await producer.send({ topic: 'kept', messages: values.map((value, i) => ({ key: String(i % 4), value })) });
    await producer.send({ topic: 'trimmed', messages: values.map((value) => ({ value })) });
    // kafkajs looks the leader up in metadata it already holds; fetching offsets loads it.
    await admin.fetchTopicOffsets('trimmed');
    await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '120' }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'kept', count: 4 }] });
    const before = byName(await admin.fetchTopicMetadata({ topics: ['kept', 'trimmed'] }));
    const offsetsBefore = await admin.fetchTopicOffsets('trimmed');
    const keptBefore = await consumeWithKcat(node.bootstrap, 'kept');
    const identitiesBefore = await identities(node.port);
    await producer.disconnect();
    await admin.disconnect();

    expect(await node.stop()).toBe(0);
    expect(node.logs()).toMatch(/stopped/);
    await node.restart();
    expect(await identities(node.port)).toEqual(identitiesBefore);
    expect(Object.keys(identitiesBefore.topicIds)).toEqual(expect.arrayContaining(['kept', 'trimmed']));

    const adminAfter = kafka.admin();
    await adminAfter.connect();
    try {
      expect(byName(await adminAfter.fetchTopicMetadata({ topics: ['kept', 'trimmed'] }))).toEqual(before);
      expect(await adminAfter.fetchTopicOffsets('trimmed')).toEqual(offsetsBefore);
      expect(offsetsBefore[0]).toMatchObject({ low: '120', high: '300' });
      const configs = await adminAfter.describeConfigs({
        resources: [{ type: 2, name: 'kept', configNames: ['retention.ms'] }],
        includeSynonyms: false,
      });
      expect(configs.resources[0]?.configEntries[0]).toMatchObject({ configName: 'retention.ms', configValue: '3600000' });
    } finally {
      await adminAfter.disconnect();
    }
    expect(await consumeWithKcat(node.bootstrap, 'kept')).toEqual(keptBefore);
    const trimmed = await consumeWithKcat(node.bootstrap, 'trimmed');
    expect(trimmed.map((record) => record.value)).toEqual(values.slice(120));
  });

  it('loses no acknowledged record when killed with -9 during an acks=-1 fsync=always stream, and truncates a torn tail', async () => {
    const node = await broker(['--fsync', 'always']);
    const kafka = kafkaClient(node.bootstrap);
    await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic: 'stream', numPartitions: 1 }] }));

    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    const acknowledged: string[] = [];
    let sequence = 0;
    let stopped = false;
    // Several sends in flight at once, so the kill lands between write and acknowledgement.
    const streams = Array.from({ length: 4 }, async () => {
      while (!stopped) {
        const messages = Array.from({ length: 20 }, () => ({ value: `m-${sequence++}` }));
        try {
          await producer.send({ topic: 'stream', acks: -1, messages });
          acknowledged.push(...messages.map((message) => message.value));
        } catch {
          return;
        }
      }
    });
    while (acknowledged.length < 2_000) await new Promise((resolve) => setTimeout(resolve, 20));
    await node.kill9();
    stopped = true;
    await Promise.all(streams);
    await producer.disconnect().catch(() => undefined);

    const segment = await activeSegment(node.dataDir, 'stream-0');
    const intactSize = (await stat(segment)).size;
    // A torn tail: what a crash in the middle of a write leaves behind.
    await appendFile(segment, Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 1, 0]), Buffer.alloc(300, 0xab)]));

    await node.restart();
    expect(node.logs()).toMatch(/trunc/i);
    expect((await stat(segment)).size).toBe(intactSize);

    const stored = (await consumeWithKcat(node.bootstrap, 'stream')).map((record) => record.value);
    const storedSet = new Set(stored);
    const missing = acknowledged.filter((value) => !storedSet.has(value));
    expect(missing).toEqual([]);
    // Stored order follows send order within each in-flight stream; offsets are dense.
    expect(new Set(stored).size).toBe(stored.length);

    // The log keeps working after recovery: new records follow the recovered end.
    const after = kafkaClient(node.bootstrap).producer();
    await after.connect();
    const [result] = await after.send({ topic: 'stream', acks: -1, messages: [{ value: 'after-restart' }] });
    await after.disconnect();
    expect(Number(result?.baseOffset)).toBe(stored.length);
    const final = await consumeWithKcat(node.bootstrap, 'stream');
    expect(final.at(-1)?.value).toBe('after-restart');
  });
});
