// Single-node metadata: the one writer of the metadata log. Every change is a record that
// is made durable, then applied to the image. The node leads every partition with leader
// epoch 0 and is its only replica until replication arrives.
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../log.js';
import { MetadataImage, type TopicImage } from './metadata-image.js';
import { MetadataLog, type MetadataRecord } from './metadata-log.js';

export const metadataDirName = '__klab_metadata';

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

export class MetadataStore {
  readonly image = new MetadataImage();

  private constructor(private readonly metadataLog: MetadataLog) {}

  static open(dataDir: string, log: Logger): MetadataStore {
    const { metadataLog, records } = MetadataLog.open(path.join(dataDir, metadataDirName), log);
    const store = new MetadataStore(metadataLog);
    for (const record of records) store.image.apply(record);
    if (store.image.clusterId === null) {
      // Kafka cluster ids are a UUID's 16 bytes in URL-safe base64 without padding.
      store.commit({ type: 'cluster', clusterId: randomBytes(16).toString('base64url') });
    }
    return store;
  }

  get clusterId(): string {
    return this.image.clusterId!;
  }

  createTopic(name: string, partitions: number, configs: Record<string, string>): TopicImage {
    this.commit({ type: 'topic', name, topicId: randomUUID(), partitions, configs });
    return this.image.topic(name)!;
  }

  setPartitionCount(topic: TopicImage, partitions: number): void {
    this.commit({ type: 'partitions', topicId: topic.topicId, partitions });
  }

  removeTopic(topic: TopicImage): void {
    this.commit({ type: 'remove-topic', topicId: topic.topicId });
  }

  close(): void {
    this.metadataLog.close();
  }

  private commit(record: MetadataRecord): void {
    this.metadataLog.append(record);
    this.image.apply(record);
  }
}
