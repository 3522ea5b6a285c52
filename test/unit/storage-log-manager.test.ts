import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Logger } from '../../broker/log.js';
import { StorageError, StorageErrorCode } from '../../broker/storage/errors.js';
import { LogManager, logConfigFromTopicConfigs } from '../../broker/storage/log-manager.js';
import { defaultLogConfig, type LogConfig } from '../../broker/storage/partition-log.js';
import { buildBatch, decodeRecords, splitBatches } from '../../broker/storage/record-batch.js';

class QuietLogger extends Logger {
  override info(): void {}
}

let dataDir: string;
const managers: LogManager[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'klab-logs-'));
});

afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function openManager(options: Partial<Parameters<typeof LogManager.open>[0]> = {}): Promise<LogManager> {
  const manager = await LogManager.open({ dataDir, logger: new QuietLogger('test'), ...options });
  managers.push(manager);
  return manager;
}

const record = (value: string) => buildBatch([{ value: Buffer.from(value) }]);

describe('LogManager', () => {
  it('creates partition directories and finds them again on open, topics with dashes included', async () => {
    const first = await openManager();
    await (await first.create('orders-eu', 0)).append(record('a'));
    await (await first.create('orders-eu', 1)).append(record('b'));
    await (await first.create('plain', 0)).append(record('c'));
    expect(await first.create('plain', 0)).toBe(first.get('plain', 0));
    await first.close();
    managers.length = 0;
    await mkdir(join(dataDir, 'not a partition'));
    await writeFile(join(dataDir, 'some-file-0'), 'a file, not a log directory');

    const second = await openManager();
    expect(second.all().map(({ topic, partition }) => `${topic}/${partition}`).sort()).toEqual([
      'orders-eu/0',
      'orders-eu/1',
      'plain/0',
    ]);
    const values = async (topic: string, partition: number) =>
      splitBatches(await second.get(topic, partition)!.read(0, 1000)).flatMap((b) => decodeRecords(b).map((r) => r.value?.toString()));
    expect(await values('orders-eu', 1)).toEqual(['b']);
    expect(await values('plain', 0)).toEqual(['c']);
  });

  it('gives concurrent creates of one partition the same log', async () => {
    const manager = await openManager();
    const [a, b] = await Promise.all([manager.create('race', 0), manager.create('race', 0)]);
    expect(a).toBe(b);
    await a.append(record('once'));
    expect(b.logEndOffset).toBe(1);
  });

  it('applies topic config overrides at open, on create and on reload', async () => {
    const topicConfigs = new Map<string, Partial<LogConfig>>([['short', { segmentBytes: 2048 }]]);
    const manager = await openManager({
      defaults: { ...defaultLogConfig, retentionMs: 1000 },
      topicConfig: (topic) => topicConfigs.get(topic) ?? {},
    });
    const log = await manager.create('short', 0);
    expect(log.config.segmentBytes).toBe(2048);
    expect(log.config.retentionMs).toBe(1000);
    topicConfigs.set('other', { retentionBytes: 5000 });
    const other = await manager.create('other', 0);
    expect(other.config.retentionBytes).toBe(5000);
    topicConfigs.set('other', { retentionMs: 42 });
    manager.reloadTopicConfig('other');
    expect(other.config).toMatchObject({ retentionMs: 42, retentionBytes: -1 });
  });

  it('deletes a topic: its directories go, the name can be created again empty', async () => {
    const manager = await openManager();
    await (await manager.create('gone', 0)).append(record('x'));
    await (await manager.create('gone', 1)).append(record('y'));
    await (await manager.create('kept', 0)).append(record('z'));
    await manager.deleteTopic('gone');
    expect(manager.get('gone', 0)).toBeUndefined();
    expect((await readdir(dataDir)).sort()).toEqual(['kept-0']);
    const again = await manager.create('gone', 0);
    expect(again.logEndOffset).toBe(0);
  });

  it('flushes logs with unflushed appends when fsync is interval', async () => {
    const manager = await openManager({ defaults: { ...defaultLogConfig, fsync: 'interval' }, flushIntervalMs: 60_000 });
    const log = await manager.create('lazy', 0);
    await log.append(record('v'));
    expect(log.needsFlush).toBe(true);
    await manager.flushAll();
    expect(log.needsFlush).toBe(false);
  });

  it('runs retention over every log', async () => {
    const manager = await openManager({ defaults: { ...defaultLogConfig, segmentBytes: 1024, retentionBytes: 0 } });
    const log = await manager.create('busy', 0);
    for (let i = 0; i < 30; i++) await log.append(buildBatch([{ value: Buffer.alloc(100, i) }]));
    expect(log.segmentCount).toBeGreaterThan(2);
    expect(await manager.applyRetention()).toBeGreaterThan(0);
    expect(log.segmentCount).toBe(1);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets[0]);
  });
});

describe('logConfigFromTopicConfigs', () => {
  it('maps Kafka topic config names to log settings and ignores the rest', () => {
    expect(
      logConfigFromTopicConfigs({
        'retention.ms': '-1',
        'retention.bytes': '1048576',
        'segment.bytes': '4096',
        'segment.ms': '60000',
        'max.message.bytes': '2000000',
        'message.timestamp.type': 'LogAppendTime',
        'cleanup.policy': 'delete',
      }),
    ).toEqual({
      retentionMs: -1,
      retentionBytes: 1048576,
      segmentBytes: 4096,
      segmentMs: 60000,
      maxMessageBytes: 2000000,
      timestampType: 'LogAppendTime',
    });
  });

  it('names the config and value it rejects', () => {
    const bad: Record<string, string>[] = [
      { 'retention.ms': 'soon' },
      { 'segment.bytes': '3' },
      { 'segment.bytes': String(2 ** 31) },
      { 'message.timestamp.type': 'WallClock' },
    ];
    for (const configs of bad) {
      let caught: unknown;
      try {
        logConfigFromTopicConfigs(configs);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(StorageError);
      expect((caught as StorageError).kafkaErrorCode).toBe(StorageErrorCode.INVALID_CONFIG);
      expect((caught as StorageError).message).toContain(Object.keys(configs)[0]);
    }
  });
});
