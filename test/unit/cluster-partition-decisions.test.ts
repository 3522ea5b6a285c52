// The controller's partition decisions: ISR changes reported by the leader (a lagging follower
// leaves, a caught-up one rejoins, the leader never leaves, stale epochs are refused) and leader
// elections (preferred: auto rebalance and ElectLeaders, naming what could not move and why;
// unclean on demand).
import { describe, expect, it } from 'vitest';
import { fenceBroker, unfenceBroker, type ControllerDefaults } from '../../broker/controller/cluster/broker-decisions.js';
import type { ClusterImage } from '../../broker/controller/cluster/image.js';
import { changeIsr, electLeaders, isrAfterLagCheck, rebalanceLeaders, type IsrChangeRequest } from '../../broker/controller/cluster/partition-decisions.js';
import { NO_LEADER } from '../../broker/controller/cluster/records.js';
import { ErrorCode, errorName } from '../../broker/protocol/errors.js';
import { applyAll, clusterWithOrders, decisionRefusal, ordersId, topicUuid } from '../support/cluster-images.js';

const clean: ControllerDefaults = { uncleanLeaderElection: false };

/** An ISR change from partition 0's current leader with its current epochs. */
function fromLeader(image: ClusterImage, isr: number[], overrides: Partial<IsrChangeRequest> = {}): IsrChangeRequest {
  const partition = image.partition(ordersId, 0)!;
  return {
    brokerId: partition.leader,
    topicId: ordersId,
    partitionIndex: 0,
    leaderEpoch: partition.leaderEpoch,
    partitionEpoch: partition.partitionEpoch,
    isr,
    ...overrides,
  };
}

describe('ISR changes from the leader', () => {
  it('shrinks when a follower lags and expands when it has caught up, keeping leader and leader epoch', () => {
    const { image, decide } = clusterWithOrders();
    decide(changeIsr(image, fromLeader(image, [0, 1])));
    expect(image.partition(ordersId, 0)).toMatchObject({ isr: [0, 1], leader: 0, leaderEpoch: 0, partitionEpoch: 1 });
    decide(changeIsr(image, fromLeader(image, [0, 1, 2])));
    expect(image.partition(ordersId, 0)).toMatchObject({ isr: [0, 1, 2], leader: 0, leaderEpoch: 0, partitionEpoch: 2 });
  });

  it('an unchanged ISR needs no record', () => {
    const { image } = clusterWithOrders();
    expect(changeIsr(image, fromLeader(image, [2, 1, 0]))).toEqual([]);
  });

  it.each([
    ['an ISR without the leader', (image: ClusterImage) => fromLeader(image, [1, 2]), 'INVALID_REQUEST', 'orders-0: the ISR [1,2] must keep the leader 0'],
    ['a sender that is not the leader', (image: ClusterImage) => fromLeader(image, [1], { brokerId: 1 }), 'NOT_LEADER_OR_FOLLOWER', 'broker 1 is not the leader (the leader is 0)'],
    ['a stale leader epoch', (image: ClusterImage) => fromLeader(image, [0], { leaderEpoch: 3 }), 'FENCED_LEADER_EPOCH', 'leader epoch 3 is not the current 0'],
    ['a stale partition epoch', (image: ClusterImage) => fromLeader(image, [0], { partitionEpoch: 5 }), 'INVALID_UPDATE_VERSION', 'partition epoch 5 is not the current 0'],
    ['a broker that is not a replica', (image: ClusterImage) => fromLeader(image, [0, 4]), 'INVALID_REQUEST', 'broker 4 is not a replica (replicas [0,1,2])'],
    ['a repeated broker', (image: ClusterImage) => fromLeader(image, [0, 0]), 'INVALID_REQUEST', 'repeats a broker'],
    ['an unknown topic id', (image: ClusterImage) => fromLeader(image, [0], { topicId: topicUuid(9) }), 'UNKNOWN_TOPIC_ID', `topic id ${topicUuid(9)} is unknown`],
    ['an unknown partition', (image: ClusterImage) => fromLeader(image, [0], { partitionIndex: 8 }), 'UNKNOWN_TOPIC_OR_PARTITION', 'topic orders has no partition 8'],
  ])('refuses %s', (_, make, code, message) => {
    const { image } = clusterWithOrders();
    const error = decisionRefusal(() => changeIsr(image, make(image)));
    expect(errorName(error.errorCode)).toBe(code);
    expect(error.message).toContain(message);
  });

  it('refuses adding a fenced broker back into the ISR', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 2, clean));
    const error = decisionRefusal(() => changeIsr(image, fromLeader(image, [0, 1, 2])));
    expect(error.errorCode).toBe(ErrorCode.INELIGIBLE_REPLICA);
    expect(error.message).toBe('orders-0: broker 2 cannot join the ISR: it is fenced or not registered');
  });

  it('the lag check drops followers not caught up within replica.lag.time.max.ms, never the leader', () => {
    const { image } = clusterWithOrders();
    const partition = image.partition(ordersId, 0)!;
    const caughtUp = new Map([
      [1, 95_000],
      [2, 60_000],
    ]);
    expect(isrAfterLagCheck(partition, caughtUp, 100_000, 30_000)).toEqual([0, 1]);
    expect(isrAfterLagCheck(partition, caughtUp, 100_000, 40_000)).toEqual([0, 1, 2]);
    expect(isrAfterLagCheck(partition, new Map(), 100_000, 30_000)).toEqual([0]);
  });
});

