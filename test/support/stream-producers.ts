// Steady acks=all streams for fault tests, each recording what it sent and every record's own
// acknowledgement, in the shape test/support/history-checker.ts takes: librdkafka's idempotent
// producer (Debian's python3-confluent-kafka, the reference for "nothing lost, nothing
// doubled") run as a process, and kafkajs's in-process. Record i is "p<partition>-<i>" sent to
// partition i mod N, so every value is unique and says where it was meant to go.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { z } from 'zod';
import { consumeWithKcat } from './broker-clients.js';
import type { Acknowledgement, LoggedRecord, SentRecord } from './history-checker.js';
import { systemPython } from './python-clients.js';

const { Kafka, logLevel } = kafkajs;

export interface StreamOptions {
  bootstrap: string;
  topic: string;
  partitions: number;
  /** Records per second; 0 (the default) sends as fast as the producer goes. */
  rate?: number;
  /** Stop after this many records; 0 (the default) runs until stop(). */
  count?: number;
  /** The Python client: librdkafka's idempotent producer (default) or kafka-python's (no idempotence). */
  pythonClient?: 'confluent-kafka' | 'kafka-python';
}

/** One delivery report, and when (Date.now()) the harness saw it, to measure time to recover. */
export interface DeliveryReport {
  value: string;
  partition: number;
  /** -1 with an error. */
  offset: number;
  error: string | null;
  at: number;
}

export interface StreamRun {
  sent: SentRecord[];
  /** Successful reports, each from its own record's partition. */
  acknowledged: Array<Acknowledgement & { at: number }>;
  /** Reports with an error: not acknowledged, so the record may or may not be stored. */
  failed: DeliveryReport[];
  /** kafkajs only: a send() that resolved without an entry for its record's partition. */
  clientFaults: Array<{ value: string; partition: number; returned: string }>;
  /** Why the producer gave up before it was stopped (a fatal client error), with the run so far kept for the check. */
  producerError: string | null;
}

export interface StreamProducer {
  /** Reports so far, in the order they arrived. */
  readonly reports: readonly DeliveryReport[];
  /** Resolves once `count` records are acknowledged in all, or rejects after `timeoutMs`. */
  waitForAcknowledged(count: number, timeoutMs?: number): Promise<void>;
  /** Stops sending, waits for the outstanding reports and returns the whole run. */
  stop(): Promise<StreamRun>;
}

const valueOf = (index: number, partitions: number) => `p${index % partitions}-${index}`;

function sentRecords(count: number, partitions: number): SentRecord[] {
  return Array.from({ length: count }, (_, index) => ({ value: valueOf(index, partitions), partition: index % partitions }));
}

function tracker(describe: () => string) {
  const reports: DeliveryReport[] = [];
  let acknowledged = 0;
  return {
    reports,
    add(report: DeliveryReport) {
      reports.push(report);
      if (report.error === null) acknowledged += 1;
    },
    async waitForAcknowledged(count: number, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (acknowledged < count) {
        if (Date.now() > deadline) throw new Error(`${describe()}: ${acknowledged} of ${count} records acknowledged within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    run(sent: SentRecord[], producerError: string | null, clientFaults: StreamRun['clientFaults'] = []): StreamRun {
      return {
        sent,
        acknowledged: reports
          .filter((report) => report.error === null)
          .map(({ value, partition, offset, at }) => ({ value, partition, offset, at })),
        failed: reports.filter((report) => report.error !== null),
        clientFaults,
        producerError,
      };
    },
  };
}

const pythonScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python', 'stream_producer.py');

const pythonLine = z.union([
  z.object({ value: z.string(), partition: z.number().int(), offset: z.number().int(), error: z.string().nullable() }),
  z.object({ sent: z.number().int() }),
]);

/** librdkafka's idempotent producer (enable.idempotence, acks=all), or kafka-python's, in a python3 process of its own. */
export function startPythonStreamProducer(options: StreamOptions): StreamProducer {
  const child = spawn(
    systemPython,
    [
      pythonScript,
      ...['--bootstrap', options.bootstrap, '--topic', options.topic, '--partitions', String(options.partitions)],
      ...['--rate', String(options.rate ?? 0), '--count', String(options.count ?? 0)],
      ...['--client', options.pythonClient ?? 'confluent-kafka'],
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let sent: number | null = null;
  let badLine: string | null = null;
  const describe = () => `python stream producer to ${options.bootstrap} (topic ${options.topic})`;
  const track = tracker(describe);
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let parsed: z.infer<typeof pythonLine>;
      try {
        parsed = pythonLine.parse(JSON.parse(line));
      } catch {
        badLine ??= line;
        continue;
      }
      if ('sent' in parsed) sent = parsed.sent;
      else track.add({ ...parsed, offset: parsed.error === null ? parsed.offset : -1, at: Date.now() });
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));

  return {
    reports: track.reports,
    waitForAcknowledged: (count, timeoutMs) =>
      track.waitForAcknowledged(count, timeoutMs).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; stderr:\n${stderr}`);
      }),
    async stop() {
      // End of stdin asks it to stop: it then flushes, so every record it took gets its report.
      child.stdin.end();
      const code = await exited;
      if (badLine !== null) throw new Error(`${describe()} printed a line that is not a delivery report: ${badLine}`);
      // Without its closing count the sent records are unknown, so there is no history to check.
      if (sent === null) throw new Error(`${describe()} exited with code ${code} before saying how many records it sent; stderr:\n${stderr}`);
      return track.run(sentRecords(sent, options.partitions), code === 0 ? null : `exited with code ${code}: ${stderr.trim()}`);
    },
  };
}

