// Consumer groups against a real broker process with real clients: kafkajs members sharing a
// topic's partitions and handing them over without losing or repeating a message, groups
// reading independently, committed offsets surviving a restart, and kcat's balanced consumer.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaClient, type KafkaClient, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { kcatPath } from '../support/kcat.js';

type Consumer = ReturnType<KafkaClient['consumer']>;

interface Processed {
  member: string;
  partition: number;
  offset: number;
  value: string;
}

interface Member {
  name: string;
  consumer: Consumer;
  /** The member's latest assignment of `topic`. */
  assigned(): number[];
  stop(): Promise<void>;
}

let broker: BrokerProcess;
let kafka: KafkaClient;

beforeAll(async () => {
  broker = await startBroker();
  kafka = kafkaClient(broker.bootstrap);
});

afterAll(async () => {
  await broker?.dispose();
});

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true }));
}

/** Sends `count` messages spread round-robin over the partitions; returns their values. */
async function produce(topic: string, partitions: number, prefix: string, count: number): Promise<string[]> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const messages = Array.from({ length: count }, (_, i) => ({ partition: i % partitions, value: `${prefix}-${i}` }));
    await producer.send({ topic, acks: -1, messages });
    return messages.map((m) => m.value);
  } finally {
    await producer.disconnect();
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A kafkajs member that records every message it processes and commits right after processing
 * it (before the next one), so a clean hand-over must neither skip nor repeat a message.
 */
async function startMember(name: string, groupId: string, topic: string, processed: Processed[], metadataMaxAge?: number): Promise<Member> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100, metadataMaxAge });
  let assigned: number[] = [];
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      processed.push({ member: name, partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    },
  });
  return { name, consumer, assigned: () => assigned, stop: () => consumer.disconnect() };
}

/** True when the members' assignments split `partitions` evenly with no partition twice. */
function evenlyShared(members: readonly Member[], partitions: number): boolean {
  const all = members.flatMap((m) => m.assigned());
  const each = partitions / members.length;
  return members.every((m) => m.assigned().length === each) && new Set(all).size === partitions;
}

function countsByValue(processed: readonly Processed[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of processed) counts.set(p.value, (counts.get(p.value) ?? 0) + 1);
  return counts;
}

async function stopAll(members: readonly Member[]): Promise<void> {
  await Promise.allSettled(members.map((m) => m.stop()));
}

