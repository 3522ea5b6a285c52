// The in-memory metadata image: cluster id and topics, built only by applying metadata
// records in log order. Handlers read it; changes go through MetadataStore, which appends a
// record first and then applies it, so the image is always what the log says.
import type { MetadataRecord } from './metadata-log.js';

export interface TopicImage {
  name: string;
  /** UUID text form (8-4-4-4-12). */
  topicId: string;
  partitions: number;
  configs: Record<string, string>;
}

export class MetadataImage {
  clusterId: string | null = null;
  private readonly byName = new Map<string, TopicImage>();
  private readonly byId = new Map<string, TopicImage>();
  /** Names of topics the log removed (and did not create again): their leftover data may go. */
  readonly removedTopicNames = new Set<string>();

  topic(name: string): TopicImage | undefined {
    return this.byName.get(name);
  }

  topicById(topicId: string): TopicImage | undefined {
    return this.byId.get(topicId);
  }

  topics(): IterableIterator<TopicImage> {
    return this.byName.values();
  }

  apply(record: MetadataRecord): void {
    switch (record.type) {
      case 'cluster':
        this.clusterId = record.clusterId;
        return;
      case 'topic': {
        const topic: TopicImage = {
          name: record.name,
          topicId: record.topicId,
          partitions: record.partitions,
          configs: { ...record.configs },
        };
        this.byName.set(topic.name, topic);
        this.byId.set(topic.topicId, topic);
        this.removedTopicNames.delete(topic.name);
        return;
      }
      case 'partitions': {
        const topic = this.byId.get(record.topicId);
        if (topic) topic.partitions = record.partitions;
        return;
      }
      case 'remove-topic': {
        const topic = this.byId.get(record.topicId);
        if (topic) {
          this.byId.delete(topic.topicId);
          this.byName.delete(topic.name);
          this.removedTopicNames.add(topic.name);
        }
        return;
      }
    }
  }
}
