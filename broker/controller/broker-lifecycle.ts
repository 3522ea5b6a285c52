// This broker's membership in the cluster, as Kafka's BrokerLifecycleManager: it registers
// with the active controller (a new incarnation id per process start, so the controller can
// tell a restart from a retry), then heartbeats so the controller keeps it unfenced. It starts
// fenced; once it has applied the metadata log up to its own registration the controller
// unfences it and it may lead partitions. A stale epoch (the controller fenced it, or forgot
// it) makes it register again. At shutdown it asks to be fenced first, so its leaderships
// move before it stops answering.
import { randomUUID } from 'node:crypto';
import { describeError, type Logger } from '../log.js';
import { brokerHeartbeatApi } from '../protocol/apis/63-broker-heartbeat.js';
import { brokerRegistrationApi } from '../protocol/apis/62-broker-registration.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ListenerEndpoint } from './cluster/image.js';
import { throwIfControllerRefused, type ControllerChannel } from './controller-channel.js';
import { ControllerDecisionError } from './cluster/elections.js';
import type { HeartbeatAnswer } from './quorum-controller.js';

export interface LifecycleSettings {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly heartbeatIntervalMs: number;
  /** How long one registration or heartbeat may wait for the controller. */
  readonly requestTimeoutMs: number;
}

const controlledShutdownTimeoutMs = 5_000;

export class BrokerLifecycle {
  readonly incarnationId = randomUUID();
  private brokerEpoch: number | null = null;
  private fenced = true;
  private caughtUp = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private listeners: readonly ListenerEndpoint[] = [];
  private readonly readyWaiters: Array<() => void> = [];
  private lastProblem = '';

  constructor(
    private readonly settings: LifecycleSettings,
    private readonly channel: ControllerChannel,
    /** The metadata index this broker has applied. */
    private readonly appliedIndex: () => number,
    private readonly logger: Logger,
  ) {}

  /** Registered, caught up with the metadata and unfenced: the broker may serve as a cluster member. */
  get ready(): boolean {
    return this.brokerEpoch !== null && this.caughtUp && !this.fenced;
  }

  get epoch(): number | null {
    return this.brokerEpoch;
  }

  /** Registers with `listeners` and keeps heartbeating until stop(). */
  start(listeners: readonly ListenerEndpoint[]): void {
    this.listeners = listeners;
    this.schedule(0);
  }

  /** Resolves once ready (see `ready`). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Stops heartbeating (the controller fences this broker when its session runs out). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Asks the controller to fence this broker (its partitions move), waits for that within a bound, and stops heartbeating. */
  async shutdown(): Promise<void> {
    this.stop();
    if (this.brokerEpoch === null) return;
    const deadline = Date.now() + controlledShutdownTimeoutMs;
    while (Date.now() < deadline) {
      try {
        const answer = await this.heartbeat(true, Math.max(1, deadline - Date.now()));
        if (answer.fenced) {
          this.logger.info('fenced for shutdown; partition leadership has moved', { brokerEpoch: this.brokerEpoch });
          return;
        }
      } catch (error) {
        this.logger.warn('controlled shutdown: the controller did not fence this broker; stopping anyway', { reason: describeError(error) });
        return;
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    try {
      if (this.brokerEpoch === null) await this.register();
      const answer = await this.heartbeat(false, this.settings.requestTimeoutMs);
      this.noteAnswer(answer);
    } catch (error) {
      this.noteProblem(error);
    }
    this.schedule(this.settings.heartbeatIntervalMs);
  }

  private async register(): Promise<void> {
    const { nodeId, clusterId, requestTimeoutMs } = this.settings;
    const request = { brokerId: nodeId, incarnationId: this.incarnationId, listeners: this.listeners, rack: null };
    const { brokerEpoch } = await this.channel.call(
      `broker ${nodeId} registration`,
      requestTimeoutMs,
      (controller) => controller.register(request),
      async (client) => {
        const response = await client.request(brokerRegistrationApi, 0, {
          brokerId: nodeId,
          clusterId,
          incarnationId: this.incarnationId,
          listeners: this.listeners.map((listener) => ({ ...listener, securityProtocol: 0 })),
          features: [],
          rack: null,
          isMigratingZkBroker: false,
        });
        throwIfControllerRefused(response.errorCode, `broker ${nodeId} registration`);
        return { brokerEpoch: Number(response.brokerEpoch) };
      },
    );
    this.brokerEpoch = brokerEpoch;
    this.fenced = true;
    this.caughtUp = false;
    this.logger.info('registered with the controller', { brokerEpoch, incarnationId: this.incarnationId });
  }

  private heartbeat(wantFence: boolean, timeoutMs: number): Promise<HeartbeatAnswer> {
    const brokerId = this.settings.nodeId;
    const brokerEpoch = this.brokerEpoch!;
    const appliedIndex = this.appliedIndex();
    return this.channel.call(
      `broker ${brokerId} heartbeat`,
      timeoutMs,
      (controller) => controller.heartbeat({ brokerId, brokerEpoch, appliedIndex, wantFence }),
      async (client) => {
        const response = await client.request(brokerHeartbeatApi, 0, {
          brokerId,
          brokerEpoch: BigInt(brokerEpoch),
          currentMetadataOffset: BigInt(appliedIndex),
          wantFence,
          wantShutDown: wantFence,
        });
        throwIfControllerRefused(response.errorCode, `broker ${brokerId} heartbeat`);
        return { caughtUp: response.isCaughtUp, fenced: response.isFenced };
      },
    );
  }

  private noteAnswer(answer: HeartbeatAnswer): void {
    const wasReady = this.ready;
    if (answer.fenced !== this.fenced) this.logger.info(answer.fenced ? 'the controller fenced this broker' : 'the controller unfenced this broker', { brokerEpoch: this.brokerEpoch });
    this.fenced = answer.fenced;
    this.caughtUp = answer.caughtUp;
    this.lastProblem = '';
    if (!wasReady && this.ready) for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  private noteProblem(error: unknown): void {
    const code = error instanceof ControllerDecisionError ? error.errorCode : null;
    if (code === ErrorCode.STALE_BROKER_EPOCH || code === ErrorCode.BROKER_ID_NOT_REGISTERED) {
      this.logger.warn('the controller no longer knows this broker\'s registration; registering again', { brokerEpoch: this.brokerEpoch, reason: describeError(error) });
      this.brokerEpoch = null;
      this.fenced = true;
      return;
    }
    const reason = describeError(error);
    if (code === ErrorCode.DUPLICATE_BROKER_REGISTRATION) {
      if (reason !== this.lastProblem) {
        const id = this.settings.nodeId;
        this.logger.warn(
          `the controller refuses this registration: another process is registered as broker ${id} and its session has not run out; retrying (a restart after a crash gets in once it has, a second broker running with --node-id ${id} never does)`,
          { reason },
        );
      }
      this.lastProblem = reason;
      return;
    }
    if (reason !== this.lastProblem) this.logger.warn('cannot reach the active controller; retrying', { reason });
    this.lastProblem = reason;
  }
}
