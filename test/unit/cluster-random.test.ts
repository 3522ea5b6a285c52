// Randomized controller runs: seeded sequences of valid events (brokers registering, restarting,
// timing out, shutting down and catching up; topics created, grown and deleted; leaders
// shrinking and expanding ISRs; rebalances and unclean elections; unclean election switched
// per topic) go through the decisions, their records through the byte encoding, and the image
// is checked after every event: leader ∈ ISR ⊆ replicas, the leader epoch rises on every leader
// change, no partition with a live ISR member lacks a leader, fenced brokers lead nothing and
// stay in no ISR but as its last member. Every so often the image is snapshotted and the run
// goes on from the restored copy. A failure names the seed and step to replay.
import { describe, expect, it } from 'vitest';
import { brokerHeartbeat, expiredBrokers, fenceBroker, registerBroker, type ControllerDefaults } from '../../broker/controller/cluster/broker-decisions.js';
import { ClusterImage, type PartitionState } from '../../broker/controller/cluster/image.js';
import { changeIsr, electLeaders, rebalanceLeaders } from '../../broker/controller/cluster/partition-decisions.js';
import { NO_LEADER, decodeClusterRecord, encodeClusterRecord, type ClusterRecord } from '../../broker/controller/cluster/records.js';
import { alterTopicConfigs, createPartitions, createTopic, deleteTopic } from '../../broker/controller/cluster/topic-decisions.js';
import { ClusterInvariants, applyAll, incarnation, topicUuid } from '../support/cluster-images.js';
import { seededRandom } from '../support/seeded-random.js';

interface Stats {
  leaderChanges: number;
  offline: number;
  uncleanElections: number;
  isrShrinks: number;
  isrExpands: number;
  restarts: number;
  rebalanced: number;
}

