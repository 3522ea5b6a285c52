// The broker assembled: the data dir lock and identity, the partition logs, the metadata
// quorum (a quorum of one when the broker runs alone), the controller that acts while this node
// leads it, and the services over them, created in dependency order at startup and closed in
// reverse. Each piece of state has one owner (see README.md); nothing here handles requests:
// main.ts puts a request dispatcher over `services` and the listeners in front of that.
import path from 'node:path';
import type { BrokerConfig } from './config.js';
import { BrokerLifecycle } from './controller/broker-lifecycle.js';
import { ClusterMetadataApplier } from './controller/cluster/applier.js';
import type { ListenerEndpoint } from './controller/cluster/image.js';
import { ControllerChannel } from './controller/controller-channel.js';
import { MetadataService } from './controller/metadata-service.js';
import { QuorumController } from './controller/quorum-controller.js';
import { QuorumDriver } from './controller/quorum/driver.js';
import { logDefaults } from './controller/topic-configs.js';
import { GroupService } from './coordinator/group-service.js';
import { ProducerIdService } from './coordinator/producer-ids.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import type { BrokerServices } from './handlers/types.js';
import { describeError, type Logger } from './log.js';
import { loadDataDirIdentity } from './meta-properties.js';
import type { BrokerMetrics } from './metrics/broker-metrics.js';
import { ReplicaManager } from './replication/replica-manager.js';
import { LogManager, logConfigFromTopicConfigs } from './storage/log-manager.js';

/** The metadata quorum's directory inside the data dir (no partition log can have this name). */
export const quorumDirName = '__klab_quorum';

export class Broker {
  private readonly started: Promise<void>;
  private markStarted!: () => void;

  private constructor(
    private readonly dataDirLock: DataDirLock,
    private readonly quorum: QuorumDriver,
    private readonly controller: QuorumController,
    private readonly channel: ControllerChannel,
    private readonly lifecycle: BrokerLifecycle,
    readonly services: BrokerServices,
  ) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  /** Opens (recovering) every partition log and the metadata quorum, and catches up with the metadata. */
  static async open(config: BrokerConfig, log: Logger, metrics: BrokerMetrics): Promise<Broker> {
    const dataDirLock = lockDataDir(config.dataDir, log);
    const alone = config.voters === null;
    const identity = await loadDataDirIdentity(config.dataDir, { nodeId: config.nodeId, clusterId: config.clusterId, alone });
    const applier = new ClusterMetadataApplier();
    const logs = await LogManager.open({
      dataDir: config.dataDir,
      defaults: logDefaults(config),
      topicConfig: (topic) => logConfigFromTopicConfigs(applier.image.topicConfigs(topic)),
      flushIntervalMs: config.fsyncIntervalMs,
      logger: log.child('storage'),
    });
    const quorum = await QuorumDriver.start({
      nodeId: config.nodeId,
      clusterId: identity.clusterId,
      voters: new Map(
        config.voters
          ? config.voters.map((voter) => [voter.nodeId, voter.address] as const)
          : [[config.nodeId, { host: '127.0.0.1', port: 1 }] as const],
      ),
      listen: config.voters ? config.controllerListen : null,
      dataDir: path.join(config.dataDir, quorumDirName),
      logger: log.child('quorum'),
      applier,
    });
    const controller = new QuorumController(
      config.nodeId,
      identity.clusterId,
      quorum,
      applier,
      {
        defaults: { uncleanLeaderElection: config.uncleanLeaderElection },
        sessionTimeoutMs: config.brokerSessionTimeoutMs,
        leaderRebalanceIntervalMs: config.autoLeaderRebalance ? 5_000 : 0,
      },
      log.child('controller'),
    );
    const replicas = new ReplicaManager(
      logs,
      {
        nodeId: config.nodeId,
        dataDir: config.dataDir,
        interBrokerListener: config.interBrokerListener,
        replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
        minInsyncReplicas: config.minInsyncReplicas,
      },
      metrics,
      log.child('replicas'),
    );
    const channel = new ControllerChannel(config.nodeId, controller, () => applier.image, config.interBrokerListener, log.child('controller-channel'));
    const metadata = new MetadataService(config, identity.clusterId, quorum, applier, channel, replicas, log);
    replicas.connectController((change) => metadata.alterIsr(change));
    const lifecycle = new BrokerLifecycle(
      {
        nodeId: config.nodeId,
        clusterId: identity.clusterId,
        heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
        requestTimeoutMs: Math.max(config.brokerSessionTimeoutMs, 1000),
      },
      channel,
      () => quorum.status().appliedIndex,
      log.child('lifecycle'),
    );
    const services: BrokerServices = {
      config,
      metadata,
      replicas,
      controller,
      groups: new GroupService(metadata, replicas, log.child('coordinator')),
      producerIds: new ProducerIdService({
        nodeId: config.nodeId,
        dataDir: config.dataDir,
        channel,
        brokerEpoch: () => lifecycle.epoch,
        logger: log.child('producer-ids'),
      }),
      logger: log,
    };
    log.info('broker state loaded', {
      nodeId: config.nodeId,
      clusterId: identity.clusterId,
      voters: config.voters ? config.voters.map((voter) => voter.nodeId).join(',') : 'none (alone)',
      topics: applier.image.topics().length,
      partitionLogs: replicas.allLogs().length,
      dataDir: config.dataDir,
    });
    return new Broker(dataDirLock, quorum, controller, channel, lifecycle, services);
  }

  /**
   * Registers this broker with the controller at its listeners' advertised addresses and keeps
   * it registered. Once it is unfenced and caught up, its replicas take their roles from the
   * metadata, and a broker alone adopts partition logs its metadata does not know.
   */
  async start(listeners: readonly ListenerEndpoint[]): Promise<void> {
    this.lifecycle.start(listeners);
    await this.lifecycle.whenReady();
    await this.services.metadata.startPublishing();
    await this.services.metadata.adoptOrphanLogs(this.services.config.voters === null);
    this.markStarted();
  }

  /**
   * Calls `listener` if the metadata quorum stops (its disk failed, e.g. full): the broker can
   * no longer follow the cluster's metadata and must stop, as Kafka halts on a metadata log
   * failure; a supervisor restarts it once the disk is fixed.
   */
  onFatal(listener: (error: Error) => void): void {
    this.quorum.subscribe((event) => {
      if (event.kind === 'failed') listener(event.error);
    });
  }

  /** Resolves once start() has finished: the broker may serve requests. */
  whenStarted(): Promise<void> {
    return this.started;
  }

  /** Registered, caught up with the metadata and unfenced: /readyz. */
  get ready(): boolean {
    return this.lifecycle.ready;
  }

  /** Asks the controller to fence this broker and waits (bounded) until its leaderships have moved. */
  async controlledShutdown(): Promise<void> {
    if (this.services.config.voters !== null) await this.lifecycle.shutdown();
  }

  /** Stops long polls from waiting, so in-flight fetches answer now. */
  beginShutdown(): void {
    this.services.replicas.beginShutdown();
  }

  /**
   * Stops heartbeating, the group coordinator, the fetchers and the logs, then hands over the
   * metadata leadership if it has it and closes the quorum.
   */
  async close(): Promise<void> {
    const { groups, replicas, logger } = this.services;
    this.lifecycle.stop();
    replicas.beginShutdown();
    try {
      groups.close();
    } catch (error) {
      // The logs below must still be flushed and closed.
      logger.error('closing the group coordinator failed', { reason: describeError(error) });
    }
    await replicas.close();
    this.channel.close();
    this.controller.close();
    await this.quorum.close();
    this.dataDirLock.release();
  }
}
