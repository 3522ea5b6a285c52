// The active controller's decisions about brokers: registration, heartbeats, fencing a broker
// whose session ran out (its leaderships move), unfencing one that has caught up (offline
// partitions it can lead come back). Pure: the image and the event in, the records to append
// out; the controller appends them to the Raft log and every broker applies them.
import { ErrorCode } from '../../protocol/errors.js';
import type { ClusterImage, ListenerEndpoint } from './image.js';
import { ControllerDecisionError, allPartitions, cleanLeader, partitionChange, withoutDeadBrokers, type Liveness } from './elections.js';
import { NO_LEADER, type ClusterRecord } from './records.js';

/** Settings that apply where no topic or dynamic config says otherwise (the broker's flags). */
export interface ControllerDefaults {
  readonly uncleanLeaderElection: boolean;
}

export interface BrokerRegistrationRequest {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly listeners: readonly ListenerEndpoint[];
  readonly rack: string | null;
}

export interface RegistrationDecision {
  readonly records: ClusterRecord[];
  /** The epoch the broker must name in its heartbeats. */
  readonly brokerEpoch: number;
}

/**
 * Registers a broker, fenced until it has caught up. A retry of the same incarnation changes
 * nothing; a new incarnation of a known id (a restart) replaces the registration, and if the
 * old one was still unfenced it is fenced first, so its leaderships move before it returns.
 * While the old incarnation is still heard from (`previousSessionLive`), the new one is
 * refused: two processes with one broker id would fence each other in turn and fetch as one
 * replica (Kafka's DuplicateBrokerRegistration). A restart after kill -9 gets in once the dead
 * process's session has run out; one after a clean shutdown at once.
 */
export function registerBroker(image: ClusterImage, request: BrokerRegistrationRequest, defaults: ControllerDefaults, previousSessionLive: boolean): RegistrationDecision {
  checkRegistration(request);
  const known = image.broker(request.brokerId);
  if (known?.incarnationId === request.incarnationId) return { records: [], brokerEpoch: known.brokerEpoch };
  if (known && previousSessionLive) {
    throw new ControllerDecisionError(
      ErrorCode.DUPLICATE_BROKER_REGISTRATION,
      `broker ${request.brokerId} is still registered by another process (incarnation ${known.incarnationId}) whose session has not run out: a restart after a crash gets in once it has; a second broker running with --node-id ${request.brokerId} never does`,
    );
  }
  const records: ClusterRecord[] = known && !known.fenced ? fenceBroker(image, request.brokerId, defaults) : [];
  const brokerEpoch = image.lastBrokerEpoch + 1;
  records.push({
    type: 'register-broker',
    brokerId: request.brokerId,
    incarnationId: request.incarnationId,
    brokerEpoch,
    listeners: request.listeners.map((listener) => ({ ...listener })),
    rack: request.rack,
    fenced: true,
  });
  return { records, brokerEpoch };
}

