// The broker assembled: the data dir lock, the metadata, the partition logs and the services
// over them, created in dependency order at startup and closed in reverse. Each piece of
// state has one owner (see README.md); nothing here handles requests: main.ts puts a request
// dispatcher over `services` and the listener in front of that.
import type { BrokerConfig } from './config.js';
import { MetadataService } from './controller/metadata-service.js';
import { MetadataStore } from './controller/metadata-store.js';
import { logDefaults } from './controller/topic-configs.js';
import { GroupService } from './coordinator/group-service.js';
import { ProducerIdService } from './coordinator/producer-ids.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import type { BrokerServices } from './handlers/types.js';
import { describeError, type Logger } from './log.js';
import type { BrokerMetrics } from './metrics/broker-metrics.js';
import { ReplicaManager } from './replication/replica-manager.js';
import { LogManager, logConfigFromTopicConfigs } from './storage/log-manager.js';

export class Broker {
  private constructor(
    private readonly dataDirLock: DataDirLock,
    private readonly store: MetadataStore,
    readonly services: BrokerServices,
  ) {}

  /** Loads metadata, opens (recovering) every partition log, and reconciles the two. */
  static async open(config: BrokerConfig, log: Logger, metrics: BrokerMetrics): Promise<Broker> {
    const dataDirLock = lockDataDir(config.dataDir, log);
    const store = MetadataStore.open(config.dataDir, log.child('metadata'));
    const logs = await LogManager.open({
      dataDir: config.dataDir,
      defaults: logDefaults(config),
      topicConfig: (topic) => logConfigFromTopicConfigs(store.image.topic(topic)?.configs ?? {}),
      flushIntervalMs: config.fsyncIntervalMs,
      logger: log.child('storage'),
    });
    const replicas = new ReplicaManager(logs, metrics, log);
    const metadata = new MetadataService(config, store, replicas, log);
    await metadata.reconcile();
    const services: BrokerServices = {
      config,
      metadata,
      replicas,
      groups: new GroupService(metadata, replicas, log.child('coordinator')),
      producerIds: new ProducerIdService(config.dataDir),
      logger: log,
    };
    log.info('broker state loaded', {
      nodeId: config.nodeId,
      clusterId: metadata.clusterId,
      topics: [...metadata.topics()].length,
      partitions: replicas.allLogs().length,
      dataDir: config.dataDir,
    });
    return new Broker(dataDirLock, store, services);
  }

  /** Stops long polls from waiting, so in-flight fetches answer now. */
  beginShutdown(): void {
    this.services.replicas.beginShutdown();
  }

  /** Stops the group coordinator, then flushes and closes the logs, the metadata and the lock. */
  async close(): Promise<void> {
    const { groups, replicas, logger } = this.services;
    replicas.beginShutdown();
    try {
      groups.close();
    } catch (error) {
      // The logs below must still be flushed and closed.
      logger.error('closing the group coordinator failed', { reason: describeError(error) });
    }
    await replicas.close();
    this.store.close();
    this.dataDirLock.release();
  }
}
