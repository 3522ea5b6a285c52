// The topic configs this broker supports, as data: name, how to parse and validate a value,
// the LogConfig setting it overrides, and the broker-level config that supplies its default.
// CreateTopics, DescribeConfigs (topic and broker), and the log manager (through
// logConfigFromTopicConfigs) all use this one table; anything not listed is rejected by name
// rather than silently ignored.
import type { BrokerConfig } from '../config.js';
import { defaultLogConfig, type LogConfig } from '../storage/partition-log.js';

export interface TopicConfigSpec {
  name: string;
  /** Describes a valid value for error messages. */
  expected: string;
  /** The LogConfig setting this config overrides; none for configs the log does not act on. */
  field?: keyof LogConfig;
  /** The value as `field` holds it, or undefined when the value is invalid. */
  parse(value: string): number | string | undefined;
  valid(value: string): boolean;
  defaultValue(config: BrokerConfig): string;
  /** The broker-level config name that supplies the default (for DescribeConfigs on the broker). */
  brokerName: string;
}

/** The broker-wide log settings from flags; topic configs override them per topic. */
export function logDefaults(config: BrokerConfig): LogConfig {
  return {
    ...defaultLogConfig,
    segmentBytes: config.logSegmentBytes,
    retentionMs: config.logRetentionMs,
    retentionBytes: config.logRetentionBytes,
    maxMessageBytes: Math.min(config.maxFrameBytes, defaultLogConfig.maxMessageBytes),
    fsync: config.fsync,
  };
}

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number | undefined => {
    if (!/^-?\d+$/.test(value)) return undefined;
    const parsed = Number(value);
    return Number.isSafeInteger(parsed) && parsed >= min && parsed <= max ? parsed : undefined;
  };

const oneOf =
  <T extends string>(...choices: T[]) =>
  (value: string): T | undefined =>
    choices.find((choice) => choice === value);

/** A spec whose default is the broker's LogConfig `field`, or `brokerDefault` for one the log does not act on. */
function spec(
  fields: Omit<TopicConfigSpec, 'valid' | 'defaultValue'> & { brokerDefault?: (config: BrokerConfig) => string },
): TopicConfigSpec {
  const { brokerDefault, ...rest } = fields;
  return {
    ...rest,
    valid: (value) => rest.parse(value) !== undefined,
    defaultValue: (config) => brokerDefault?.(config) ?? String(logDefaults(config)[rest.field!]),
  };
}

export const topicConfigSpecs: readonly TopicConfigSpec[] = [
  spec({
    name: 'retention.ms',
    expected: 'milliseconds, or -1 for no limit',
    field: 'retentionMs',
    parse: integer(-1),
    brokerName: 'log.retention.ms',
  }),
  spec({
    name: 'retention.bytes',
    expected: 'bytes, or -1 for no limit',
    field: 'retentionBytes',
    parse: integer(-1),
    brokerName: 'log.retention.bytes',
  }),
  spec({
    name: 'segment.bytes',
    expected: 'bytes ≥ 14',
    field: 'segmentBytes',
    parse: integer(14, 2 ** 31 - 1),
    brokerName: 'log.segment.bytes',
  }),
  spec({
    name: 'segment.ms',
    expected: 'milliseconds ≥ 1',
    field: 'segmentMs',
    parse: integer(1),
    brokerName: 'log.roll.ms',
  }),
  spec({
    name: 'cleanup.policy',
    expected: '"delete" (compaction is not supported)',
    parse: oneOf('delete'),
    brokerDefault: () => 'delete',
    brokerName: 'log.cleanup.policy',
  }),
  spec({
    name: 'max.message.bytes',
    expected: 'bytes ≥ 0',
    field: 'maxMessageBytes',
    parse: integer(0),
    brokerName: 'message.max.bytes',
  }),
  spec({
    name: 'message.timestamp.type',
    expected: '"CreateTime" or "LogAppendTime"',
    field: 'timestampType',
    parse: oneOf('CreateTime', 'LogAppendTime'),
    brokerName: 'log.message.timestamp.type',
  }),
  spec({
    name: 'min.insync.replicas',
    expected: 'an integer ≥ 1 (in-sync replicas an acks=all write needs)',
    parse: integer(1, 32),
    brokerDefault: (config) => String(config.minInsyncReplicas),
    brokerName: 'min.insync.replicas',
  }),
  spec({
    name: 'unclean.leader.election.enable',
    expected: '"true" or "false"',
    parse: oneOf('true', 'false'),
    brokerDefault: (config) => String(config.uncleanLeaderElection),
    brokerName: 'unclean.leader.election.enable',
  }),
];

export const topicConfigSpecByName: ReadonlyMap<string, TopicConfigSpec> = new Map(
  topicConfigSpecs.map((spec) => [spec.name, spec]),
);

/** Returns why a set of topic configs is invalid, or null when every entry is supported and valid. */
export function validateTopicConfigs(configs: Record<string, string>): string | null {
  for (const [name, value] of Object.entries(configs)) {
    const spec = topicConfigSpecByName.get(name);
    if (!spec) return `unsupported topic config "${name}" (supported: ${topicConfigSpecs.map((s) => s.name).join(', ')})`;
    if (!spec.valid(value)) return `topic config ${name}=${JSON.stringify(value)} is invalid: expected ${spec.expected}`;
  }
  return null;
}

export interface EffectiveTopicConfig {
  name: string;
  value: string;
  defaultValue: string;
  overridden: boolean;
}

/** Every supported topic config with its value for a topic with these overrides. */
export function effectiveTopicConfigs(config: BrokerConfig, overrides: Readonly<Record<string, string>>): EffectiveTopicConfig[] {
  return topicConfigSpecs.map((spec) => {
    const defaultValue = spec.defaultValue(config);
    const override = overrides[spec.name];
    return { name: spec.name, value: override ?? defaultValue, defaultValue, overridden: override !== undefined };
  });
}

/** The broker-level defaults of every topic config, under their broker names. */
export function brokerTopicConfigDefaults(config: BrokerConfig): Record<string, string> {
  return Object.fromEntries(topicConfigSpecs.map((spec) => [spec.brokerName, spec.defaultValue(config)]));
}
