// kcat (librdkafka 2.0.2, unchanged) against a real broker process: metadata, produce,
// consume to the end, and the protocol features librdkafka negotiates (MsgVer2 = record
// batches v2, which needs Produce v3+ and Fetch v4+).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { consumeWithKcat } from '../support/broker-clients.js';
import { runKcat } from '../support/kcat.js';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker({ args: ['--default-partitions', '3'] });
});

afterAll(async () => {
  await broker?.dispose();
});

describe('kcat against the broker', () => {
  it('lists metadata: this broker as controller, and topics with their partitions', async () => {
    const produced = await runKcat(['-b', broker.bootstrap, '-P', '-t', 'kcat-meta', '-p', '0'], { input: 'one\n' });
    expect(produced.exitCode, produced.stderr).toBe(0);
    const result = await runKcat(['-b', broker.bootstrap, '-L', '-J']);
    expect(result.exitCode, result.stderr).toBe(0);
    const metadata = JSON.parse(result.stdout) as {
      brokers: Array<{ id: number; name: string }>;
      controllerid: number;
      topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number; replicas: unknown[]; isrs: unknown[] }> }>;
    };
    expect(metadata.controllerid).toBe(0);
    expect(metadata.brokers).toEqual([{ id: 0, name: broker.bootstrap }]);
    const topic = metadata.topics.find((entry) => entry.topic === 'kcat-meta');
    expect(topic?.partitions.map((partition) => partition.partition).sort()).toEqual([0, 1, 2]);
    expect(topic?.partitions.every((partition) => partition.leader === 0)).toBe(true);
  });

  it('produces with -P and consumes every message back with -C -e, in order per partition', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `key-${i % 7}:value ${i} ${'x'.repeat(i % 50)}`);
    const produced = await runKcat(['-b', broker.bootstrap, '-P', '-t', 'kcat-roundtrip', '-K', ':', '-z', 'lz4'], {
      input: `${lines.join('\n')}\n`,
    });
    expect(produced.exitCode, produced.stderr).toBe(0);
    const consumed = await consumeWithKcat(broker.bootstrap, 'kcat-roundtrip');
    expect(consumed).toHaveLength(lines.length);
    // kcat partitions by key, so each key's records must come back in the order they were sent.
    for (let key = 0; key < 7; key++) {
      const sent = lines.filter((line) => line.startsWith(`key-${key}:`)).map((line) => line.slice(line.indexOf(':') + 1));
      const received = consumed.filter((record) => record.key === `key-${key}`);
      expect(received.map((record) => record.value)).toEqual(sent);
      expect(new Set(received.map((record) => record.partition)).size).toBe(1);
    }
    for (const partition of [0, 1, 2]) {
      const offsets = consumed.filter((record) => record.partition === partition).map((record) => record.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
  });

  it('negotiates MsgVer2 (record batch v2) with the broker', async () => {
    const result = await runKcat(['-b', broker.bootstrap, '-L', '-X', 'debug=feature']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Enabling feature MsgVer2/);
    expect(result.stderr).not.toMatch(/Disabling feature MsgVer2/);
  });

  it('consumes a topic produced with each compression codec librdkafka offers', async () => {
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
      const topic = `kcat-codec-${codec}`;
      const lines = Array.from({ length: 200 }, (_, i) => `${codec} message ${i} ${'y'.repeat(i)}`);
      const produced = await runKcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-z', codec], {
        input: `${lines.join('\n')}\n`,
      });
      expect(produced.exitCode, produced.stderr).toBe(0);
      const consumed = await consumeWithKcat(broker.bootstrap, topic);
      expect(consumed.map((record) => record.value)).toEqual(lines);
    }
  });
});
