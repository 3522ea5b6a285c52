// The active controller: whichever broker leads the metadata quorum decides, and every other
// broker's controller stays idle until leadership comes to it (Kafka's QuorumController). A
// request becomes records by a pure decision (./cluster/*-decisions.ts) on the image this
// node has applied, the records are proposed to the quorum, and the request is answered once
// they are committed and applied here. Decisions run one at a time, so each sees the records
// of the one before it. The controller also owns broker sessions: a live broker that has not
// heartbeated within the session timeout is fenced, so its partitions move to live replicas.
import { describeError, type Logger } from '../log.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ClusterMetadataApplier } from './cluster/applier.js';
import { brokerHeartbeat, expiredBrokers, fenceBroker, registerBroker, type BrokerRegistrationRequest, type ControllerDefaults } from './cluster/broker-decisions.js';
import { ControllerDecisionError } from './cluster/elections.js';
import { METADATA_VERSION_FEATURE, type ClusterImage } from './cluster/image.js';
import { rebalanceLeaders } from './cluster/partition-decisions.js';
import { encodeClusterRecord, type ClusterRecord } from './cluster/records.js';
import type { QuorumDriver, QuorumStatus } from './quorum/driver.js';

/** The metadata version this broker writes and understands (one so far). */
export const metadataVersion = 1;

export interface ControllerSettings {
  readonly defaults: ControllerDefaults;
  /** A broker that has not heartbeated for this long is fenced (Kafka's broker.session.timeout.ms). */
  readonly sessionTimeoutMs: number;
  /** How often leadership moves back to preferred replicas; 0 turns it off (auto.leader.rebalance.enable=false). */
  readonly leaderRebalanceIntervalMs: number;
}

/** This node does not lead the metadata quorum; `leader` is the one it knows, if any. */
export class NotControllerError extends Error {
  override readonly name = 'NotControllerError';
  readonly errorCode = ErrorCode.NOT_CONTROLLER;

  constructor(
    readonly nodeId: number,
    readonly leader: number | null,
  ) {
    super(`node ${nodeId} is not the active controller (${leader === null ? 'no controller is elected yet' : `node ${leader} is`})`);
  }
}

export interface Decision<T> {
  readonly records: readonly ClusterRecord[];
  readonly result: T;
}

export interface HeartbeatRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The last metadata index the broker has applied. */
  readonly appliedIndex: number;
  readonly wantFence: boolean;
}

export interface HeartbeatAnswer {
  readonly caughtUp: boolean;
  readonly fenced: boolean;
}

const sessionCheckMs = 100;