describe('consumer groups with kafkajs', () => {
  it('three members share six partitions; a member leaving and one joining hand over every message exactly once; another group reads independently', async () => {
    const topic = 'group-shared';
    await createTopic(topic, 6);
    const processed: Processed[] = [];
    const members = await Promise.all(['a', 'b', 'c'].map((name) => startMember(name, 'sharers', topic, processed)));
    try {
      await waitFor('three members with two partitions each', () => evenlyShared(members, 6));

      const firstWave = await produce(topic, 6, 'first', 120);
      await waitFor('the first wave processed', () => countsByValue(processed).size === firstWave.length);
      const byMember = new Map(members.map((m) => [m.name, new Set(processed.filter((p) => p.member === m.name).map((p) => p.partition))]));
      for (const member of members) expect([...byMember.get(member.name)!].sort()).toEqual(member.assigned());

      // Membership changes while messages keep arriving.
      await members[0]!.stop();
      const secondWaveSending = produce(topic, 6, 'second', 120);
      members.push(await startMember('d', 'sharers', topic, processed));
      const secondWave = await secondWaveSending;
      const remaining = members.slice(1);
      await waitFor('b, c and d sharing the partitions', () => evenlyShared(remaining, 6));
      await waitFor('the second wave processed', () => countsByValue(processed).size === firstWave.length + secondWave.length);

      const counts = countsByValue(processed);
      expect([...counts.keys()].sort()).toEqual([...firstWave, ...secondWave].sort());
      expect([...counts.entries()].filter(([, count]) => count > 1)).toEqual([]);
      const afterLeaving = processed.filter((p) => p.member === 'a' && p.value.startsWith('second'));
      expect(afterLeaving).toEqual([]);
    } finally {
      await stopAll(members);
    }

    // A second group starts from the beginning, unaffected by the first group's commits.
    const otherProcessed: Processed[] = [];
    const other = await startMember('solo', 'independent', topic, otherProcessed);
    try {
      await waitFor('the other group reading everything', () => countsByValue(otherProcessed).size === 240);
      expect(otherProcessed).toHaveLength(240);
    } finally {
      await other.stop();
    }
  });

  it('rebalances onto partitions added to a subscribed topic (the leader notices the metadata change, as with Kafka)', async () => {
    const topic = 'group-growing';
    await createTopic(topic, 2);
    const processed: Processed[] = [];
    const members = await Promise.all(['x', 'y'].map((name) => startMember(name, 'growers', topic, processed, 500)));
    try {
      await waitFor('two members with one partition each', () => evenlyShared(members, 2));
      await withAdmin(kafka, (admin) => admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] }));
      await waitFor('the four partitions shared by both members', () => evenlyShared(members, 4));
      const sent = await produce(topic, 4, 'grown', 40);
      await waitFor('messages on every partition processed', () => countsByValue(processed).size === sent.length);
      expect(new Set(processed.map((p) => p.partition))).toEqual(new Set([0, 1, 2, 3]));
    } finally {
      await stopAll(members);
    }
  });

  it('resumes from committed offsets after a broker restart', async () => {
    const topic = 'group-resume';
    await createTopic(topic, 2);
    const before = await produce(topic, 2, 'before', 50);
    const firstRun: Processed[] = [];
    const first = await startMember('first', 'resumers', topic, firstRun);
    try {
      await waitFor('everything before the restart processed', () => countsByValue(firstRun).size === before.length);
    } finally {
      await first.stop();
    }

    await broker.stop();
    await broker.restart();

    const [committed] = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: 'resumers', topics: [topic] }));
    expect(committed?.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '25'],
      [1, '25'],
    ]);

    const after = await produce(topic, 2, 'after', 30);
    const secondRun: Processed[] = [];
    const second = await startMember('second', 'resumers', topic, secondRun);
    try {
      await waitFor('everything after the restart processed', () => countsByValue(secondRun).size === after.length);
      // Offsets are consumed in order per partition: had the commits been lost, the old
      // messages would have come first.
      expect(secondRun.map((p) => p.value).sort()).toEqual([...after].sort());
    } finally {
      await second.stop();
    }
  });
});

describe('consumer groups through the kafkajs admin client', () => {
  it('sets, lists, describes and deletes groups, refusing to delete one with members', async () => {
    const topic = 'group-admin';
    await createTopic(topic, 3);
    const admin = kafka.admin();
    await admin.connect();
    const processed: Processed[] = [];
    let member: Member | null = null;
    try {
      // Offsets set by a tool, for a group that has no members yet.
      await admin.setOffsets({ groupId: 'administered', topic, partitions: [{ partition: 0, offset: '2' }, { partition: 2, offset: '1' }] });
      const sent = await produce(topic, 3, 'admin', 9);
      member = await startMember('m', 'administered', topic, processed);
      // The member starts where the offsets were set: 1 + 3 + 2 of the 9 messages.
      await waitFor('the member consuming from the set offsets', () => processed.length >= 6);
      const skipped = ['admin-0', 'admin-3', 'admin-2']; // offsets 0-1 of partition 0, offset 0 of partition 2
      expect(processed.map((p) => p.value).sort()).toEqual(sent.filter((value) => !skipped.includes(value)).sort());

      const { groups } = await admin.listGroups();
      expect(groups).toContainEqual({ groupId: 'administered', protocolType: 'consumer' });
      const [described] = (await admin.describeGroups(['administered'])).groups;
      expect(described).toMatchObject({ groupId: 'administered', state: 'Stable', protocolType: 'consumer' });
      expect(described?.members).toHaveLength(1);

      await expect(admin.deleteGroups(['administered'])).rejects.toMatchObject({
        name: 'KafkaJSDeleteGroupsError',
        groups: [expect.objectContaining({ groupId: 'administered', errorCode: 68 })],
      });
      await member.stop();
      member = null;
      expect(await admin.deleteGroups(['administered'])).toEqual([expect.objectContaining({ groupId: 'administered', errorCode: 0 })]);
      const [afterDelete] = await admin.fetchOffsets({ groupId: 'administered', topics: [topic] });
      expect(afterDelete?.partitions.map((p) => p.offset)).toEqual(['-1', '-1', '-1']);
    } finally {
      await member?.stop();
      await admin.disconnect();
    }
  });
});

