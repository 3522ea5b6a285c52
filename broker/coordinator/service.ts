// The coordinator's attachment to the broker: one GroupCoordinator and one ProducerIdManager per
// broker, created on first use (like Kafka, which creates `__consumer_offsets` when the first
// FindCoordinator arrives). Group records go through the broker's ordinary partition logs, so
// they share the log's durability and recovery, and later its replication: a broker that takes
// over as coordinator rebuilds the same state by replaying the same topic.
import type { Broker } from '../broker.js';
import type { Logger } from '../log.js';
import { ErrorCode } from '../protocol/errors.js';
import { buildBatch, decodeRecords, splitBatches } from '../storage/record-batch.js';
import { systemClock } from './clock.js';
import { GroupCoordinator, defaultGroupCoordinatorConfig, type GroupLog } from './group-coordinator.js';
import { CoordinatorRecordError, decodeCoordinatorRecord, type EncodedRecord } from './offsets-records.js';
import { ProducerIdManager } from './producer-ids.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** Offsets and group records must outlive any time or size limit: nothing compacts them yet. */
const offsetsTopicConfigs = { 'retention.ms': '-1', 'retention.bytes': '-1' };
const LOAD_READ_BYTES = 1024 * 1024;

export interface CoordinatorServices {
  readonly groups: GroupCoordinator;
  /** Resolves once `__consumer_offsets` exists and has been replayed (retrying a failed load). */
  ensureLoaded(): Promise<void>;
  producerIds(): Promise<ProducerIdManager>;
}

class OffsetsTopicLog implements GroupLog {
  constructor(private readonly broker: Broker) {}

  async append(partition: number, records: readonly EncodedRecord[]): Promise<void> {
    const log = this.broker.partitionLog(OFFSETS_TOPIC, partition);
    if (!log) {
      throw Object.assign(new Error(`${OFFSETS_TOPIC}-${partition} is not open`), {
        kafkaErrorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      });
    }
    const batch = buildBatch(records.map((record) => ({ key: record.key, value: record.value })));
    await log.append(batch, { leaderEpoch: this.broker.leaderEpoch });
    this.broker.recordAppend(OFFSETS_TOPIC, partition, batch.length, records.length);
  }
}

async function loadOffsetsTopic(broker: Broker, groups: GroupCoordinator, log: Logger): Promise<void> {
  const partitions = groups.config.offsetsTopicPartitions;
  if (!broker.topic(OFFSETS_TOPIC)) await broker.createTopic(OFFSETS_TOPIC, partitions, offsetsTopicConfigs);
  let records = 0;
  for (let partition = 0; partition < partitions; partition++) {
    const partitionLog = broker.partitionLog(OFFSETS_TOPIC, partition);
    if (!partitionLog) throw new Error(`${OFFSETS_TOPIC}-${partition} has no log`);
    let offset = partitionLog.logStartOffset;
    const end = partitionLog.highWatermark;
    while (offset < end) {
      const chunk = await partitionLog.read(offset, LOAD_READ_BYTES);
      const batches = splitBatches(chunk, { partition: `${OFFSETS_TOPIC}-${partition}` });
      if (batches.length === 0) break;
      for (const batch of batches) {
        if (!batch.isControl) {
          for (const record of decodeRecords(batch)) {
            if (record.offset < offset) continue;
            try {
              groups.replay(decodeCoordinatorRecord(record.key, record.value));
              records++;
            } catch (error) {
              if (!(error instanceof CoordinatorRecordError)) throw error;
              // One unreadable record must not cost every group its offsets: it is skipped, loudly.
              log.error('skipping an unreadable record', { partition, offset: record.offset, reason: error.message });
            }
          }
        }
        offset = batch.nextOffset;
      }
    }
  }
  groups.finishLoading();
  log.info('group state loaded', { topic: OFFSETS_TOPIC, partitions, records });
}

function createServices(broker: Broker): CoordinatorServices {
  const log = broker.log.child('coordinator');
  const existing = broker.topic(OFFSETS_TOPIC);
  const groups = new GroupCoordinator(
    new OffsetsTopicLog(broker),
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
    loading ??= loadOffsetsTopic(broker, groups, log).catch((error: unknown) => {
      loading = null;
      log.error('loading group state failed; will retry on the next request', {
        reason: error instanceof Error ? error.message : String(error),
      });
      throw error;
    });
    return loading;
  };
  // Start loading right away; requests meanwhile are answered COORDINATOR_LOAD_IN_PROGRESS.
  ensureLoaded().catch(() => undefined);

  let producerIds: Promise<ProducerIdManager> | null = null;
  return {
    groups,
    ensureLoaded,
    producerIds: () => {
      producerIds ??= ProducerIdManager.open(broker.config.dataDir).catch((error: unknown) => {
        producerIds = null;
        throw error;
      });
      return producerIds;
    },
  };
}

export function coordinatorServices(broker: Broker): CoordinatorServices {
  return broker.service('coordinator', createServices);
}

/** Kafka's client host form: "/" and the address the member connected from. */
export function clientHostOf(remote: string): string {
  const at = remote.lastIndexOf(':');
  const host = at > 0 ? remote.slice(0, at) : remote;
  return `/${host.replace(/^\[|\]$/g, '')}`;
}
