// The Broker owns the node's state — metadata store, partition logs, and the services later
// parts add (group coordinator …) — and turns each request frame into a response: decode the
// header, find the handler, decode the body at the requested version, run the handler, encode
// its response. A frame that cannot be decoded closes only its own connection (the thrown
// error's message is the logged reason); stored data is never touched by a bad request.
import { performance } from 'node:perf_hooks';
import type { BrokerConfig, HostPort } from './config.js';
import { formatHostPort } from './config.js';
import type { TopicImage } from './controller/metadata-image.js';
import { invalidTopicNameReason, isInternalTopic, MetadataStore } from './controller/metadata-store.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { brokerTopicConfigDefaults, logDefaults, topicConfigSpecs } from './controller/topic-configs.js';
import { apiVersionsBody } from './handlers/18-api-versions.js';
import { handlersByKey } from './handlers/index.js';
import { CloseConnectionError, type AnyApiHandler, type RequestContext } from './handlers/types.js';
import { describeError, type Logger } from './log.js';
import type { BrokerMetrics } from './metrics/broker-metrics.js';
import type { ConnectionInfo, FrameHandler, ResponseFrame } from './net/connection.js';
import { decodeMessage, Reader } from './protocol/codec.js';
import { ErrorCode, errorName } from './protocol/errors.js';
import { apiVersionsApi } from './protocol/apis/18-api-versions.js';
import { decodeRequestHeader, encodeResponse, type RequestHeader } from './protocol/header.js';
import type { ApiDefinition } from './protocol/schema.js';
import type { StorageError } from './storage/errors.js';
import { LogManager, logConfigFromTopicConfigs, partitionDirName } from './storage/log-manager.js';
import type { PartitionLog } from './storage/partition-log.js';

interface AppendWaiter {
  wake(): void;
}

export interface EffectiveTopicConfig {
  name: string;
  value: string;
  defaultValue: string;
  overridden: boolean;
}

/** The handler table is fixed, so ApiVersions answers from one sorted list. */
const handledApis: readonly ApiDefinition[] = [...handlersByKey.values()].map((handler) => handler.api).sort((a, b) => a.key - b.key);

export class Broker implements FrameHandler {
  /** Leader epoch of every partition: fixed at 0 until replication elects leaders. */
  readonly leaderEpoch = 0;
  ready = false;
  shuttingDown = false;
  private advertised: HostPort;
  private readonly creating = new Map<string, Promise<TopicImage>>();
  private readonly appendCounts = new Map<string, number>();
  private readonly waitersByKey = new Map<string, Set<AppendWaiter>>();
  private readonly waiters = new Set<AppendWaiter>();
  private readonly services = new Map<string, unknown>();
  private readonly closeHooks: Array<() => Promise<void> | void> = [];

  private constructor(
    private readonly dataDirLock: DataDirLock,
    readonly config: BrokerConfig,
    readonly metadata: MetadataStore,
    readonly logs: LogManager,
    readonly logger: Logger,
    readonly metrics: BrokerMetrics,
  ) {
    this.advertised = config.advertise ?? config.listen;
    metrics.watchLogEndOffsets(() =>
      this.logs.all().map(({ topic, partition, log }) => [{ topic, partition: String(partition) }, log.logEndOffset]),
    );
  }

