// A follower's copy loop to one leader broker, as Kafka's ReplicaFetcherThread: one connection
// and one Fetch at a time for every partition this broker follows on that leader. A partition
// that has just become a follower first asks the leader where their logs diverge
// (OffsetForLeaderEpoch, KIP-101 with KIP-279's refinement) and drops its own tail from
// there, so records a deposed leader wrote but never committed go away. Fetched batches are
// appended exactly as the leader stored them, and the leader's high watermark and log start
// offset are taken.
// A response for a partition whose leader epoch or log end changed while it was in flight is
// dropped: the partition's new state decides what happens next.
import type { HostPort } from '../config.js';
import { describeError, type Logger } from '../log.js';
import { KafkaClient } from '../net/kafka-client.js';
import { fetchApi } from '../protocol/apis/01-fetch.js';
import { offsetForLeaderEpochApi } from '../protocol/apis/23-offset-for-leader-epoch.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { Partition } from './partition.js';

export interface FetcherHost {
  readonly selfId: number;
  readonly logger: Logger;
  /** The leader's inter-broker address from the metadata image, or null while it has none. */
  endpoint(brokerId: number): HostPort | null;
  /** Records were copied into `partition`'s log: long polls on it look again. */
  followerAppended(partition: Partition): void;
}

const fetchVersion = 12;
const offsetForLeaderEpochVersion = 3;
const fetchMaxWaitMs = 500;
const fetchMaxBytes = 16 * 1024 * 1024;
const partitionMaxBytes = 4 * 1024 * 1024;
const retryBackoffMs = 100;
/** A failure of the same kind is logged once per this long, not on every retry. */
const repeatedFailureLogMs = 10_000;

export class ReplicaFetcher {
  private readonly partitions = new Map<string, Partition>();
  private client: KafkaClient | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private lastFailure = '';
  private lastFailureLoggedAt = 0;

  constructor(
    readonly leaderId: number,
    private readonly host: FetcherHost,
  ) {}

  get size(): number {
    return this.partitions.size;
  }

  add(partition: Partition): void {
    this.partitions.set(partition.key, partition);
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
  }

  remove(partition: Partition): void {
    if (this.partitions.get(partition.key) === partition) this.partitions.delete(partition.key);
  }

  /** Stops the loop and closes the connection; resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.client?.close();
    this.client = null;
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.partitions.size > 0) {
      try {
        const client = await this.connect();
        await this.truncateDiverged(client);
        if (!(await this.fetchOnce(client))) await sleep(retryBackoffMs);
      } catch (error) {
        this.client?.close();
        this.client = null;
        this.noteFailure(describeError(error));
        await sleep(retryBackoffMs);
      }
    }
    this.client?.close();
    this.client = null;
  }

  private async connect(): Promise<KafkaClient> {
    if (this.client && !this.client.closed) return this.client;
    const address = this.host.endpoint(this.leaderId);
    if (!address) throw new Error(`leader ${this.leaderId} has no inter-broker address in the metadata yet`);
    this.client = await KafkaClient.connect(address, { clientId: `klab-broker-${this.host.selfId}`, connectTimeoutMs: 2000, requestTimeoutMs: fetchMaxWaitMs + 5000 });
    return this.client;
  }

  private noteFailure(reason: string): void {
    const now = Date.now();
    if (reason === this.lastFailure && now - this.lastFailureLoggedAt < repeatedFailureLogMs) return;
    this.lastFailure = reason;
    this.lastFailureLoggedAt = now;
    this.host.logger.warn('fetching from the partition leader failed; retrying', { leader: this.leaderId, partitions: this.partitions.size, reason });
  }

  /** Partitions that have just become followers learn where their log diverges from the leader's, and truncate there. */
  private async truncateDiverged(client: KafkaClient): Promise<void> {
    const asking = [...this.partitions.values()].filter((partition) => partition.needsTruncation);
    if (asking.length === 0) return;
    const ask = asking.map((partition) => ({ partition, epoch: partition.leaderEpoch, latest: partition.log.latestEpoch }));
    for (const entry of ask) {
      // A log no leader epoch ever wrote to is empty: nothing can diverge.
      if (entry.latest < 0) entry.partition.needsTruncation = false;
    }
    const pending = ask.filter((entry) => entry.latest >= 0);
    if (pending.length === 0) return;
    const response = await client.request(offsetForLeaderEpochApi, offsetForLeaderEpochVersion, {
      replicaId: this.host.selfId,
      topics: groupByTopic(pending, (entry) => entry.partition.topic).map(([topic, entries]) => ({
        topic,
        partitions: entries.map((entry) => ({ partition: entry.partition.index, currentLeaderEpoch: entry.epoch, leaderEpoch: entry.latest })),
      })),
    });
    for (const topic of response.topics) {
      for (const answer of topic.partitions) {
        const entry = pending.find((candidate) => candidate.partition.topic === topic.topic && candidate.partition.index === answer.partition);
        if (!entry || !this.isCurrent(entry.partition, entry.epoch)) continue;
        if (answer.errorCode !== ErrorCode.NONE) {
          this.noteFailure(`${entry.partition.key}: the leader answered OffsetForLeaderEpoch with ${errorName(answer.errorCode)}`);
          continue;
        }
        const log = entry.partition.log;
        const endOffset = Number(answer.endOffset);
        // KIP-279: the leader names the largest epoch it has at or below ours; this log's own
        // end of that epoch may be earlier still. Unknown to the leader: keep what is committed.
        const ownEnd = answer.leaderEpoch < 0 ? -1 : log.endOffsetForEpoch(answer.leaderEpoch).endOffset;
        const target = answer.leaderEpoch < 0 || endOffset < 0 ? entry.partition.highWatermark : ownEnd < 0 ? endOffset : Math.min(endOffset, ownEnd);
        if (target < log.logEndOffset) {
          this.host.logger.info('truncating a diverged follower log', {
            partition: entry.partition.key,
            from: log.logEndOffset,
            to: target,
            leader: this.leaderId,
            leaderEpoch: entry.epoch,
          });
          await log.truncateTo(Math.max(target, log.logStartOffset));
          entry.partition.clampHighWatermark();
        }
        entry.partition.needsTruncation = false;
      }
    }
  }

