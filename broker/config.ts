// Broker configuration: every setting is a command-line flag and an environment variable
// (KLAB_BROKER_<FLAG>, so a StatefulSet can set them), validated by one zod schema so a bad
// value stops the broker with a message naming the flag, the variable and what was expected.
// Flags that only make sense together (listeners and their advertised addresses, the
// controller address and the voters) are checked against each other once all are parsed.
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

/** One named listener: where it binds, and what clients connected to it are told to use. */
export interface ListenerConfig {
  name: string;
  listen: HostPort;
  /** Null: the bound address (the host name for a wildcard bind), following the bound port when listen's port is 0. */
  advertise: HostPort | null;
}

/** A member of the metadata quorum: its node id and its controller address. */
export interface Voter {
  nodeId: number;
  address: HostPort;
}

export interface BrokerConfig {
  nodeId: number;
  /** Every listener the broker serves, in the order given; `--listen` alone is one named PLAINTEXT. */
  listeners: readonly ListenerConfig[];
  /** The listener other brokers reach this one on. */
  interBrokerListener: string;
  /** Where this node's controller listens for the quorum; null when it runs alone (no --voters). */
  controllerListen: HostPort | null;
  /** The metadata quorum, the same list on every node; null when the broker runs alone. */
  voters: readonly Voter[] | null;
  /** The cluster this node belongs to; null: the one in meta.properties, or a new one for a broker alone. */
  clusterId: string | null;
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
  /** Replicas of a topic created without a replication factor (auto-created ones too): min(3, voters) unless set. */
  defaultReplicationFactor: number;
  /** ISR members an acks=all write needs unless the topic says otherwise: 1 alone, 2 in a quorum unless set. */
  minInsyncReplicas: number;
  uncleanLeaderElection: boolean;
  autoLeaderRebalance: boolean;
  brokerHeartbeatIntervalMs: number;
  brokerSessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
}

/** Every flag's parsed value, before the flags that belong together are checked together. */
interface FlagValues
  extends Omit<BrokerConfig, 'listeners' | 'interBrokerListener' | 'controllerListen' | 'voters' | 'defaultReplicationFactor' | 'minInsyncReplicas'> {
  defaultReplicationFactor: number | null;
  minInsyncReplicas: number | null;
  listen: HostPort | null;
  advertise: HostPort | null;
  listeners: NamedAddress[] | null;
  advertisedListeners: NamedAddress[] | null;
  interBrokerListener: string | null;
  controllerListen: HostPort | null;
  voters: Voter[] | null;
}

interface NamedAddress {
  name: string;
  address: HostPort;
}

interface FlagSpec {
  flag: string;
  key: keyof FlagValues;
  schema: z.ZodType;
  expected: string;
  defaultValue?: string;
  /** Its schema names the faulty part of a value (a list entry), so the message says which. */
  namesProblem?: boolean;
}

function parseHostPort(text: string, allowZero: boolean): HostPort | null {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535 || (!allowZero && port === 0)) return null;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

const hostPort = (allowZero: boolean) =>
  z.string().transform((text, ctx): HostPort => {
    const parsed = parseHostPort(text, allowZero);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: 'not a host:port' });
      return z.NEVER;
    }
    return parsed;
  });

const defaultListen = '127.0.0.1:9092';
/** The listener's name when the one-listener form (--listen, --advertise) is used, as in Kafka. */
const defaultListenerName = 'PLAINTEXT';

const listenerNamePattern = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * A comma-separated list of KEY<separator>host:port entries. Each entry is checked on its
 * own, so an error names the entry; keys are parsed by `key` (null when not valid).
 */
const addressList = <K>(separator: string, what: string, key: (text: string) => K | null, keyExpected: string, allowZero: boolean) =>
  z.string().transform((text, ctx): Array<{ key: K; address: HostPort }> => {
    const entries: Array<{ key: K; address: HostPort }> = [];
    for (const entry of text.split(',')) {
      const at = entry.indexOf(separator);
      const parsedKey = at > 0 ? key(entry.slice(0, at).trim()) : null;
      const address = at > 0 ? parseHostPort(entry.slice(at + separator.length).trim(), allowZero) : null;
      if (parsedKey === null || address === null) {
        const problem =
          at <= 0
            ? `is not ${what}`
            : parsedKey === null
              ? `does not start with ${keyExpected}`
              : `does not end in a host:port${allowZero ? '' : ' with a port 1–65535'}`;
        ctx.addIssue({ code: 'custom', message: `entry ${JSON.stringify(entry)} ${problem}` });
        return z.NEVER;
      }
      entries.push({ key: parsedKey, address });
    }
    return entries;
  });