/**
 * kafkajs's idempotent producer (acks -1) in this process, one record per send() so each
 * acknowledgement is that record's own: its partition's entry in the send() result.
 */
export function startKafkajsStreamProducer(options: StreamOptions): StreamProducer {
  const kafka = new Kafka({
    brokers: options.bootstrap.split(','),
    clientId: 'klab-test-kafkajs-stream',
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2_000 },
    connectionTimeout: 5_000,
    requestTimeout: 15_000,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const describe = () => `kafkajs stream producer to ${options.bootstrap} (topic ${options.topic})`;
  const track = tracker(describe);
  const clientFaults: StreamRun['clientFaults'] = [];
  let stopping = false;
  let sent = 0;

  const loop = async () => {
    await producer.connect();
    const started = Date.now();
    const count = options.count ?? 0;
    while (!stopping && (count === 0 || sent < count)) {
      const rate = options.rate ?? 0;
      const wait = rate > 0 ? started + (sent / rate) * 1000 - Date.now() : 0;
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue;
      }
      const partition = sent % options.partitions;
      const value = valueOf(sent, options.partitions);
      sent += 1;
      try {
        const result = await producer.send({ topic: options.topic, acks: -1, messages: [{ value, partition }] });
        const own = result.find((entry) => entry.topicName === options.topic && entry.partition === partition);
        if (own?.baseOffset === undefined) clientFaults.push({ value, partition, returned: JSON.stringify(result) });
        else track.add({ value, partition, offset: Number(own.baseOffset), error: null, at: Date.now() });
      } catch (error) {
        track.add({ value, partition, offset: -1, error: (error as Error).message, at: Date.now() });
      }
    }
  };
  // Kept, not thrown here: stop() returns it with the run so far.
  let failure = null as Error | null;
  const running = loop().catch((error: unknown) => {
    failure = error as Error;
  });

  return {
    reports: track.reports,
    waitForAcknowledged: (count, timeoutMs) => track.waitForAcknowledged(count, timeoutMs),
    async stop() {
      stopping = true;
      await running;
      await producer.disconnect();
      return track.run(sentRecords(sent, options.partitions), failure?.message ?? null, clientFaults);
    },
  };
}

/** Every record of `topic` from offset 0 to the end, read with kcat: partition i's log at index i. */
export async function readWholeTopic(bootstrap: string, topic: string, partitions: number): Promise<LoggedRecord[][]> {
  const log: LoggedRecord[][] = Array.from({ length: partitions }, () => []);
  for (const record of await consumeWithKcat(bootstrap, topic)) {
    const records = log[record.partition];
    if (!records) throw new Error(`topic ${topic} has partition ${record.partition}, beyond the ${partitions} expected`);
    // A null value cannot come from these producers; kept visible so the checker calls it a phantom.
    records.push({ offset: record.offset, value: record.value ?? '<null>' });
  }
  return log;
}
