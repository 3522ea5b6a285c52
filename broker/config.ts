// Broker configuration: every setting is a command-line flag and an environment variable
// (KLAB_BROKER_<FLAG>, so a StatefulSet can set them), validated by one zod schema so a bad
// value stops the broker with a message naming the flag, the variable and what was expected.
import { parseArgs } from 'node:util';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export interface BrokerConfig {
  nodeId: number;
  listen: HostPort;
  /** What clients are told to connect to; follows the bound port when listen's port is 0. */
  advertise: HostPort | null;
  dataDir: string;
  metrics: HostPort | null;
  logRetentionMs: number;
  logRetentionBytes: number;
  logSegmentBytes: number;
  fsync: 'always' | 'interval';
  fsyncIntervalMs: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  maxFrameBytes: number;
}

interface FlagSpec {
  flag: string;
  key: keyof BrokerConfig;
  schema: z.ZodType;
  expected: string;
  defaultValue?: string;
}

const hostPort = (allowZero: boolean) =>
  z.string().transform((text, ctx): HostPort => {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port > 65535 || (!allowZero && port === 0)) {
      ctx.addIssue({ code: 'custom', message: 'not a host:port' });
      return z.NEVER;
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const flagSpecs: readonly FlagSpec[] = [
  {
    flag: 'node-id',
    key: 'nodeId',
    // A StatefulSet pod's name ends in its ordinal, so the pod name itself may be passed.
    schema: z
      .string()
      .regex(/^(?:[a-z0-9.-]*-)?\d{1,10}$/)
      .transform((text) => Number(/(\d+)$/.exec(text)![1]))
      .pipe(z.number().int().min(0).max(2 ** 31 - 1)),
    expected: 'an integer ≥ 0, or a StatefulSet pod name ending in -N',
  },
  {
    flag: 'listen',
    key: 'listen',
    schema: hostPort(true),
    expected: 'host:port (port 0 picks a free port)',
    defaultValue: '127.0.0.1:9092',
  },
  { flag: 'advertise', key: 'advertise', schema: hostPort(false), expected: 'host:port with a port 1–65535' },
  { flag: 'data-dir', key: 'dataDir', schema: z.string().min(1), expected: 'a directory path' },
  { flag: 'metrics', key: 'metrics', schema: hostPort(true), expected: 'host:port for the HTTP metrics endpoint' },
  {
    flag: 'log-retention-ms',
    key: 'logRetentionMs',
    schema: integer(-1),
    expected: 'milliseconds, or -1 for no time limit',
    defaultValue: String(7 * 24 * 3600 * 1000),
  },
  {
    flag: 'log-retention-bytes',
    key: 'logRetentionBytes',
    schema: integer(-1),
    expected: 'bytes per partition, or -1 for no size limit',
    defaultValue: '-1',
  },
  {
    flag: 'log-segment-bytes',
    key: 'logSegmentBytes',
    schema: integer(14, 2 ** 31 - 1),
    expected: 'bytes per segment file (≥ 14)',
    defaultValue: String(1024 * 1024 * 1024),
  },
  {
    flag: 'fsync',
    key: 'fsync',
    schema: z.enum(['always', 'interval']),
    expected: '"always" (fsync before acknowledging) or "interval"',
    defaultValue: 'interval',
  },
  {
    flag: 'fsync-interval-ms',
    key: 'fsyncIntervalMs',
    // Node's timers take at most 2^31-1 ms and silently fire every 1 ms beyond that.
    schema: integer(1, 2 ** 31 - 1),
    expected: 'milliseconds from 1 to 2147483647 (about 24.8 days)',
    defaultValue: '1000',
  },
  {
    flag: 'auto-create-topics',
    key: 'autoCreateTopics',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    expected: '"true" or "false"',
    defaultValue: 'true',
  },
  {
    flag: 'default-partitions',
    key: 'defaultPartitions',
    schema: integer(1, 100_000),
    expected: 'an integer ≥ 1',
    defaultValue: '1',
  },
  {
    flag: 'max-frame-bytes',
    key: 'maxFrameBytes',
    schema: integer(64, 2 ** 31 - 1),
    expected: 'bytes ≥ 64',
    defaultValue: String(100 * 1024 * 1024),
  },
];

const required = new Set(['node-id', 'data-dir']);

export function envName(flag: string): string {
  return `KLAB_BROKER_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export const usage = [
  'Usage: klab-broker --node-id N --listen host:port --data-dir DIR [options]',
  '',
  'Every flag can also be set as an environment variable (flag wins):',
  ...flagSpecs.map(
    (spec) =>
      `  --${spec.flag.padEnd(20)} ${envName(spec.flag).padEnd(34)} ${spec.expected}` +
      (spec.defaultValue === undefined ? '' : ` [default ${spec.defaultValue}]`),
  ),
  '',
  'Log lines go to stderr; KLAB_BROKER_LOG_LEVEL=debug|info|warn|error sets how many [default info].',
].join('\n');

/** Parses flags and environment into a config; throws ConfigError naming the flag and variable. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BrokerConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(flagSpecs.map((spec) => [spec.flag, { type: 'string' as const }])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${usage}`);
  }

  const config: Record<string, unknown> = { advertise: null, metrics: null };
  for (const spec of flagSpecs) {
    const fromFlag = values[spec.flag];
    const fromEnv = env[envName(spec.flag)];
    const raw = typeof fromFlag === 'string' ? fromFlag : fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec.defaultValue;
    const source = typeof fromFlag === 'string' ? `--${spec.flag}` : `${envName(spec.flag)}`;
    if (raw === undefined) {
      if (required.has(spec.flag)) {
        throw new ConfigError(`--${spec.flag} (or ${envName(spec.flag)}) is required: expected ${spec.expected}`);
      }
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(`${source}=${JSON.stringify(raw)} is invalid: expected ${spec.expected}`);
    }
    config[spec.key] = parsed.data;
  }
  return config as unknown as BrokerConfig;
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