// Listener names are case-insensitive in Kafka, which upper-cases them; so does this broker.
const listenerName = (text: string): string | null => (listenerNamePattern.test(text) ? text.toUpperCase() : null);

const namedAddresses = (allowZero: boolean) =>
  addressList('=', 'NAME=host:port', listenerName, 'a listener name (a letter, then letters, digits or _)', allowZero).transform(
    (entries): NamedAddress[] => entries.map(({ key, address }) => ({ name: key, address })),
  );

const voterList = addressList(
  '@',
  'ID@host:port',
  (text) => (/^\d{1,10}$/.test(text) && Number(text) <= 2 ** 31 - 1 ? Number(text) : null),
  'a node id (an integer ≥ 0)',
  false,
).transform((entries): Voter[] => entries.map(({ key, address }) => ({ nodeId: key, address })));

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
    // No defaultValue here: whether --listen was given decides between the two listener forms.
    expected: `host:port (port 0 picks a free port) for one listener named PLAINTEXT [default ${defaultListen}]`,
  },
  { flag: 'advertise', key: 'advertise', schema: hostPort(false), expected: 'host:port with a port 1–65535' },
  {
    flag: 'listeners',
    key: 'listeners',
    schema: namedAddresses(true),
    expected: 'NAME=host:port,… (e.g. INTERNAL=0.0.0.0:9092,EXTERNAL=0.0.0.0:9094); instead of --listen',
    namesProblem: true,
  },
  {
    flag: 'advertised-listeners',
    key: 'advertisedListeners',
    schema: namedAddresses(false),
    expected: 'NAME=host:port,… for listeners clients reach elsewhere (e.g. EXTERNAL=203.0.113.7:30094)',
    namesProblem: true,
  },
  {
    flag: 'inter-broker-listener',
    key: 'interBrokerListener',
    schema: z.string().regex(listenerNamePattern).transform((name) => name.toUpperCase()),
    expected: 'the name of a listener other brokers use [default the first listener]',
  },
  {
    flag: 'controller-listen',
    key: 'controllerListen',
    schema: hostPort(false),
    expected: "host:port (port 1–65535) this node's controller listens on for the quorum; needs --voters",
  },
  {
    flag: 'voters',
    key: 'voters',
    schema: voterList,
    expected: 'ID@host:port,… every voter of the metadata quorum, the same list on every node; without it the broker runs alone',
    namesProblem: true,
  },
  {
    flag: 'cluster-id',
    key: 'clusterId',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    expected: 'the cluster id, the same on every node (1–64 letters, digits, - or _); required with --voters on first start',
  },
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
  {
    flag: 'default-replication-factor',
    key: 'defaultReplicationFactor',
    schema: integer(1, 32),
    expected: 'replicas of a topic created without a replication factor [default min(3, number of voters)]',
  },
  {
    flag: 'min-insync-replicas',
    key: 'minInsyncReplicas',
    schema: integer(1, 32),
    expected: 'in-sync replicas an acks=all write needs, unless the topic sets min.insync.replicas [default 1 alone, 2 with --voters]',
  },
  {
    flag: 'unclean-leader-election',
    key: 'uncleanLeaderElection',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    expected: '"true": a partition whose whole ISR is gone takes any live replica as leader and may lose records; "false": it waits',
    defaultValue: 'false',
  },
  {
    flag: 'auto-leader-rebalance',
    key: 'autoLeaderRebalance',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    expected: '"true" or "false": move leadership back to preferred replicas once they are in sync',
    defaultValue: 'true',
  },
  {
    flag: 'broker-heartbeat-interval-ms',
    key: 'brokerHeartbeatIntervalMs',
    schema: integer(10, 60_000),
    expected: 'milliseconds between a broker\'s heartbeats to the active controller',
    defaultValue: '250',
  },
  {
    flag: 'broker-session-timeout-ms',
    key: 'brokerSessionTimeoutMs',
    schema: integer(100, 600_000),
    expected: 'milliseconds without a heartbeat before the controller fences a broker and moves its leaderships',
    defaultValue: '1500',
  },
  {
    flag: 'replica-lag-time-max-ms',
    key: 'replicaLagTimeMaxMs',
    schema: integer(100, 2 ** 31 - 1),
    expected: 'milliseconds a follower may stay behind its leader before it leaves the ISR',
    defaultValue: '10000',
  },
];

