// Topic names as Kafka allows them, and the topics Kafka itself treats as internal.

const maxTopicNameLength = 249;

/** Why a topic name is not legal in Kafka, or null when it is. */
export function invalidTopicNameReason(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name "${name}" is not allowed`;
  if (name.length > maxTopicNameLength) return `topic name is longer than ${maxTopicNameLength} characters`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name "${name}" has characters other than ASCII letters, digits, '.', '_' and '-'`;
  return null;
}

/**
 * Topics Kafka itself marks internal. The broker part that owns one creates and writes it
 * (the group coordinator: `__consumer_offsets`, with its own partition count); clients may
 * read them but not produce to, auto-create, delete or grow them.
 */
const internalTopicNames: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state']);

export function isInternalTopic(name: string): boolean {
  return internalTopicNames.has(name);
}
