// The controller's broker decisions: registration (a new incarnation re-registers), heartbeats,
// fencing a broker whose session ran out (leaderships move to the first live ISR member, it
// leaves the ISRs, leader epochs rise; a partition whose whole ISR is gone goes offline unless
// unclean election is enabled), and unfencing a caught-up broker.
import { describe, expect, it } from 'vitest';
import {
  brokerHeartbeat,
  expiredBrokers,
  fenceBroker,
  registerBroker,
  unfenceBroker,
  type ControllerDefaults,
} from '../../broker/controller/cluster/broker-decisions.js';
import type { ClusterImage } from '../../broker/controller/cluster/image.js';
import { ConfigResourceType, NO_LEADER } from '../../broker/controller/cluster/records.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { clusterWithOrders, decisionRefusal, incarnation, ordersId } from '../support/cluster-images.js';

const clean: ControllerDefaults = { uncleanLeaderElection: false };
const unclean: ControllerDefaults = { uncleanLeaderElection: true };

function state(image: ClusterImage, index: number) {
  const { isr, leader, leaderEpoch } = image.partition(ordersId, index)!;
  return { isr: [...isr], leader, leaderEpoch };
}

describe('fencing a broker', () => {
  it('moves its leaderships to the first live ISR member in replica order and takes it out of every ISR', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    expect(image.isLive(0)).toBe(false);
    expect(state(image, 0)).toEqual({ isr: [1, 2], leader: 1, leaderEpoch: 1 });
    expect(state(image, 1)).toEqual({ isr: [1, 2], leader: 1, leaderEpoch: 0 });
    expect(state(image, 2)).toEqual({ isr: [2, 1], leader: 2, leaderEpoch: 0 });
  });

  it('follows the replica order, not the ISR order, when choosing the new leader', () => {
    const { image, decide } = clusterWithOrders();
    decide([{ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0, 2, 1], leader: -2 }]);
    decide(fenceBroker(image, 0, clean));
    expect(state(image, 0).leader).toBe(1);
  });

  it('leaves a partition whose whole ISR is gone offline, keeping the last ISR member to come back', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    decide(fenceBroker(image, 1, clean));
    expect(state(image, 0)).toEqual({ isr: [2], leader: 2, leaderEpoch: 2 });
    decide(fenceBroker(image, 2, clean));
    for (const index of [0, 1, 2]) expect(state(image, index)).toMatchObject({ isr: [2], leader: NO_LEADER });
    expect(state(image, 0).leaderEpoch).toBe(3);
  });

  it('with unclean election (topic config) elects the first live replica, whose ISR is itself alone', () => {
    const { image, decide } = clusterWithOrders();
    decide([{ type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'unclean.leader.election.enable', value: 'true' }]);
    decide([{ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0], leader: -2 }]);
    decide(fenceBroker(image, 0, clean));
    expect(state(image, 0)).toEqual({ isr: [1], leader: 1, leaderEpoch: 1 });
  });

  it('with unclean election as the broker default does the same; a topic config of false overrides it', () => {
    const { image, decide } = clusterWithOrders();
    decide([{ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0], leader: -2 }]);
    const records = fenceBroker(image, 0, unclean);
    expect(records).toContainEqual({ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [1], leader: 1 });
    decide([{ type: 'config', resourceType: ConfigResourceType.topic, resourceName: 'orders', name: 'unclean.leader.election.enable', value: 'false' }]);
    decide(fenceBroker(image, 0, unclean));
    expect(state(image, 0)).toEqual({ isr: [0], leader: NO_LEADER, leaderEpoch: 1 });
  });

  it('with unclean election but no live replica left, the partition stays offline', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 1, unclean));
    decide(fenceBroker(image, 2, unclean));
    decide(fenceBroker(image, 0, unclean));
    expect(state(image, 0)).toMatchObject({ isr: [0], leader: NO_LEADER });
  });

  it('fencing a fenced broker changes nothing; an unknown broker is refused', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 2, clean));
    expect(fenceBroker(image, 2, clean)).toEqual([]);
    const error = decisionRefusal(() => fenceBroker(image, 9, clean));
    expect(error.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
    expect(error.message).toBe('broker 9 is not registered with the controller');
  });
});

describe('unfencing a broker', () => {
  it('gives offline partitions it is the ISR member of back to it, with a new leader epoch', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    decide(fenceBroker(image, 1, clean));
    decide(fenceBroker(image, 2, clean));
    decide(unfenceBroker(image, 2, clean));
    expect(image.isLive(2)).toBe(true);
    expect(state(image, 0)).toEqual({ isr: [2], leader: 2, leaderEpoch: 4 });
  });

  it('leaves offline a partition it is only a replica of, unless unclean election is enabled', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    decide(fenceBroker(image, 1, clean));
    decide(fenceBroker(image, 2, clean));
    decide(unfenceBroker(image, 0, clean));
    expect(state(image, 0)).toMatchObject({ isr: [2], leader: NO_LEADER });
    decide(unfenceBroker(image, 1, unclean));
    expect(state(image, 0)).toMatchObject({ isr: [1], leader: 1 });
  });

  it('unfencing a live broker changes nothing', () => {
    const { image } = clusterWithOrders();
    expect(unfenceBroker(image, 1, clean)).toEqual([]);
  });
});

