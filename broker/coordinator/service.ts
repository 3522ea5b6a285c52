// The coordinator's attachment to the broker: one GroupCoordinator and one ProducerIdManager per
// broker, each created on first use (like Kafka, which creates `__consumer_offsets` when the
// first FindCoordinator arrives, and does not need it to hand out idempotent producer ids). Group records go through the broker's ordinary partition logs, so
// they share the log's durability and recovery, and later its replication: a broker that takes
// over as coordinator rebuilds the same state by replaying the same topic.
import type { Broker } from '../broker.js';
import { describeError, type Logger } from '../log.js';
import { systemClock } from './clock.js';
import { GroupCoordinator, defaultGroupCoordinatorConfig } from './group-coordinator.js';
import { CoordinatorRecordError, decodeCoordinatorRecord } from './offsets-records.js';
import { OFFSETS_TOPIC, OffsetsTopic } from './offsets-topic.js';
import { ProducerIdManager } from './producer-ids.js';

export interface CoordinatorServices {
  readonly groups: GroupCoordinator;
  /** Resolves once `__consumer_offsets` exists and has been replayed (retrying a failed load). */
  ensureLoaded(): Promise<void>;
}

async function loadGroups(topic: OffsetsTopic, groups: GroupCoordinator, log: Logger): Promise<void> {
  const partitions = groups.config.offsetsTopicPartitions;
  await topic.ensureCreated(partitions);
  const records = await topic.replay(partitions, (record, partition, offset) => {
    try {
      groups.replay(decodeCoordinatorRecord(record.key, record.value));
    } catch (error) {
      if (!(error instanceof CoordinatorRecordError)) throw error;
      // One unreadable record must not cost every group its offsets: it is skipped, loudly.
      log.error('skipping an unreadable record', { topic: OFFSETS_TOPIC, partition, offset, reason: error.message });
    }
  });
  groups.finishLoading();
  log.info('group state loaded', { topic: OFFSETS_TOPIC, partitions, records });
}

function createServices(broker: Broker): CoordinatorServices {
  const log = broker.logger.child('coordinator');
  const existing = broker.topic(OFFSETS_TOPIC);
  const offsetsTopic = new OffsetsTopic(broker, log);
  const groups = new GroupCoordinator(
    offsetsTopic,
    {
      partitionExists: (topic, partition) => {
        const image = broker.topic(topic);
        return image !== undefined && partition >= 0 && partition < image.partitions;
      },
    },
    systemClock,
    { warn: (message) => log.warn(message) },
    // An existing topic keeps its partition count: groups must hash to where their records are.
    { ...defaultGroupCoordinatorConfig, offsetsTopicPartitions: existing?.partitions ?? defaultGroupCoordinatorConfig.offsetsTopicPartitions },
  );
  broker.onClose(() => groups.close());

  let loading: Promise<void> | null = null;
  const ensureLoaded = (): Promise<void> => {
    if (!groups.isLoading) return Promise.resolve();
    loading ??= loadGroups(offsetsTopic, groups, log).catch((error: unknown) => {
      loading = null;
      log.error('loading group state failed; the next FindCoordinator retries', {
        reason: describeError(error),
      });
      throw error;
    });
    return loading;
  };
  // Start loading right away; requests meanwhile are answered COORDINATOR_LOAD_IN_PROGRESS.
  ensureLoaded().catch(() => undefined);

  return { groups, ensureLoaded };
}

export function coordinatorServices(broker: Broker): CoordinatorServices {
  return broker.service('coordinator', createServices);
}

/**
 * After a topic is deleted: removes every group's committed offsets for it, durably (see
 * GroupCoordinator.removeTopicOffsets). Without `__consumer_offsets` there are none; otherwise
 * the coordinator is loaded first, so offsets still being replayed are removed too.
 */
export async function forgetCommittedOffsets(broker: Broker, topic: string): Promise<void> {
  if (!broker.topic(OFFSETS_TOPIC)) return;
  const services = coordinatorServices(broker);
  await services.ensureLoaded();
  await services.groups.removeTopicOffsets(topic);
}

/** The broker's producer id allocator, opened on first use (a failed open is retried next time). */
export function producerIdManager(broker: Broker): Promise<ProducerIdManager> {
  const holder = broker.service('producer-ids', () => ({ opening: null as Promise<ProducerIdManager> | null }));
  holder.opening ??= ProducerIdManager.open(broker.config.dataDir).catch((error: unknown) => {
    holder.opening = null;
    throw error;
  });
  return holder.opening;
}

/** Kafka's client host form: "/" and the address the member connected from. */
export function clientHostOf(remote: string): string {
  const at = remote.lastIndexOf(':');
  const host = at > 0 ? remote.slice(0, at) : remote;
  return `/${host.replace(/^\[|\]$/g, '')}`;
}
