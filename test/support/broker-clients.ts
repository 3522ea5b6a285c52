// kafkajs clients for broker tests: quiet logs, short retries (a test should fail fast and
// say why, not retry for minutes), and helpers to read a whole topic back.
import kafkajs from 'kafkajs';
import { runKcat } from './kcat.js';

const { Kafka, logLevel } = kafkajs;

export type KafkaClient = InstanceType<typeof Kafka>;
export type KafkaAdmin = ReturnType<KafkaClient['admin']>;

export function kafkaClient(bootstrap: string, clientId = 'klab-test'): KafkaClient {
  return new Kafka({
    brokers: bootstrap.split(','),
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
    connectionTimeout: 5_000,
    requestTimeout: 15_000,
  });
}

/** Runs `use` with a connected kafkajs admin client, disconnecting it afterwards whatever happens. */
export async function withAdmin<T>(kafka: KafkaClient, use: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads every record of a topic with kcat (no consumer group), in offset order per partition. */
export async function consumeWithKcat(bootstrap: string, topic: string): Promise<ConsumedRecord[]> {
  // JSON envelope: kcat escapes keys, values and headers itself, so any bytes survive.
  const result = await runKcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q']);
  if (result.exitCode !== 0) throw new Error(`kcat -C failed (${result.exitCode}): ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const message = JSON.parse(line) as {
        partition: number;
        offset: number;
        key: string | null;
        payload: string | null;
        headers?: string[];
      };
      const headers: Record<string, string> = {};
      const flat = message.headers ?? [];
      for (let i = 0; i + 1 < flat.length; i += 2) headers[flat[i]!] = flat[i + 1]!;
      return { partition: message.partition, offset: message.offset, key: message.key, value: message.payload, headers };
    });
}

/** Groups records by partition, each list in the order read. */
export function byPartition<T extends { partition: number }>(records: readonly T[]): Map<number, T[]> {
  const grouped = new Map<number, T[]>();
  for (const record of records) {
    let list = grouped.get(record.partition);
    if (!list) grouped.set(record.partition, (list = []));
    list.push(record);
  }
  return grouped;
}
