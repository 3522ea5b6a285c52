// How a broker reaches the active controller: in-process when this node leads the metadata
// quorum, otherwise over a Kafka connection to the leader's inter-broker listener (Kafka's
// NodeToControllerChannelManager). A call that finds no controller, or the wrong one, or cannot
// connect, is tried again (the leader may just be changing) until its deadline; the last reason
// is in the error then.
import type { HostPort } from '../config.js';
import { describeError, type Logger } from '../log.js';
import { BrokerConnectionError, KafkaClient, KafkaClientClosedError, RequestTimeoutError } from '../net/kafka-client.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { ControllerDecisionError } from './cluster/elections.js';
import type { ClusterImage } from './cluster/image.js';
import { NotControllerError, type QuorumController } from './quorum-controller.js';
import { LeadershipLostError, ProposalLostError } from './quorum/errors.js';

export class ControllerUnavailableError extends Error {
  override readonly name = 'ControllerUnavailableError';
  readonly errorCode = ErrorCode.REQUEST_TIMED_OUT;
}

/** The remote controller answered NOT_CONTROLLER: leadership moved; look again and retry. */
export class RemoteNotControllerError extends Error {
  override readonly name = 'RemoteNotControllerError';
}

const retryBackoffMs = 100;

/**
 * Turns a remote controller's answer into what `call` expects of `remote`: NOT_CONTROLLER is
 * retried (leadership moved), any other error is the controller's refusal.
 */
export function throwIfControllerRefused(errorCode: number, what: string): void {
  if (errorCode === ErrorCode.NONE) return;
  if (errorCode === ErrorCode.NOT_CONTROLLER) throw new RemoteNotControllerError(`${what}: the broker asked is no longer the controller`);
  throw new ControllerDecisionError(errorCode as ErrorCode, `${what} refused by the controller: ${errorName(errorCode)}`);
}

export class ControllerChannel {
  private client: { readonly leader: number; readonly client: KafkaClient } | null = null;
  private connecting: Promise<KafkaClient> | null = null;

  constructor(
    private readonly nodeId: number,
    private readonly controller: QuorumController,
    private readonly image: () => ClusterImage,
    private readonly interBrokerListener: string,
    private readonly logger: Logger,
  ) {
    // A request in flight to a controller that lost office (dead, paused, cut off) would only
    // fail at its timeout; failing it now sends it to the new controller at once, so a broker's
    // heartbeats reach the new controller well within one session.
    this.stopFollowingLeader = controller.onLeaderChange((leader) => {
      if (this.client && this.client.leader !== leader) this.dropClient();
    });
  }

  private readonly stopFollowingLeader: () => void;

  /**
   * Runs `local` on this node's controller while it is active, else `remote` against the
   * active controller's broker; retries NOT_CONTROLLER and connection failures until `timeoutMs` passes.
   */
  async call<T>(what: string, timeoutMs: number, local: (controller: QuorumController) => Promise<T>, remote: (client: KafkaClient) => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastReason = 'no controller is elected yet';
    for (;;) {
      try {
        if (this.controller.active) return await local(this.controller);
        const leader = this.controller.leader;
        if (leader !== null && leader !== this.nodeId) {
          const client = await this.clientFor(leader, Math.max(1, deadline - Date.now()));
          return await remote(client);
        }
      } catch (error) {
        if (!retriable(error)) throw error;
        lastReason = describeError(error);
        if (error instanceof BrokerConnectionError || error instanceof RequestTimeoutError || error instanceof KafkaClientClosedError) this.dropClient();
      }
      if (Date.now() + retryBackoffMs > deadline) {
        throw new ControllerUnavailableError(`${what}: the active controller did not answer within ${timeoutMs} ms (${lastReason})`);
      }
      await new Promise((resolve) => setTimeout(resolve, retryBackoffMs));
    }
  }

  close(): void {
    this.stopFollowingLeader();
    this.dropClient();
  }

  private async clientFor(leader: number, timeoutMs: number): Promise<KafkaClient> {
    if (this.client && this.client.leader === leader && !this.client.client.closed) return this.client.client;
    this.dropClient();
    const endpoint = this.image().endpoint(leader, this.interBrokerListener);
    if (!endpoint) throw new RemoteNotControllerError(`controller ${leader} has not registered a ${this.interBrokerListener} listener yet`);
    const address: HostPort = { host: endpoint.host, port: endpoint.port };
    this.connecting ??= KafkaClient.connect(address, { clientId: `klab-broker-${this.nodeId}`, connectTimeoutMs: Math.min(2000, timeoutMs), requestTimeoutMs: 10_000 }).finally(() => {
      this.connecting = null;
    });
    const client = await this.connecting;
    this.client = { leader, client };
    this.logger.debug('connected to the active controller', { controller: leader, address: `${address.host}:${address.port}` });
    return client;
  }

  private dropClient(): void {
    this.client?.client.close();
    this.client = null;
  }
}

function retriable(error: unknown): boolean {
  return (
    error instanceof NotControllerError ||
    error instanceof RemoteNotControllerError ||
    error instanceof BrokerConnectionError ||
    error instanceof RequestTimeoutError ||
    error instanceof KafkaClientClosedError ||
    error instanceof LeadershipLostError ||
    error instanceof ProposalLostError
  );
}
