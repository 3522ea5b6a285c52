// All partition logs under the broker's data directory, one directory per partition named
// `<topic>-<partition>` (as Kafka names them; a topic may itself contain '-', the partition is
// after the last one). Opening the manager opens and recovers every partition found, so the
// broker serves exactly what is on disk. It also owns the two storage timers: flushing dirty
// logs when fsync is 'interval', and applying retention.
//
// Topic configs live in the controller's metadata; the manager asks for them through its
// `topicConfig` callback whenever it opens a log (or is told a topic's configs changed), and
// logConfigFromTopicConfigs turns Kafka config names into LogConfig.
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { topicConfigSpecs } from '../controller/topic-configs.js';
import { rootLogger, type Logger } from '../log.js';
import { describeOsError, StorageError, StorageErrorCode } from './errors.js';
import { defaultLogConfig, PartitionLog, type LogConfig } from './partition-log.js';

export interface LogManagerOptions {
  dataDir: string;
  /** Broker-wide defaults (log.* settings); topic configs override them. */
  defaults?: LogConfig;
  /** A topic's config overrides, as the metadata holds them now. */
  topicConfig?: (topic: string) => Partial<LogConfig>;
  /** How often dirty logs are fsynced when fsync is 'interval' (default 1000). */
  flushIntervalMs?: number;
  /** How often retention runs (log.retention.check.interval.ms, default 300000). */
  retentionCheckIntervalMs?: number;
  logger?: Logger;
  clock?: () => number;
}

export interface TopicPartitionLog {
  topic: string;
  partition: number;
  log: PartitionLog;
}

const PARTITION_DIR = /^(.+)-(\d+)$/;
const DELETED_DIR_SUFFIX = '.deleted';

export class LogManager {
  private readonly logs = new Map<string, TopicPartitionLog>();
  /** Opens in progress, so concurrent creates of one partition share one log. */
  private readonly opening = new Map<string, Promise<PartitionLog>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly defaults: LogConfig;
  private readonly logger: Logger;
  private readonly clock: () => number;

  private constructor(private readonly options: LogManagerOptions) {
    this.defaults = options.defaults ?? defaultLogConfig;
    this.logger = options.logger ?? rootLogger.child('storage');
    this.clock = options.clock ?? Date.now;
  }

  /** Opens every partition directory in dataDir (recovering each) and starts the timers. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    try {
      await mkdir(options.dataDir, { recursive: true });
      const entries = await readdir(options.dataDir, { withFileTypes: true });
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        if (entry.name.endsWith(DELETED_DIR_SUFFIX)) {
          await rm(join(options.dataDir, entry.name), { recursive: true, force: true });
          continue;
        }
        const match = PARTITION_DIR.exec(entry.name);
        if (!match) continue;
        const topic = match[1]!;
        const partition = Number(match[2]);
        const log = await PartitionLog.open(join(options.dataDir, entry.name), manager.configFor(topic), {
          logger: manager.logger,
          clock: manager.clock,
        });
        manager.logs.set(entry.name, { topic, partition, log });
      }
    } catch (error) {
      await manager.close();
      throw error;
    }
    manager.startTimers();
    return manager;
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionDirName(topic, partition))?.log;
  }

  /** Every open log. */
  all(): TopicPartitionLog[] {
    return [...this.logs.values()];
  }

  /** Opens or creates the log of a partition; an existing log is returned as it is. */
  async create(topic: string, partition: number): Promise<PartitionLog> {
    const name = partitionDirName(topic, partition);
    const existing = this.logs.get(name);
    if (existing) return existing.log;
    const pending = this.opening.get(name);
    if (pending) return pending;
    const opened = PartitionLog.open(join(this.options.dataDir, name), this.configFor(topic), {
      logger: this.logger,
      clock: this.clock,
    })
      .then((log) => {
        this.logs.set(name, { topic, partition, log });
        return log;
      })
      .finally(() => this.opening.delete(name));
    this.opening.set(name, opened);
    return opened;
  }

  /** Reads a topic's configs again through `topicConfig` and applies them to its open logs. */
  reloadTopicConfig(topic: string): void {
    const config = this.configFor(topic);
    for (const entry of this.logs.values()) if (entry.topic === topic) entry.log.updateConfig(config);
  }

  /**
   * Deletes a partition's log. The directory is renamed aside first (so the name can be
   * reused at once, and a crash mid-delete leaves nothing that reopens as a partition).
   */
  async deletePartition(topic: string, partition: number): Promise<void> {
    const name = partitionDirName(topic, partition);
    const entry = this.logs.get(name);
    if (!entry) return;
    this.logs.delete(name);
    // The data is going away: a failing final flush must not keep it on disk.
    await entry.log.close().catch((error: unknown) =>
      this.logger.warn('closing a log being deleted failed', { partition: name, error: describeOsError(error) }),
    );
    const aside = join(this.options.dataDir, `${name}.${this.clock()}${DELETED_DIR_SUFFIX}`);
    try {
      await rename(join(this.options.dataDir, name), aside);
      await rm(aside, { recursive: true, force: true });
    } catch (error) {
      throw new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `deleting the log failed: ${describeOsError(error)}`, {
        partition: name,
        cause: error,
      });
    }
  }

  /** Deletes every partition log of a topic. */
  async deleteTopic(topic: string): Promise<void> {
    for (const entry of this.all()) if (entry.topic === topic) await this.deletePartition(topic, entry.partition);
  }

  /** fsyncs every log with unflushed appends. */
  async flushAll(): Promise<void> {
    await Promise.all(this.all().map(({ log }) => log.flush()));
  }

  /** Runs retention on every log; returns how many segments were deleted. */
  async applyRetention(): Promise<number> {
    let deleted = 0;
    for (const { log } of this.all()) deleted += await log.applyRetention();
    return deleted;
  }

  /** Stops the timers, then flushes and closes every log. */
  async close(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    const entries = this.all();
    this.logs.clear();
    await Promise.all(entries.map(({ log }) => log.close()));
  }

  private configFor(topic: string): LogConfig {
    return { ...this.defaults, ...this.options.topicConfig?.(topic) };
  }

  private startTimers(): void {
    const every = (ms: number, task: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        task().catch((error: unknown) => this.logger.error(`${what} failed`, { error: describeOsError(error) }));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.flushIntervalMs ?? 1000, () => this.flushAll(), 'periodic flush');
    every(this.options.retentionCheckIntervalMs ?? 300_000, () => this.applyRetention(), 'retention');
  }
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Turns a topic's Kafka configs (as CreateTopics / the metadata store hold them) into LogConfig
 * overrides, parsing each with the same rules CreateTopics validates with (topic-configs.ts).
 * Names that are not log settings are ignored; a log setting with a bad value is an
 * INVALID_CONFIG error naming it.
 */
export function logConfigFromTopicConfigs(configs: Readonly<Record<string, string>>): Partial<LogConfig> {
  const result: Record<string, number | string> = {};
  for (const spec of topicConfigSpecs) {
    const text = configs[spec.name];
    if (spec.field === undefined || text === undefined) continue;
    const value = spec.parse(text);
    if (value === undefined) {
      throw new StorageError(
        StorageErrorCode.INVALID_CONFIG,
        `topic config ${spec.name}=${JSON.stringify(text)} is invalid: expected ${spec.expected}`,
      );
    }
    result[spec.field] = value;
  }
  return result as Partial<LogConfig>;
}