describe('registration and heartbeats', () => {
  const listeners = [{ name: 'INTERNAL', host: 'b3', port: 9092 }];

  it('registers a new broker fenced with the next broker epoch; a retry changes nothing', () => {
    const { image, decide } = clusterWithOrders();
    const first = registerBroker(image, { brokerId: 3, incarnationId: incarnation(3), listeners, rack: 'r' }, clean, false);
    expect(first.brokerEpoch).toBe(3);
    expect(first.records).toEqual([
      { type: 'register-broker', brokerId: 3, incarnationId: incarnation(3), brokerEpoch: 3, listeners, rack: 'r', fenced: true },
    ]);
    decide(first.records);
    expect(image.isLive(3)).toBe(false);
    const retry = registerBroker(image, { brokerId: 3, incarnationId: incarnation(3), listeners, rack: 'r' }, clean, false);
    expect(retry).toEqual({ records: [], brokerEpoch: 3 });
  });

  it('a new incarnation of a live broker fences the old one first, so its leaderships move', () => {
    const { image, decide } = clusterWithOrders();
    const decision = registerBroker(image, { brokerId: 0, incarnationId: incarnation(0, 1), listeners, rack: null }, clean, false);
    expect(decision.records.map((record) => record.type)).toEqual(['fence-broker', 'partition-change', 'partition-change', 'partition-change', 'register-broker']);
    decide(decision.records);
    expect(image.broker(0)).toMatchObject({ incarnationId: incarnation(0, 1), brokerEpoch: 3, fenced: true });
    expect(state(image, 0)).toEqual({ isr: [1, 2], leader: 1, leaderEpoch: 1 });
  });

  it('a new incarnation is refused while the old one is still heard from, and nothing changes; its retry of the same incarnation is not', () => {
    const { image } = clusterWithOrders();
    const refused = decisionRefusal(() => registerBroker(image, { brokerId: 0, incarnationId: incarnation(0, 1), listeners, rack: null }, clean, true));
    expect(refused.errorCode).toBe(ErrorCode.DUPLICATE_BROKER_REGISTRATION);
    expect(refused.message).toContain(`still registered by another process (incarnation ${incarnation(0)})`);
    expect(refused.message).toContain('--node-id 0');
    expect(image.broker(0)).toMatchObject({ incarnationId: incarnation(0), fenced: false });
    expect(registerBroker(image, { brokerId: 0, incarnationId: incarnation(0), listeners, rack: null }, clean, true).records).toEqual([]);
  });

  it('a new incarnation of a fenced broker only re-registers', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    const decision = registerBroker(image, { brokerId: 0, incarnationId: incarnation(0, 1), listeners, rack: null }, clean, false);
    expect(decision.records.map((record) => record.type)).toEqual(['register-broker']);
  });

  it.each([
    ['no listener', { brokerId: 4, listeners: [] }, 'broker 4 registration names no listener'],
    ['a listener twice', { brokerId: 4, listeners: [...listeners, ...listeners] }, 'broker 4 registration names listener INTERNAL twice'],
    ['port 0', { brokerId: 4, listeners: [{ name: 'A', host: 'h', port: 0 }] }, 'listener A port 0 is not 1-65535'],
    ['an empty host', { brokerId: 4, listeners: [{ name: 'A', host: '', port: 1 }] }, 'listener A has no host'],
    ['a negative id', { brokerId: -1, listeners }, 'broker id must be a non-negative integer'],
    ['an incarnation id that is not a UUID', { brokerId: 4, listeners, incarnationId: 'x' }, 'broker 4 registration: incarnation id "x" is not a lowercase UUID'],
  ])('refuses a registration with %s', (_, fields, message) => {
    const { image } = clusterWithOrders();
    const error = decisionRefusal(() => registerBroker(image, { incarnationId: incarnation(4), rack: null, ...fields }, clean, false));
    expect(error.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(error.message).toContain(message);
  });

  it('a heartbeat unfences a caught-up fenced broker, keeps a lagging one fenced, and fences one shutting down', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 1, clean));
    expect(brokerHeartbeat(image, { brokerId: 1, brokerEpoch: 1, caughtUp: false, wantFence: false }, clean)).toEqual({ records: [], fenced: true });
    const back = brokerHeartbeat(image, { brokerId: 1, brokerEpoch: 1, caughtUp: true, wantFence: false }, clean);
    expect(back.fenced).toBe(false);
    decide(back.records);
    expect(image.isLive(1)).toBe(true);
    expect(brokerHeartbeat(image, { brokerId: 1, brokerEpoch: 1, caughtUp: true, wantFence: false }, clean)).toEqual({ records: [], fenced: false });
    const leaving = brokerHeartbeat(image, { brokerId: 2, brokerEpoch: 2, caughtUp: true, wantFence: true }, clean);
    decide(leaving.records);
    expect(image.isLive(2)).toBe(false);
    expect(state(image, 2).leader).toBe(0);
  });

  it('refuses a heartbeat with a stale broker epoch or from an unregistered broker', () => {
    const { image } = clusterWithOrders();
    const stale = decisionRefusal(() => brokerHeartbeat(image, { brokerId: 1, brokerEpoch: 0, caughtUp: true, wantFence: false }, clean));
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(stale.message).toBe('broker 1 heartbeat names epoch 0, but its registration has epoch 1: register again');
    expect(decisionRefusal(() => brokerHeartbeat(image, { brokerId: 8, brokerEpoch: 0, caughtUp: true, wantFence: false }, clean)).errorCode).toBe(
      ErrorCode.BROKER_ID_NOT_REGISTERED,
    );
  });

  it('finds the live brokers whose session ran out', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 2, clean));
    const heard = new Map([
      [0, 10_000],
      [1, 1_000],
    ]);
    expect(expiredBrokers(image, heard, 10_000, 9_000)).toEqual([]);
    expect(expiredBrokers(image, heard, 10_001, 9_000)).toEqual([1]);
    expect(expiredBrokers(image, new Map(), 0, 9_000)).toEqual([0, 1]);
  });
});