  /** Loads metadata, opens (recovering) every partition log, and reconciles the two. */
  static async open(config: BrokerConfig, log: Logger, metrics: BrokerMetrics): Promise<Broker> {
    const dataDirLock = lockDataDir(config.dataDir, log);
    const metadata = MetadataStore.open(config.dataDir, log.child('metadata'));
    const logs = await LogManager.open({
      dataDir: config.dataDir,
      defaults: logDefaults(config),
      topicConfig: (topic) => logConfigFromTopicConfigs(metadata.image.topic(topic)?.configs ?? {}),
      flushIntervalMs: config.fsyncIntervalMs,
      logger: log.child('storage'),
    });
    const broker = new Broker(dataDirLock, config, metadata, logs, log, metrics);
    await broker.reconcile();
    log.info('broker state loaded', {
      nodeId: config.nodeId,
      clusterId: metadata.clusterId,
      topics: [...metadata.image.topics()].length,
      partitions: logs.all().length,
      dataDir: config.dataDir,
    });
    return broker;
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  get advertisedAddress(): HostPort {
    return this.advertised;
  }

  setAdvertisedAddress(address: HostPort): void {
    this.advertised = address;
    this.logger.info(`advertising ${formatHostPort(address)}`);
  }

  // ---- requests --------------------------------------------------------------------------

  handleFrame(frame: Buffer, connection: ConnectionInfo): ResponseFrame | Promise<ResponseFrame> {
    const started = performance.now();
    const reader = new Reader(frame);
    let header: RequestHeader;
    try {
      header = decodeRequestHeader(reader);
    } catch (error) {
      throw new Error(`malformed request header (${frame.length}-byte frame): ${describeError(error)}`);
    }
    const { apiKey, apiVersion, correlationId } = header;
    const handler = handlersByKey.get(apiKey);
    if (!handler) throw new Error(`unknown api key ${apiKey} (version ${apiVersion}, correlation id ${correlationId})`);
    const api = handler.api;
    if (apiVersion > api.maxVersion) {
      if (apiKey === apiVersionsApi.key) {
        // Kafka's answer to a too-new ApiVersions: the v0 form with the list, so the client retries lower.
        return encodeResponse(api, 0, correlationId, apiVersionsBody(this, ErrorCode.UNSUPPORTED_VERSION));
      }
      throw new Error(`${api.name} (api key ${apiKey}) v${apiVersion} is newer than the supported v${api.maxVersion}`);
    }
    let request: unknown;
    try {
      request = decodeMessage(api.request, apiVersion, reader);
    } catch (error) {
      throw new Error(`malformed ${api.name} (api key ${apiKey}) v${apiVersion} request: ${describeError(error)}`);
    }
    const context: RequestContext = { broker: this, apiVersion, correlationId, clientId: header.clientId, connection };
    this.metrics.requests.inc({ api: api.name });
    if (apiVersion < api.minVersion) {
      return this.finish(handler, request, context, started, handler.errorResponse(request as never, ErrorCode.UNSUPPORTED_VERSION));
    }
    let outcome: unknown;
    try {
      outcome = handler.handle(request as never, context);
    } catch (error) {
      outcome = this.unexpectedFailure(handler, request, context, error);
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (response: unknown) => this.finish(handler, request, context, started, response),
        (error: unknown) =>
          this.finish(handler, request, context, started, this.unexpectedFailure(handler, request, context, error)),
      );
    }
    return this.finish(handler, request, context, started, outcome);
  }