function checkRegistration(request: BrokerRegistrationRequest): void {
  const where = `broker ${request.brokerId} registration`;
  if (!Number.isInteger(request.brokerId) || request.brokerId < 0) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: broker id must be a non-negative integer`);
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(request.incarnationId)) {
    throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: incarnation id "${request.incarnationId}" is not a lowercase UUID`);
  }
  if (request.listeners.length === 0) throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where} names no listener`);
  const seen = new Set<string>();
  for (const listener of request.listeners) {
    if (seen.has(listener.name)) throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where} names listener ${listener.name} twice`);
    seen.add(listener.name);
    if (!Number.isInteger(listener.port) || listener.port < 1 || listener.port > 65535) {
      throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: listener ${listener.name} port ${listener.port} is not 1-65535`);
    }
    if (listener.host === '') throw new ControllerDecisionError(ErrorCode.INVALID_REQUEST, `${where}: listener ${listener.name} has no host`);
  }
}

/**
 * Fences a broker (its session ran out, or it asked to shut down): it leaves every ISR but
 * the last member's place, and each partition it led takes the first live ISR member in
 * replica order (or goes offline, or with unclean election takes any live replica).
 */
export function fenceBroker(image: ClusterImage, brokerId: number, defaults: ControllerDefaults): ClusterRecord[] {
  const broker = registered(image, brokerId);
  if (broker.fenced) return [];
  const records: ClusterRecord[] = [{ type: 'fence-broker', brokerId, brokerEpoch: broker.brokerEpoch }];
  const live: Liveness = (id) => id !== brokerId && image.isLive(id);
  for (const { topicName, partition } of allPartitions(image)) {
    if (!partition.replicas.includes(brokerId)) continue;
    const change = partitionChange(partition, withoutDeadBrokers(partition, live, image.uncleanLeaderElection(topicName, defaults.uncleanLeaderElection)));
    if (change) records.push(change);
  }
  return records;
}

/**
 * Unfences a broker that has caught up with the metadata log: offline partitions it is an
 * ISR member of take it as leader, and with unclean election so do offline partitions it is
 * merely a replica of. It rejoins other ISRs when their leaders report it caught up.
 */
export function unfenceBroker(image: ClusterImage, brokerId: number, defaults: ControllerDefaults): ClusterRecord[] {
  const broker = registered(image, brokerId);
  if (!broker.fenced) return [];
  const records: ClusterRecord[] = [{ type: 'unfence-broker', brokerId, brokerEpoch: broker.brokerEpoch }];
  const live: Liveness = (id) => id === brokerId || image.isLive(id);
  for (const { topicName, partition } of allPartitions(image)) {
    if (partition.leader !== NO_LEADER || !partition.replicas.includes(brokerId)) continue;
    const leader = cleanLeader(partition, partition.isr, live);
    const next =
      leader !== NO_LEADER
        ? { leader, isr: partition.isr }
        : image.uncleanLeaderElection(topicName, defaults.uncleanLeaderElection)
          ? { leader: brokerId, isr: [brokerId] }
          : null;
    const change = next && partitionChange(partition, next);
    if (change) records.push(change);
  }
  return records;
}

export interface BrokerHeartbeat {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The broker has applied the metadata log up to the controller's committed end. */
  readonly caughtUp: boolean;
  /** The broker is shutting down and asks to be fenced first (controlled shutdown). */
  readonly wantFence: boolean;
}

export interface HeartbeatDecision {
  readonly records: ClusterRecord[];
  /** Whether the broker is fenced once the records apply. */
  readonly fenced: boolean;
}

/** A heartbeat: unfences a caught-up broker, fences one shutting down, refuses a stale epoch. */
export function brokerHeartbeat(image: ClusterImage, heartbeat: BrokerHeartbeat, defaults: ControllerDefaults): HeartbeatDecision {
  const broker = registered(image, heartbeat.brokerId);
  if (broker.brokerEpoch !== heartbeat.brokerEpoch) {
    throw new ControllerDecisionError(
      ErrorCode.STALE_BROKER_EPOCH,
      `broker ${heartbeat.brokerId} heartbeat names epoch ${heartbeat.brokerEpoch}, but its registration has epoch ${broker.brokerEpoch}: register again`,
    );
  }
  if (heartbeat.wantFence) return { records: fenceBroker(image, heartbeat.brokerId, defaults), fenced: true };
  if (broker.fenced && heartbeat.caughtUp) return { records: unfenceBroker(image, heartbeat.brokerId, defaults), fenced: false };
  return { records: [], fenced: broker.fenced };
}

/**
 * Live brokers whose last heartbeat is older than the session timeout. The active controller
 * records a heartbeat time for every broker when it takes office, so a broker it has not
 * heard from at all is expired once a whole session has passed. Fence them one at a time,
 * each decided on the image with the previous one's records applied, so no partition moves
 * to a broker that is about to be fenced too.
 */
export function expiredBrokers(image: ClusterImage, lastHeartbeatAt: ReadonlyMap<number, number>, now: number, sessionTimeoutMs: number): number[] {
  return image
    .liveBrokers()
    .filter((broker) => now - (lastHeartbeatAt.get(broker.brokerId) ?? Number.NEGATIVE_INFINITY) > sessionTimeoutMs)
    .map((broker) => broker.brokerId);
}

function registered(image: ClusterImage, brokerId: number) {
  const broker = image.broker(brokerId);
  if (!broker) throw new ControllerDecisionError(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${brokerId} is not registered with the controller`);
  return broker;
}
