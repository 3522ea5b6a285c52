// The fault tests' streaming producers and history check, proven on one broker: a clean run
// of each producer passes the check, and librdkafka's acks=all stream loses nothing across a
// kill -9 and restart of the broker (fsync=always, so an acknowledgement means on disk), and
// doubles nothing as the restarted broker still knows its producer's sequence numbers.
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { checkHistory, formatHistoryReport, type HistoryResult } from '../support/history-checker.js';
import {
  readWholeTopic,
  startKafkajsStreamProducer,
  startPythonStreamProducer,
  type StreamProducer,
  type StreamRun,
} from '../support/stream-producers.js';

const partitions = 3;
const started: BrokerProcess[] = [];

afterEach(async () => {
  for (const broker of started.splice(0)) await broker.dispose();
});

async function brokerWithTopic(topic: string, args: string[] = []): Promise<BrokerProcess> {
  const broker = await startBroker({ args });
  started.push(broker);
  await withAdmin(kafkaClient(broker.bootstrap), (admin) => admin.createTopics({ topics: [{ topic, numPartitions: partitions }] }));
  return broker;
}

/** Lets the stream run for a while (it must get acknowledgements meanwhile), then stops it. */
async function runFor(producer: StreamProducer, ms: number): Promise<StreamRun> {
  await producer.waitForAcknowledged(10);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return producer.stop();
}

async function check(broker: BrokerProcess, topic: string, run: StreamRun): Promise<HistoryResult> {
  const log = await readWholeTopic(broker.bootstrap, topic, partitions);
  return checkHistory({ sent: run.sent, acknowledged: run.acknowledged, log });
}

/** A run on a healthy broker: no failed delivery, no client error, and a clean history. */
function expectCleanRun(run: StreamRun, result: HistoryResult): void {
  const report = formatHistoryReport(result);
  expect(run.failed).toEqual([]);
  expect(run.producerError).toBeNull();
  expect({ lost: result.lost, wrongOffset: result.wrongOffset, duplicated: result.duplicated, phantom: result.phantom, reordered: result.reordered }, report).toEqual({
    lost: [],
    wrongOffset: [],
    duplicated: [],
    phantom: [],
    reordered: [],
  });
}

describe('stream producers and history check on one broker', () => {
  it('librdkafka idempotent stream: every acknowledged record in place, none doubled or invented', async () => {
    const broker = await brokerWithTopic('stream-python');
    const run = await runFor(startPythonStreamProducer({ bootstrap: broker.bootstrap, topic: 'stream-python', partitions, rate: 500 }), 2_000);
    const result = await check(broker, 'stream-python', run);
    const report = formatHistoryReport(result);
    expect(result.acknowledged, report).toBeGreaterThan(0);
    expect(new Set(run.acknowledged.map((ack) => ack.partition))).toEqual(new Set([0, 1, 2]));
    expectCleanRun(run, result);
  });

  it('kafkajs idempotent stream: every acknowledged record in place, none doubled or invented, no client faults', async () => {
    const broker = await brokerWithTopic('stream-kafkajs');
    const run = await runFor(startKafkajsStreamProducer({ bootstrap: broker.bootstrap, topic: 'stream-kafkajs', partitions }), 2_000);
    const result = await check(broker, 'stream-kafkajs', run);
    const report = formatHistoryReport(result);
    expect(result.acknowledged, report).toBeGreaterThan(0);
    expect(run.clientFaults).toEqual([]);
    expectCleanRun(run, result);
  });

  it('librdkafka acks=all stream loses no acknowledged record across a kill -9 and restart of the broker', async () => {
    const broker = await brokerWithTopic('stream-restart', ['--fsync', 'always']);
    const producer = startPythonStreamProducer({ bootstrap: broker.bootstrap, topic: 'stream-restart', partitions, rate: 300 });
    await producer.waitForAcknowledged(100);
    await broker.kill9();
    await broker.restart();
    // Acknowledgements after the restart prove the stream went on against the new process.
    const beforeRestart = producer.reports.filter((report) => report.error === null).length;
    await producer.waitForAcknowledged(beforeRestart + 100, 60_000);
    const run = await producer.stop();
    expect(run.producerError).toBeNull();
    const result = await check(broker, 'stream-restart', run);
    const report = formatHistoryReport(result);
    expect(result.lost, report).toEqual([]);
    expect(result.wrongOffset, report).toEqual([]);
    expect(result.phantom, report).toEqual([]);
    // Idempotence holds across the restart: the broker rebuilt the producer's sequence state from its log.
    expect(result.duplicated, report).toEqual([]);
    expect(result.acknowledged, report).toBeGreaterThan(beforeRestart);
  });
});