const required = new Set(['node-id', 'data-dir']);

export function envName(flag: string): string {
  return `KLAB_BROKER_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export const usage = [
  'Usage: klab-broker --node-id N --data-dir DIR [--listen host:port | --listeners NAME=host:port,…] [options]',
  '',
  'Every flag can also be set as an environment variable (flag wins):',
  ...flagSpecs.map(
    (spec) =>
      `  --${spec.flag.padEnd(21)} ${envName(spec.flag).padEnd(35)} ${spec.expected}` +
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

  const parsedValues: Record<string, unknown> = {
    listen: null,
    advertise: null,
    listeners: null,
    advertisedListeners: null,
    interBrokerListener: null,
    controllerListen: null,
    voters: null,
    metrics: null,
    clusterId: null,
    defaultReplicationFactor: null,
    minInsyncReplicas: null,
  };
  const sources = new Map<keyof FlagValues, string>();
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
      const problem = spec.namesProblem ? `${parsed.error.issues[0]?.message ?? 'malformed'}; expected` : 'expected';
      throw new ConfigError(`${source}=${JSON.stringify(raw)} is invalid: ${problem} ${spec.expected}`);
    }
    parsedValues[spec.key] = parsed.data;
    sources.set(spec.key, source);
  }
  return combine(parsedValues as unknown as FlagValues, (key) => sources.get(key) ?? `--${flagSpecs.find((spec) => spec.key === key)!.flag}`);
}

const wildcardHosts = new Set(['0.0.0.0', '::']);

/** Two binds on one port conflict when their hosts are the same or either is a wildcard. */
function bindsOverlap(a: HostPort, b: HostPort): boolean {
  return a.port !== 0 && a.port === b.port && (a.host === b.host || wildcardHosts.has(a.host) || wildcardHosts.has(b.host));
}

function duplicate<T>(items: readonly T[]): T | undefined {
  return items.find((item, index) => items.indexOf(item) !== index);
}

/** Checks the flags that belong together and builds the config; `source` names a flag as the user gave it. */
function combine(values: FlagValues, source: (key: keyof FlagValues) => string): BrokerConfig {
  const { listen, advertise, listeners: named, advertisedListeners, interBrokerListener, controllerListen, voters, defaultReplicationFactor, minInsyncReplicas, ...rest } = values;
  if (named && (listen || advertise)) {
    throw new ConfigError(
      `${source('listeners')} and ${source(listen ? 'listen' : 'advertise')} were both given: use --listeners (with --advertised-listeners) for named listeners, or --listen (with --advertise) for one`,
    );
  }
  if (advertise && advertisedListeners) {
    throw new ConfigError(`${source('advertise')} and ${source('advertisedListeners')} were both given: use one of them`);
  }
  const binds: NamedAddress[] = named ?? [{ name: defaultListenerName, address: listen ?? parseHostPort(defaultListen, true)! }];
  const listenerNames = binds.map((listener) => listener.name);
  const twice = duplicate(listenerNames);
  if (twice) throw new ConfigError(`${source('listeners')} names listener ${twice} more than once`);
  for (const [index, a] of binds.entries()) {
    const clash = binds.slice(index + 1).find((b) => bindsOverlap(a.address, b.address));
    if (clash) {
      throw new ConfigError(
        `${source('listeners')}: listeners ${a.name} (${formatHostPort(a.address)}) and ${clash.name} (${formatHostPort(clash.address)}) would bind the same port`,
      );
    }
  }

  const advertised = new Map<string, HostPort>();
  if (advertise) advertised.set(defaultListenerName, advertise);
  for (const { name, address } of advertisedListeners ?? []) {
    if (advertised.has(name)) throw new ConfigError(`${source('advertisedListeners')} names listener ${name} more than once`);
    if (!listenerNames.includes(name)) {
      throw new ConfigError(
        `${source('advertisedListeners')} names listener ${name}, which is not defined (listeners: ${listenerNames.join(', ')}); define it in --listeners`,
      );
    }
    advertised.set(name, address);
  }
  const listeners: ListenerConfig[] = binds.map(({ name, address }) => ({ name, listen: address, advertise: advertised.get(name) ?? null }));
  if (named) {
    // The one-listener form falls back to the host name (as Kafka does for an empty host);
    // with named listeners a wildcard must say which of the host's addresses its clients use.
    const unreachable = listeners.find((listener) => listener.advertise === null && wildcardHosts.has(listener.listen.host));
    if (unreachable) {
      throw new ConfigError(
        `listener ${unreachable.name} binds ${formatHostPort(unreachable.listen)}, an address clients cannot connect to: give the address they should use in --advertised-listeners (${unreachable.name}=host:port)`,
      );
    }
  }

  const interBroker = interBrokerListener ?? listeners[0]!.name;
  if (!listenerNames.includes(interBroker)) {
    throw new ConfigError(
      `${source('interBrokerListener')} names listener ${interBroker}, which is not defined (listeners: ${listenerNames.join(', ')})`,
    );
  }

  if (voters) checkVoters(rest.nodeId, voters, controllerListen, listeners, source);
  else if (controllerListen) {
    throw new ConfigError(`${source('controllerListen')} needs --voters (or ${envName('voters')}): the quorum this controller belongs to`);
  }
  if (rest.brokerSessionTimeoutMs <= rest.brokerHeartbeatIntervalMs) {
    throw new ConfigError(
      `${source('brokerSessionTimeoutMs')} ${rest.brokerSessionTimeoutMs} must be longer than ${source('brokerHeartbeatIntervalMs')} ${rest.brokerHeartbeatIntervalMs}, or every broker is fenced between two heartbeats`,
    );
  }
  const brokers = voters?.length ?? 1;
  if (defaultReplicationFactor !== null && defaultReplicationFactor > brokers) {
    throw new ConfigError(`${source('defaultReplicationFactor')} ${defaultReplicationFactor} is more than the ${brokers} broker(s) of this cluster`);
  }
  return {
    ...rest,
    listeners,
    interBrokerListener: interBroker,
    controllerListen,
    voters,
    defaultReplicationFactor: defaultReplicationFactor ?? Math.min(3, brokers),
    minInsyncReplicas: minInsyncReplicas ?? (voters && voters.length > 1 ? 2 : 1),
  };
}

function checkVoters(
  nodeId: number,
  voters: readonly Voter[],
  controllerListen: HostPort | null,
  listeners: readonly ListenerConfig[],
  source: (key: keyof FlagValues) => string,
): void {
  const twiceId = duplicate(voters.map((voter) => voter.nodeId));
  if (twiceId !== undefined) throw new ConfigError(`${source('voters')} names node ${twiceId} more than once`);
  const twiceAddress = duplicate(voters.map((voter) => formatHostPort(voter.address)));
  if (twiceAddress) throw new ConfigError(`${source('voters')} gives ${twiceAddress} to more than one node`);
  const self = voters.find((voter) => voter.nodeId === nodeId);
  if (!self) {
    throw new ConfigError(
      `${source('voters')} does not include this node (${source('nodeId')} ${nodeId}); every node runs a voter: give the same list on every node, with this node in it`,
    );
  }
  if (!controllerListen) {
    throw new ConfigError(
      `${source('voters')} needs --controller-listen (or ${envName('controller-listen')}): where this node's controller listens, e.g. 0.0.0.0:${self.address.port}`,
    );
  }
  const hostMatches = controllerListen.host === self.address.host || wildcardHosts.has(controllerListen.host);
  if (controllerListen.port !== self.address.port || !hostMatches) {
    throw new ConfigError(
      `${source('controllerListen')} ${formatHostPort(controllerListen)} does not match this node's voter address ${formatHostPort(self.address)} in ${source('voters')}: other voters would not reach it`,
    );
  }
  const clash = listeners.find((listener) => bindsOverlap(listener.listen, controllerListen));
  if (clash) {
    throw new ConfigError(
      `${source('controllerListen')} ${formatHostPort(controllerListen)} and listener ${clash.name} (${formatHostPort(clash.listen)}) would bind the same port`,
    );
  }
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