describe('consumer groups across a broker crash', () => {
  it('members keep their generation through kill -9 and a restart, and no message is lost', async () => {
    const topic = 'group-crash';
    await createTopic(topic, 4);
    const processed: Processed[] = [];
    const joins: string[] = [];
    const members = await Promise.all(['p', 'q'].map((name) => startMember(name, 'survivors', topic, processed)));
    for (const member of members) member.consumer.on(member.consumer.events.GROUP_JOIN, () => joins.push(member.name));
    try {
      await waitFor('two members with two partitions each', () => evenlyShared(members, 4));
      const before = await produce(topic, 4, 'before-crash', 40);
      await waitFor('messages before the crash processed', () => before.every((v) => countsByValue(processed).has(v)));
      const joinsBeforeCrash = joins.length;

      await broker.kill9();
      await broker.restart();
      const after = await produce(topic, 4, 'after-crash', 40);
      await waitFor('messages after the crash processed', () => after.every((v) => countsByValue(processed).has(v)));

      // At least once: nothing lost (a message processed just before its commit was cut off may repeat).
      expect(new Set(processed.map((p) => p.value))).toEqual(new Set([...before, ...after]));
      // The restored generation was still valid: the members carried on without rejoining.
      expect(joins.length).toBe(joinsBeforeCrash);
    } finally {
      await stopAll(members);
    }
  });
});

describe('consumer groups with kcat (librdkafka)', () => {
  interface KcatMember {
    process: ChildProcess;
    lines: string[];
  }

  function startKcatMember(topic: string, groupId: string): KcatMember {
    const child = spawn(
      kcatPath,
      ['-b', broker.bootstrap, '-G', groupId, '-X', 'auto.offset.reset=earliest', '-f', '%p %o %s\\n', '-u', '-q', topic],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const member: KcatMember = { process: child, lines: [] };
    let pending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      pending += text;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      member.lines.push(...complete.filter((line) => line.length > 0));
    });
    return member;
  }

  async function stopKcat(member: KcatMember): Promise<void> {
    if (member.process.exitCode !== null || member.process.signalCode !== null) return;
    const exited = new Promise((resolve) => member.process.once('exit', resolve));
    member.process.kill('SIGTERM');
    await exited;
  }

  it('two `kcat -G` members consume every message exactly once between them', async () => {
    const topic = 'group-kcat';
    await createTopic(topic, 4);
    const members = [startKcatMember(topic, 'kcat-group'), startKcatMember(topic, 'kcat-group')];
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor('both kcat members in a stable group', async () => {
        const { groups } = await admin.describeGroups(['kcat-group']);
        return groups[0]?.state === 'Stable' && groups[0].members.length === 2;
      });
      const sent = await produce(topic, 4, 'kcat', 200);
      await waitFor('kcat members consuming every message', () => members.reduce((n, m) => n + m.lines.length, 0) >= sent.length);
      await Promise.all(members.map(stopKcat));

      const values = members.flatMap((m) => m.lines.map((line) => line.split(' ').slice(2).join(' ')));
      expect(values.sort()).toEqual([...sent].sort());
      // The partitions were split between the two members: both consumed something.
      expect(members.every((m) => m.lines.length > 0)).toBe(true);

      const [committed] = await admin.fetchOffsets({ groupId: 'kcat-group', topics: [topic] });
      expect(committed?.partitions.map((p) => Number(p.offset)).reduce((a, b) => a + b, 0)).toBe(sent.length);
    } finally {
      await Promise.all(members.map(stopKcat));
      await admin.disconnect();
    }
  });
});