function run(seed: number, steps: number, stats: Stats): void {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[Math.floor(random() * items.length)]);
  const defaults: ControllerDefaults = { uncleanLeaderElection: random() < 0.3 };
  const brokerIds = Array.from({ length: 3 + Math.floor(random() * 3) }, (_, i) => i);
  const generation = new Map<number, number>();
  let image = applyAll(new ClusterImage(), [
    { type: 'cluster-id', clusterId: `seed-${seed}` },
    { type: 'feature-level', name: 'metadata.version', featureLevel: 1 },
  ]);
  const invariants = new ClusterInvariants();
  let topicCount = 0;

  const commit = (records: readonly ClusterRecord[]) => {
    const before = new Map(allPartitions(image).map((p) => [`${p.topicId}/${p.partitionIndex}`, p]));
    for (const record of records) image.apply(decodeClusterRecord(encodeClusterRecord(record)));
    for (const partition of allPartitions(image)) {
      const old = before.get(`${partition.topicId}/${partition.partitionIndex}`);
      if (old && old.leader !== partition.leader) stats.leaderChanges++;
      if (old && old.leader !== NO_LEADER && partition.leader === NO_LEADER) stats.offline++;
    }
  };

  const register = (brokerId: number) => {
    const next = (generation.get(brokerId) ?? -1) + 1;
    generation.set(brokerId, next);
    const listeners = [{ name: 'INTERNAL', host: `b${brokerId}`, port: 9092 }];
    commit(registerBroker(image, { brokerId, incarnationId: incarnation(brokerId, next), listeners, rack: null }, defaults, false).records);
  };

  for (const id of brokerIds) register(id);

  const events: [weight: number, name: string, act: () => void][] = [
    [3, 'catch up', () => {
      const broker = pick(image.brokers().filter((b) => b.fenced));
      if (broker) commit(brokerHeartbeat(image, { brokerId: broker.brokerId, brokerEpoch: broker.brokerEpoch, caughtUp: true, wantFence: false }, defaults).records);
    }],
    [2, 'session timeout', () => {
      const live = image.liveBrokers();
      const heard = new Map(live.map((b) => [b.brokerId, random() < 0.3 ? 0 : 100_000]));
      const expired = expiredBrokers(image, heard, 100_000, 30_000);
      // Fenced one at a time, each on the image with the previous one applied.
      for (const brokerId of expired) {
        commit(fenceBroker(image, brokerId, defaults));
        expectFencedOut(image, brokerId);
      }
    }],
    [1, 'controlled shutdown', () => {
      const broker = pick(image.liveBrokers());
      if (!broker) return;
      commit(brokerHeartbeat(image, { brokerId: broker.brokerId, brokerEpoch: broker.brokerEpoch, caughtUp: true, wantFence: true }, defaults).records);
      expectFencedOut(image, broker.brokerId);
    }],
    [1, 'restart', () => {
      const brokerId = pick(brokerIds)!;
      register(brokerId);
      stats.restarts++;
      expectFencedOut(image, brokerId);
    }],
    [2, 'create topic', () => {
      const live = image.liveBrokers().length;
      if (live === 0) return;
      const name = `t${topicCount}`;
      const configs: Record<string, string> = random() < 0.3 ? { 'unclean.leader.election.enable': String(random() < 0.5) } : {};
      commit(createTopic(image, { name, topicId: topicUuid(++topicCount), partitions: 1 + Math.floor(random() * 4), replicationFactor: 1 + Math.floor(random() * live), configs }));
    }],
    [1, 'create partitions', () => {
      const topic = pick(image.topics());
      if (!topic || topic.partitions[0]!.replicas.length > image.liveBrokers().length) return;
      commit(createPartitions(image, { name: topic.name, count: topic.partitions.length + 1 + Math.floor(random() * 2) }));
    }],
    [2, 'delete topic', () => {
      const topic = pick(image.topics());
      if (topic) commit(deleteTopic(image, topic.name));
    }],
    [1, 'switch unclean election', () => {
      const topic = pick(image.topics());
      if (topic) commit(alterTopicConfigs(image, { name: topic.name, set: { 'unclean.leader.election.enable': String(random() < 0.5) }, remove: [] }));
    }],
    [4, 'ISR shrink', () => {
      const partition = pick(allPartitions(image).filter((p) => p.leader !== NO_LEADER && p.isr.length > 1));
      if (!partition) return;
      const lagging = pick(partition.isr.filter((id) => id !== partition.leader))!;
      commit(changeIsr(image, isrChange(partition, partition.isr.filter((id) => id !== lagging))));
      stats.isrShrinks++;
    }],
    [4, 'ISR expand', () => {
      const candidates = allPartitions(image).flatMap((p) =>
        p.leader === NO_LEADER ? [] : p.replicas.filter((id) => !p.isr.includes(id) && image.isLive(id)).map((id) => ({ p, id })),
      );
      const chosen = pick(candidates);
      if (!chosen) return;
      commit(changeIsr(image, isrChange(chosen.p, [...chosen.p.isr, chosen.id])));
      stats.isrExpands++;
    }],
    [2, 'auto rebalance', () => {
      const decision = rebalanceLeaders(image);
      stats.rebalanced += decision.records.length;
      commit(decision.records);
      for (const result of decision.results) expect(result.message).toMatch(/preferred replica, broker \d+, is/);
    }],
    [1, 'unclean election on demand', () => {
      const decision = electLeaders(image, 'unclean', null);
      stats.uncleanElections += decision.records.length;
      commit(decision.records);
    }],
  ];
  const totalWeight = events.reduce((sum, [weight]) => sum + weight, 0);

  for (let step = 0; step < steps; step++) {
    let roll = random() * totalWeight;
    const [, name, act] = events.find(([weight]) => (roll -= weight) < 0) ?? events[0]!;
    try {
      act();
      invariants.check(image);
      if (step % 25 === 24) {
        const restored = ClusterImage.restore(image.snapshot());
        expect(restored.records()).toEqual(image.records());
        image = restored;
      }
    } catch (error) {
      throw new Error(`seed ${seed}, step ${step} (${name}): ${(error as Error).message}`, { cause: error });
    }
  }
}

function allPartitions(image: ClusterImage): PartitionState[] {
  return image.topics().flatMap((topic) => [...topic.partitions]);
}

function isrChange(partition: PartitionState, isr: number[]) {
  return {
    brokerId: partition.leader,
    topicId: partition.topicId,
    partitionIndex: partition.partitionIndex,
    leaderEpoch: partition.leaderEpoch,
    partitionEpoch: partition.partitionEpoch,
    isr,
  };
}

/** A fenced broker leads nothing and is in no ISR except as its only member. */
function expectFencedOut(image: ClusterImage, brokerId: number): void {
  if (image.isLive(brokerId)) throw new Error(`broker ${brokerId} is still live after fencing`);
  for (const partition of allPartitions(image)) {
    const stays = partition.leader === brokerId || (partition.isr.includes(brokerId) && partition.isr.length > 1);
    if (stays) throw new Error(`fenced broker ${brokerId} still leads or shares the ISR of partition ${partition.partitionIndex}: isr [${partition.isr}], leader ${partition.leader}`);
  }
}

describe('randomized controller decisions', () => {
  it('keep every invariant over 20 seeded runs of 200 events, and the runs reach every kind of change', { timeout: 60_000 }, () => {
    const stats: Stats = { leaderChanges: 0, offline: 0, uncleanElections: 0, isrShrinks: 0, isrExpands: 0, restarts: 0, rebalanced: 0 };
    for (let seed = 1; seed <= 20; seed++) run(seed, 200, stats);
    for (const [name, count] of Object.entries(stats)) expect(count, name).toBeGreaterThan(0);
  });
});
