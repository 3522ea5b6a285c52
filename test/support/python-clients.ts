// Runs the Python client drivers in test/support/python/ with Debian's /usr/bin/python3 (where
// python3-kafka and python3-confluent-kafka live): arguments as an array, records in as JSON on
// stdin, one JSON document out, checked against a schema so a driver's mistake is reported as
// such. A timeout turns a hung client into a failed test, not a hung suite.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';

export const systemPython = '/usr/bin/python3';

const driverDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python');

export const pythonClients = {
  'kafka-python': path.join(driverDir, 'kafka_python_client.py'),
  'confluent-kafka': path.join(driverDir, 'confluent_kafka_client.py'),
} as const;

export type PythonClient = keyof typeof pythonClients;

export interface OutgoingRecord {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition?: number;
}

const recordSchema = z.object({
  partition: z.number().int(),
  offset: z.number().int(),
  key: z.string().nullable(),
  value: z.string().nullable(),
  headers: z.record(z.string(), z.string().nullable()),
});

export type PythonConsumedRecord = z.infer<typeof recordSchema>;

const metadataSchema = z.object({
  clusterId: z.string().nullable(),
  controllerId: z.number().int(),
  brokers: z.array(z.object({ nodeId: z.number().int(), host: z.string(), port: z.number().int() })),
  topics: z.array(
    z.object({
      name: z.string(),
      errorCode: z.number().int(),
      partitions: z.array(
        z.object({
          partition: z.number().int(),
          leader: z.number().int(),
          replicas: z.array(z.number().int()),
          isr: z.array(z.number().int()),
        }),
      ),
    }),
  ),
});

const produceSchema = z.object({
  deliveries: z.array(
    z.object({
      // confluent-kafka reports a failed record in its delivery report; kafka-python raises.
      error: z.string().nullable().optional(),
      partition: z.number().int(),
      offset: z.number().int(),
    }),
  ),
});

const consumeSchema = z.object({ records: z.array(recordSchema) });

const groupSchema = z.object({
  records: z.array(recordSchema),
  /** The group's committed offset per partition after the run; null where none is committed. */
  committed: z.record(z.string(), z.number().int().nullable()),
});

const codecsSchema = z.object({ gzip: z.boolean(), snappy: z.boolean(), lz4: z.boolean(), zstd: z.boolean() });

export class PythonClientError extends Error {
  constructor(client: PythonClient, command: string, detail: string) {
    super(`${client} ${command} failed: ${detail}`);
    this.name = 'PythonClientError';
  }
}

async function runDriver<T>(
  client: PythonClient,
  command: string,
  args: readonly string[],
  schema: z.ZodType<T>,
  input = '',
): Promise<T> {
  const timeoutS = 30;
  const result = await execa(systemPython, [pythonClients[client], command, ...args, '--timeout', String(timeoutS)], {
    input,
    reject: false,
    // The driver's own deadline comes first, so its stderr says what it was waiting for.
    timeout: (timeoutS + 15) * 1_000,
  });
  if (result.timedOut) throw new PythonClientError(client, command, `timed out; stderr:\n${result.stderr}`);
  if (result.exitCode !== 0) throw new PythonClientError(client, command, `exit ${result.exitCode}; stderr:\n${result.stderr}`);
  const parsed = schema.safeParse(JSON.parse(String(result.stdout)));
  if (!parsed.success) throw new PythonClientError(client, command, `unexpected output ${result.stdout}: ${parsed.error.message}`);
  return parsed.data;
}

export function pythonMetadata(client: PythonClient, bootstrap: string, topic: string) {
  return runDriver(client, 'metadata', ['--bootstrap', bootstrap, '--topic', topic], metadataSchema);
}

export interface PythonProduceOptions {
  acks: '1' | 'all';
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** confluent-kafka only: enable.idempotence=True. */
  idempotent?: boolean;
  /** confluent-kafka only: batch.num.messages, to make many small requests. */
  batchRecords?: number;
  /** confluent-kafka only: a pause after each record, so the broker can be stopped mid-stream. */
  paceMs?: number;
}

export function pythonProduce(client: PythonClient, bootstrap: string, topic: string, records: readonly OutgoingRecord[], options: PythonProduceOptions) {
  if ((options.idempotent || options.batchRecords !== undefined || options.paceMs !== undefined) && client !== 'confluent-kafka') {
    throw new PythonClientError(client, 'produce', 'idempotent, batchRecords and paceMs are confluent-kafka options');
  }
  const args = ['--bootstrap', bootstrap, '--topic', topic, '--acks', options.acks, '--compression', options.compression ?? 'none'];
  if (options.idempotent) args.push('--idempotent');
  if (options.batchRecords !== undefined) args.push('--batch-records', String(options.batchRecords));
  if (options.paceMs !== undefined) args.push('--pace-ms', String(options.paceMs));
  return runDriver(client, 'produce', args, produceSchema, JSON.stringify(records));
}

/** Every record of `topic` from the beginning to the end offsets, without a consumer group. */
export async function pythonConsume(client: PythonClient, bootstrap: string, topic: string): Promise<PythonConsumedRecord[]> {
  return (await runDriver(client, 'consume', ['--bootstrap', bootstrap, '--topic', topic], consumeSchema)).records;
}

/** One run of a group member committing each record as processed; `limit` stops it early. */
export function pythonGroupRun(client: PythonClient, bootstrap: string, topic: string, group: string, limit?: number) {
  const args = ['--bootstrap', bootstrap, '--topic', topic, '--group', group];
  if (limit !== undefined) args.push('--limit', String(limit));
  return runDriver(client, 'group', args, groupSchema);
}

/** The compression codecs the installed kafka-python can use. */
export function kafkaPythonCodecs() {
  return runDriver('kafka-python', 'codecs', [], codecsSchema);
}