describe('preferred leader election', () => {
  /** Broker 0 fenced and back: it leads nothing until it rejoins the ISRs. */
  function afterRestartOfBroker0() {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    decide(unfenceBroker(image, 0, clean));
    return { image, decide };
  }

  it('names partitions it cannot move: preferred replica not in the ISR yet, or fenced', () => {
    const { image, decide } = afterRestartOfBroker0();
    const early = rebalanceLeaders(image);
    expect(early.records).toEqual([]);
    expect(early.results).toEqual([
      {
        topic: 'orders',
        partitionIndex: 0,
        errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
        message: 'the preferred replica, broker 0, is not in the ISR [1,2]: it has not caught up',
      },
    ]);
    decide(fenceBroker(image, 2, clean));
    const fenced = electLeaders(image, 'preferred', [{ topic: 'orders', partitionIndex: 2 }]);
    expect(fenced.results).toEqual([
      { topic: 'orders', partitionIndex: 2, errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, message: 'the preferred replica, broker 2, is fenced' },
    ]);
  });

  it('moves leadership back once the preferred replica is live and in the ISR, bumping the leader epoch', () => {
    const { image, decide } = afterRestartOfBroker0();
    decide(changeIsr(image, fromLeader(image, [1, 2, 0])));
    const decision = rebalanceLeaders(image);
    expect(decision.results).toEqual([]);
    decide(decision.records);
    expect(image.partition(ordersId, 0)).toMatchObject({ leader: 0, leaderEpoch: 2, isr: [1, 2, 0] });
    expect(rebalanceLeaders(image).records).toEqual([]);
  });

  it('ElectLeaders on demand answers per partition, including ones already led by the preferred replica and unknown ones', () => {
    const { image, decide } = afterRestartOfBroker0();
    decide(changeIsr(image, fromLeader(image, [1, 2, 0])));
    const decision = electLeaders(image, 'preferred', [
      { topic: 'orders', partitionIndex: 0 },
      { topic: 'orders', partitionIndex: 1 },
      { topic: 'orders', partitionIndex: 0 },
      { topic: 'gone', partitionIndex: 0 },
    ]);
    expect(decision.records).toHaveLength(1);
    expect(decision.results).toEqual([
      { topic: 'orders', partitionIndex: 0, errorCode: ErrorCode.NONE, message: null },
      { topic: 'orders', partitionIndex: 1, errorCode: ErrorCode.ELECTION_NOT_NEEDED, message: 'broker 1, the preferred replica, already leads' },
      { topic: 'gone', partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: 'partition gone-0 does not exist' },
    ]);
  });
});

describe('unclean leader election on demand', () => {
  it('gives an offline partition to the first live replica, or says none is live', () => {
    const { image, decide } = clusterWithOrders();
    decide(fenceBroker(image, 0, clean));
    decide(fenceBroker(image, 1, clean));
    decide(fenceBroker(image, 2, clean));
    const none = electLeaders(image, 'unclean', [{ topic: 'orders', partitionIndex: 0 }]);
    expect(none.results[0]).toMatchObject({ errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, message: 'no replica of [0,1,2] is live' });
    decide(unfenceBroker(image, 1, clean));
    expect(image.partition(ordersId, 0)!.leader).toBe(NO_LEADER);
    const decision = electLeaders(image, 'unclean', null);
    decide(decision.records);
    expect(image.partition(ordersId, 0)).toMatchObject({ leader: 1, isr: [1] });
    expect(decision.results.map((result) => result.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE]);
    expect(electLeaders(image, 'unclean', null).results.map((result) => result.errorCode)).toEqual([
      ErrorCode.ELECTION_NOT_NEEDED,
      ErrorCode.ELECTION_NOT_NEEDED,
      ErrorCode.ELECTION_NOT_NEEDED,
    ]);
  });

  it('prefers a live ISR member when one is there', () => {
    const { image, decide } = clusterWithOrders();
    decide([{ type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: [0, 2], leader: -2 }]);
    // Records written by hand, not by the decisions: an offline partition whose ISR [0, 2]
    // has a live member, which only an unclean election on demand would then repair.
    applyAll(image, [
      { type: 'fence-broker', brokerId: 0, brokerEpoch: 0 },
      { type: 'partition-change', topicId: ordersId, partitionIndex: 0, isr: null, leader: NO_LEADER },
    ]);
    const decision = electLeaders(image, 'unclean', [{ topic: 'orders', partitionIndex: 0 }]);
    applyAll(image, decision.records);
    expect(image.partition(ordersId, 0)).toMatchObject({ leader: 2, isr: [0, 2] });
  });
});