  /** One Fetch for every partition ready to fetch; false when it got nowhere (every partition failed), so the loop backs off. */
  private async fetchOnce(client: KafkaClient): Promise<boolean> {
    const sent = [...this.partitions.values()]
      .filter((partition) => !partition.needsTruncation)
      .map((partition) => ({ partition, epoch: partition.leaderEpoch, fetchOffset: partition.log.logEndOffset }));
    if (sent.length === 0) return false;
    const response = await client.request(
      fetchApi,
      fetchVersion,
      {
        clusterId: null,
        replicaId: this.host.selfId,
        maxWaitMs: fetchMaxWaitMs,
        minBytes: 1,
        maxBytes: fetchMaxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: groupByTopic(sent, (entry) => entry.partition.topic).map(([topic, entries]) => ({
          topic,
          topicId: '00000000-0000-0000-0000-000000000000',
          partitions: entries.map((entry) => ({
            partition: entry.partition.index,
            currentLeaderEpoch: entry.epoch,
            fetchOffset: BigInt(entry.fetchOffset),
            lastFetchedEpoch: -1,
            logStartOffset: BigInt(entry.partition.log.logStartOffset),
            partitionMaxBytes,
          })),
        })),
        forgottenTopicsData: [],
        rackId: '',
      },
      { timeoutMs: fetchMaxWaitMs + 5000 },
    );
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`the leader answered Fetch with ${errorName(response.errorCode)}`);
    let failures = 0;
    for (const topic of response.responses) {
      for (const answer of topic.partitions) {
        const entry = sent.find((candidate) => candidate.partition.topic === topic.topic && candidate.partition.index === answer.partitionIndex);
        if (!entry || !this.isCurrent(entry.partition, entry.epoch) || entry.partition.log.logEndOffset !== entry.fetchOffset) continue;
        const { partition } = entry;
        if (answer.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          const leaderStart = Number(answer.logStartOffset);
          if (leaderStart > partition.log.logEndOffset) {
            this.host.logger.warn('follower log is behind the leader\'s log start; starting over there', { partition: partition.key, from: partition.log.logEndOffset, to: leaderStart });
            await partition.log.truncateFullyAndStartAt(leaderStart);
            partition.clampHighWatermark();
          } else {
            partition.needsTruncation = true;
          }
          continue;
        }
        if (answer.errorCode !== ErrorCode.NONE) {
          // The leader moved or has not caught up with the metadata: the image will say.
          this.noteFailure(`${partition.key}: the leader answered Fetch with ${errorName(answer.errorCode)}`);
          failures++;
          continue;
        }
        const records = answer.records;
        if (records && records.length > 0) {
          await partition.log.appendAsFollower(records);
          this.host.followerAppended(partition);
        }
        partition.setFollowerHighWatermark(Number(answer.highWatermark));
        // DeleteRecords and retention on the leader move its log start; the follower follows.
        const leaderStart = Math.min(Number(answer.logStartOffset), partition.log.logEndOffset);
        if (leaderStart > partition.log.logStartOffset) await partition.log.deleteRecordsBefore(leaderStart);
      }
    }
    return failures < sent.length;
  }

  private isCurrent(partition: Partition, epoch: number): boolean {
    return this.partitions.get(partition.key) === partition && partition.leaderEpoch === epoch && partition.role === 'follower';
  }
}

function groupByTopic<T>(entries: readonly T[], topicOf: (entry: T) => string): Array<[string, T[]]> {
  const groups = new Map<string, T[]>();
  for (const entry of entries) {
    const topic = topicOf(entry);
    let group = groups.get(topic);
    if (!group) groups.set(topic, (group = []));
    group.push(entry);
  }
  return [...groups];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
