// The topic configs this broker supports, as data: name, how to validate a value, and where
// its default comes from (the broker's flags). CreateTopics and DescribeConfigs use this one
// table; anything not listed is rejected by name rather than silently ignored.
import type { BrokerConfig } from '../config.js';

export interface TopicConfigSpec {
  name: string;
  /** Describes a valid value for error messages. */
  expected: string;
  valid(value: string): boolean;
  defaultValue(config: BrokerConfig): string;
  /** The broker-level config name that supplies the default (for DescribeConfigs on the broker). */
  brokerName: string;
}

const longAtLeast = (min: number) => (value: string) => /^-?\d+$/.test(value) && Number(value) >= min;

export const topicConfigSpecs: readonly TopicConfigSpec[] = [
  {
    name: 'retention.ms',
    expected: 'milliseconds, or -1 for no limit',
    valid: longAtLeast(-1),
    defaultValue: (config) => String(config.logRetentionMs),
    brokerName: 'log.retention.ms',
  },
  {
    name: 'retention.bytes',
    expected: 'bytes, or -1 for no limit',
    valid: longAtLeast(-1),
    defaultValue: (config) => String(config.logRetentionBytes),
    brokerName: 'log.retention.bytes',
  },
  {
    name: 'segment.bytes',
    expected: 'bytes ≥ 14',
    valid: (value) => longAtLeast(14)(value) && Number(value) <= 2 ** 31 - 1,
    defaultValue: (config) => String(config.logSegmentBytes),
    brokerName: 'log.segment.bytes',
  },
  {
    name: 'segment.ms',
    expected: 'milliseconds ≥ 1',
    valid: longAtLeast(1),
    defaultValue: () => String(7 * 24 * 3600 * 1000),
    brokerName: 'log.roll.ms',
  },
  {
    name: 'cleanup.policy',
    expected: '"delete" (compaction is not supported)',
    valid: (value) => value === 'delete',
    defaultValue: () => 'delete',
    brokerName: 'log.cleanup.policy',
  },
  {
    name: 'max.message.bytes',
    expected: 'bytes ≥ 0',
    valid: longAtLeast(0),
    defaultValue: (config) => String(Math.min(config.maxFrameBytes, 1048588)),
    brokerName: 'message.max.bytes',
  },
  {
    name: 'message.timestamp.type',
    expected: '"CreateTime" or "LogAppendTime"',
    valid: (value) => value === 'CreateTime' || value === 'LogAppendTime',
    defaultValue: () => 'CreateTime',
    brokerName: 'log.message.timestamp.type',
  },
  {
    name: 'min.insync.replicas',
    expected: '1 (single node)',
    valid: (value) => value === '1',
    defaultValue: () => '1',
    brokerName: 'min.insync.replicas',
  },
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