  private unexpectedFailure(handler: AnyApiHandler, request: unknown, context: RequestContext, error: unknown): unknown {
    if (error instanceof CloseConnectionError) throw error;
    this.logger.error('request failed unexpectedly', {
      api: handler.api.name,
      version: context.apiVersion,
      remote: context.connection.remote,
      reason: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return handler.errorResponse(request as never, ErrorCode.UNKNOWN_SERVER_ERROR);
  }

  private finish(
    handler: AnyApiHandler,
    request: unknown,
    context: RequestContext,
    started: number,
    response: unknown,
  ): ResponseFrame {
    const api: ApiDefinition = handler.api;
    this.metrics.requestSeconds.observe({ api: api.name }, (performance.now() - started) / 1000);
    if (handler.expectsResponse && !handler.expectsResponse(request as never)) return null;
    return encodeResponse(api, context.apiVersion, context.correlationId, response as never);
  }

  /** Every API this broker answers, for ApiVersions. */
  handledApis(): readonly ApiDefinition[] {
    return handledApis;
  }

  // ---- topics and partitions -----------------------------------------------------------------

  /** A topic whose partition logs are all open (a topic being created is not yet visible here). */
  topic(name: string): TopicImage | undefined {
    return this.creating.has(name) ? undefined : this.metadata.image.topic(name);
  }

  partitionKey(topic: string, partition: number): string {
    return partitionDirName(topic, partition);
  }

  partitionLog(topic: string, partition: number): PartitionLog | undefined {
    if (this.creating.has(topic)) return undefined;
    return this.logs.get(topic, partition);
  }

  /**
   * Creates a topic durably in metadata, then its partition logs. A topic that exists or is
   * being created already is returned as it is, so racing creators get the same topic.
   */
  createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<TopicImage> {
    const pending = this.creating.get(name);
    if (pending) return pending;
    const existing = this.metadata.image.topic(name);
    if (existing) return Promise.resolve(existing);
    const topic = this.metadata.createTopic(name, partitions, configs);
    const created = (async () => {
      try {
        await this.openPartitions(topic, 0);
        this.logger.info('topic created', { topic: name, topicId: topic.topicId, partitions });
        return topic;
      } finally {
        this.creating.delete(name);
      }
    })();
    this.creating.set(name, created);
    return created;
  }

  /**
   * The topic for a write or metadata request naming a topic that does not exist: created with
   * the default partition count when auto-creation is on, else the error code to answer.
   * Internal topics are never created this way: their owner gives them their shape (a
   * `__consumer_offsets` with the default partition count would put groups on the wrong partitions).
   */
  async autoCreateTopic(name: string): Promise<TopicImage | number> {
    const pending = this.creating.get(name);
    if (pending) return pending;
    const existing = this.metadata.image.topic(name);
    if (existing) return existing;
    if (invalidTopicNameReason(name)) return ErrorCode.INVALID_TOPIC_EXCEPTION;
    if (!this.config.autoCreateTopics || isInternalTopic(name)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    try {
      return await this.createTopic(name, this.config.defaultPartitions, {});
    } catch (error) {
      this.logger.error('auto-creating a topic failed', { topic: name, reason: describeError(error) });
      return ErrorCode.KAFKA_STORAGE_ERROR;
    }
  }

  async deleteTopic(topic: TopicImage): Promise<void> {
    this.metadata.removeTopic(topic);
    await this.logs.deleteTopic(topic.name);
    for (let partition = 0; partition < topic.partitions; partition++) {
      const key = this.partitionKey(topic.name, partition);
      this.appendCounts.delete(key);
      this.wake(key);
    }
    this.logger.info('topic deleted', { topic: topic.name, topicId: topic.topicId });
  }

  async addPartitions(topic: TopicImage, count: number): Promise<void> {
    const previous = topic.partitions;
    this.metadata.setPartitionCount(topic, count);
    await this.openPartitions(topic, previous);
    this.logger.info('partitions added', { topic: topic.name, from: previous, to: count });
  }

  /** Every supported topic config with its value for a topic with these overrides. */
  effectiveTopicConfigs(overrides: Record<string, string>): EffectiveTopicConfig[] {
    return topicConfigSpecs.map((spec) => {
      const defaultValue = spec.defaultValue(this.config);
      const override = overrides[spec.name];
      return { name: spec.name, value: override ?? defaultValue, defaultValue, overridden: override !== undefined };
    });
  }

  /** The broker's settings under Kafka's names, as DescribeConfigs shows them. */
  brokerConfigs(): Record<string, string> {
    const config = this.config;
    return {
      'node.id': String(config.nodeId),
      'broker.id': String(config.nodeId),
      listeners: `PLAINTEXT://${formatHostPort(config.listen)}`,
      'advertised.listeners': `PLAINTEXT://${formatHostPort(this.advertised)}`,
      'log.dirs': config.dataDir,
      ...brokerTopicConfigDefaults(config),
      'log.flush.interval.ms': config.fsync === 'always' ? '0' : String(config.fsyncIntervalMs),
      'log.flush.interval.messages': config.fsync === 'always' ? '1' : String(2n ** 63n - 1n),
      'auto.create.topics.enable': String(config.autoCreateTopics),
      'num.partitions': String(config.defaultPartitions),
      'default.replication.factor': '1',
      'socket.request.max.bytes': String(config.maxFrameBytes),
    };
  }

  leaderEpochError(requestedEpoch: number): number {
    if (requestedEpoch === -1 || requestedEpoch === this.leaderEpoch) return ErrorCode.NONE;
    return requestedEpoch > this.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
  }

  // ---- appends and long polls -----------------------------------------------------------------

  /** Counts an append (metrics) and wakes fetches waiting on that partition. */
  recordAppend(topic: string, partition: number, bytes: number, records: number): void {
    const key = this.partitionKey(topic, partition);
    this.appendCounts.set(key, (this.appendCounts.get(key) ?? 0) + 1);
    this.metrics.producedBytes.inc({ topic }, bytes);
    this.metrics.producedRecords.inc({ topic }, records);
    this.wake(key);
  }

  recordFetch(topic: string, bytes: number): void {
    this.metrics.fetchedBytes.inc({ topic }, bytes);
  }

  appendCount(key: string): number {
    return this.appendCounts.get(key) ?? 0;
  }

  /**
   * Resolves when any watched partition has been appended to since its count was taken, or
   * after `timeoutMs`, or at shutdown — whichever comes first.
   */
  waitForAppend(watched: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
    for (const [key, count] of watched) if (this.appendCount(key) !== count) return Promise.resolve();
    if (this.shuttingDown) return Promise.resolve();
    return new Promise((resolve) => {
      const keys = [...watched.keys()];
      const waiter: AppendWaiter = {
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          for (const key of keys) this.waitersByKey.get(key)?.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      this.waiters.add(waiter);
      for (const key of keys) {
        let waiters = this.waitersByKey.get(key);
        if (!waiters) this.waitersByKey.set(key, (waiters = new Set()));
        waiters.add(waiter);
      }
    });
  }

  private wake(key: string): void {
    const waiters = this.waitersByKey.get(key);
    if (!waiters) return;
    this.waitersByKey.delete(key);
    for (const waiter of waiters) waiter.wake();
  }

  reportStorageError(operation: string, error: StorageError): void {
    this.metrics.storageErrors.inc({ operation, error: errorName(error.kafkaErrorCode) });
    if (error.kafkaErrorCode === ErrorCode.KAFKA_STORAGE_ERROR) {
      this.logger.error('storage error', { operation, partition: error.partition, reason: error.message });
    } else {
      this.logger.debug('request rejected by storage', { operation, partition: error.partition, reason: error.message });
    }
  }

  // ---- services and lifecycle ----------------------------------------------------------------

  /**
   * A per-broker singleton created on first use (e.g. the group coordinator), so parts added
   * later attach their state to the broker without the broker knowing their types.
   */
  service<T>(name: string, create: (broker: Broker) => T): T {
    if (!this.services.has(name)) this.services.set(name, create(this));
    return this.services.get(name) as T;
  }

  /** Runs at close, before the logs are flushed and closed (newest hook first). */
  onClose(hook: () => Promise<void> | void): void {
    this.closeHooks.unshift(hook);
  }

  /** Stops long polls from waiting, so in-flight fetches answer now. */
  beginShutdown(): void {
    this.shuttingDown = true;
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  async close(): Promise<void> {
    this.beginShutdown();
    for (const hook of this.closeHooks) {
      try {
        await hook();
      } catch (error) {
        this.logger.error('close hook failed', { reason: describeError(error) });
      }
    }
    await this.logs.close();
    this.metadata.close();
    this.dataDirLock.release();
  }

  // ---- startup -----------------------------------------------------------------------------

  private async openPartitions(topic: TopicImage, from: number): Promise<void> {
    for (let partition = from; partition < topic.partitions; partition++) {
      await this.logs.create(topic.name, partition);
    }
  }

  /**
   * Makes disk and metadata agree after a crash: partitions the metadata has but the disk
   * lacks are created (a crash during topic creation); leftovers of removed topics are
   * deleted (a crash during deletion); partition directories of topics the metadata never
   * knew are adopted as topics rather than deleted, so data is never lost to a missing record.
   */
  private async reconcile(): Promise<void> {
    const image = this.metadata.image;
    const found = new Map<string, number>();
    for (const { topic, partition } of this.logs.all()) {
      const known = image.topic(topic);
      if (known && partition < known.partitions) continue;
      if (known) {
        this.logger.warn('keeping a partition log beyond the topic\'s partition count untouched', { topic, partition });
        continue;
      }
      if (image.removedTopicNames.has(topic)) {
        this.logger.warn('removing leftover partition log', { topic, partition });
        await this.logs.deletePartition(topic, partition);
        continue;
      }
      found.set(topic, Math.max(found.get(topic) ?? 0, partition + 1));
    }
    for (const [topic, partitions] of found) {
      this.logger.warn('adopting partition logs missing from the metadata log', { topic, partitions });
      this.metadata.createTopic(topic, partitions, {});
    }
    for (const topic of image.topics()) {
      try {
        await this.openPartitions(topic, 0);
      } catch (error) {
        // One partition the disk cannot hold now must not keep the others offline.
        this.logger.error('cannot create a missing partition log; it stays unavailable', {
          topic: topic.name,
          reason: describeError(error),
        });
      }
    }
  }
}