export class QuorumController {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lastHeartbeatAt = new Map<number, number>();
  /**
   * When each broker process last spoke to this controller (registration or heartbeat), unlike
   * lastHeartbeatAt, which a new controller seeds for every live broker: a broker restarted
   * during a controller change must not be taken for a second process with its id.
   */
  private readonly heardAt = new Map<number, number>();
  /** Brokers whose fencing is decided but not yet committed, so a session check does not queue it twice. */
  private readonly fencing = new Set<number>();
  /** The metadata index of each broker's registration in this term: it is caught up once it applied that far. */
  private readonly registeredAt = new Map<number, number>();
  private activeTerm = -1;
  private lastRebalanceAt = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly nodeId: number,
    /** Written by the cluster's first controller; every broker's meta.properties names it too. */
    private readonly clusterId: string,
    private readonly quorum: QuorumDriver,
    private readonly applier: ClusterMetadataApplier,
    private readonly settings: ControllerSettings,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.unsubscribe = quorum.subscribe((event) => {
      if (event.kind === 'leader-ready') this.takeOffice(event.term);
    });
    if (quorum.isReadyLeader()) this.takeOffice(quorum.status().term);
    this.timer = setInterval(() => this.checkSessions(), sessionCheckMs);
    this.timer.unref();
  }

  /** True while this node is the active controller. */
  get active(): boolean {
    return this.quorum.isReadyLeader() && this.activeTerm === this.quorum.status().term;
  }

  /** The active controller's node id as this node knows it (the metadata quorum's leader). */
  get leader(): number | null {
    return this.quorum.status().leader;
  }

  /** Calls `listener` whenever the quorum's leader (the active controller) changes; returns the unsubscribe. */
  onLeaderChange(listener: (leader: number | null) => void): () => void {
    return this.quorum.subscribe((event) => {
      if (event.kind === 'leader-changed') listener(event.leader);
    });
  }

  /** The metadata quorum as this node sees it (DescribeQuorum). */
  quorumStatus(): QuorumStatus {
    return this.quorum.status();
  }

  private get image(): ClusterImage {
    return this.applier.image;
  }

  // ---- requests ------------------------------------------------------------------------------

  /**
   * Decides on the applied image and commits the records; resolves with the decision's result
   * once they are applied here. One decision at a time. Rejects with NotControllerError off the
   * leader, ControllerDecisionError when the request is refused, or the quorum's error when
   * leadership is lost before the records commit.
   */
  decide<T>(what: string, decide: (image: ClusterImage) => Decision<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (!this.active) throw new NotControllerError(this.nodeId, this.leader);
      const decision = decide(this.image);
      await this.commit(decision.records);
      return decision.result;
    });
    this.queue = run.catch(() => undefined);
    return run.catch((error: unknown) => {
      if (!(error instanceof ControllerDecisionError) && !(error instanceof NotControllerError)) {
        this.logger.warn('controller request failed', { request: what, reason: describeError(error) });
      }
      throw error;
    });
  }

  register(request: BrokerRegistrationRequest): Promise<{ brokerEpoch: number }> {
    return this.decide(`register broker ${request.brokerId}`, (image) => {
      const heard = this.heardAt.get(request.brokerId);
      const previousSessionLive = heard !== undefined && this.clock() - heard <= this.settings.sessionTimeoutMs;
      const decision = registerBroker(image, request, this.settings.defaults, previousSessionLive);
      return { records: decision.records, result: { brokerEpoch: decision.brokerEpoch } };
    }).then((result) => {
      this.registeredAt.set(request.brokerId, this.quorum.status().appliedIndex);
      this.lastHeartbeatAt.set(request.brokerId, this.clock());
      this.heardAt.set(request.brokerId, this.clock());
      return result;
    });
  }

  heartbeat(request: HeartbeatRequest): Promise<HeartbeatAnswer> {
    if (this.active) this.lastHeartbeatAt.set(request.brokerId, this.clock());
    return this.decide(`heartbeat of broker ${request.brokerId}`, (image) => {
      const registeredAt = this.registeredAt.get(request.brokerId);
      // A registration from an earlier term is in every log this leader holds; applied up to
      // the commit point the broker knew of is as caught up as Kafka asks.
      const caughtUp = request.appliedIndex >= (registeredAt ?? 0);
      const decision = brokerHeartbeat(image, { brokerId: request.brokerId, brokerEpoch: request.brokerEpoch, caughtUp, wantFence: request.wantFence }, this.settings.defaults);
      return { records: decision.records, result: { caughtUp, fenced: decision.fenced } };
    }).then((answer) => {
      // A broker shutting down cleanly is gone once fenced: its restart may register at once.
      if (request.wantFence && answer.fenced) this.heardAt.delete(request.brokerId);
      else this.heardAt.set(request.brokerId, this.clock());
      return answer;
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe();
  }

  // ---- inside ------------------------------------------------------------------------------

  private async commit(records: readonly ClusterRecord[]): Promise<void> {
    if (records.length === 0) return;
    // Proposed back to back so they commit together; each applies only after those before it.
    const proposals = records.map((record) => this.quorum.propose(encodeClusterRecord(record)));
    await Promise.all(proposals);
  }

  /**
   * A new term's controller: the cluster is bootstrapped if this is its first controller, and
   * every live broker gets a whole session from now to heartbeat (the old controller's clock
   * died with it).
   */
  private takeOffice(term: number): void {
    if (term === this.activeTerm) return;
    this.activeTerm = term;
    const now = this.clock();
    this.lastHeartbeatAt.clear();
    this.heardAt.clear();
    this.registeredAt.clear();
    for (const broker of this.image.liveBrokers()) this.lastHeartbeatAt.set(broker.brokerId, now);
    this.lastRebalanceAt = now;
    this.logger.info('this node is the active controller', { nodeId: this.nodeId, term });
    if (this.image.controllerReady()) return;
    void this.decide('bootstrap the cluster metadata', (image) => {
      const records: ClusterRecord[] = [];
      if (image.clusterId === null) records.push({ type: 'cluster-id', clusterId: this.clusterId });
      if (image.featureLevel(METADATA_VERSION_FEATURE) === undefined) {
        records.push({ type: 'feature-level', name: METADATA_VERSION_FEATURE, featureLevel: metadataVersion });
      }
      return { records, result: undefined };
    }).catch(() => undefined);
  }

  private checkSessions(): void {
    if (!this.active) return;
    const now = this.clock();
    const { sessionTimeoutMs } = this.settings;
    for (const brokerId of expiredBrokers(this.image, this.lastHeartbeatAt, now, sessionTimeoutMs)) {
      if (brokerId === this.nodeId || this.fencing.has(brokerId)) continue;
      this.fencing.add(brokerId);
      void this.decide(`fence broker ${brokerId}`, (image) => {
        // Decided in turn after what was queued before it: a heartbeat may have come in since.
        if (!expiredBrokers(image, this.lastHeartbeatAt, this.clock(), sessionTimeoutMs).includes(brokerId)) return { records: [], result: undefined };
        this.logger.warn('fencing a broker whose session expired', { brokerId, sessionTimeoutMs });
        return { records: fenceBroker(image, brokerId, this.settings.defaults), result: undefined };
      })
        .catch(() => undefined)
        .finally(() => this.fencing.delete(brokerId));
    }
    const interval = this.settings.leaderRebalanceIntervalMs;
    if (interval > 0 && now - this.lastRebalanceAt >= interval) {
      this.lastRebalanceAt = now;
      void this.decide('move leaders back to preferred replicas', (image) => {
        const { records } = rebalanceLeaders(image);
        if (records.length > 0) this.logger.info('moving leadership back to preferred replicas', { partitions: records.length });
        return { records, result: undefined };
      }).catch(() => undefined);
    }
  }
}
