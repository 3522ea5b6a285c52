// Changing topic configs at runtime: AlterConfigs from kafkajs and kafka-python (which have no
// IncrementalAlterConfigs) and IncrementalAlterConfigs through the broker's own wire client,
// against real broker processes. A changed config shows in DescribeConfigs and acts on the
// logs without a restart; on a three-broker cluster a change sent to a broker that is not the
// controller reaches every broker, and min.insync.replicas decides whether acks=all writes pass.
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KafkaClient } from '../../broker/net/kafka-client.js';
import { describeConfigsApi } from '../../broker/protocol/apis/32-describe-configs.js';
import { ConfigOperation, incrementalAlterConfigsApi } from '../../broker/protocol/apis/44-incremental-alter-configs.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { kafkaClient, withAdmin, type KafkaAdmin } from '../support/broker-clients.js';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { activeController } from '../support/broker-metrics.js';
import { waitForView } from '../support/cluster-faults.js';
import { systemPython } from '../support/python-clients.js';

const topicResource = 2;
const brokerResource = 4;

async function withWire<T>(address: string, use: (client: KafkaClient) => Promise<T>): Promise<T> {
  const [host, port] = address.split(':');
  const client = await KafkaClient.connect({ host: host!, port: Number(port) }, { clientId: 'alter-configs-test' });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

type Operation = { name: string; configOperation: number; value: string | null };

/** One IncrementalAlterConfigs v1 request for one resource; its single result. */
async function incrementalAlter(address: string, resourceType: number, resourceName: string, configs: Operation[], validateOnly = false) {
  const response = await withWire(address, (client) =>
    client.request(incrementalAlterConfigsApi, 1, { resources: [{ resourceType, resourceName, configs }], validateOnly }, { timeoutMs: 40_000 }),
  );
  expect(response.responses).toHaveLength(1);
  return response.responses[0]!;
}

/** The topic's configs that are overridden (not at their defaults), as kafkajs's DescribeConfigs reports them. */
async function overrides(admin: KafkaAdmin, topic: string): Promise<Record<string, string>> {
  const described = await admin.describeConfigs({ resources: [{ type: topicResource, name: topic }], includeSynonyms: false });
  const entries = described.resources[0]?.configEntries ?? [];
  return Object.fromEntries(entries.filter((entry) => !entry.isDefault).map((entry) => [entry.configName, entry.configValue]));
}

/** The Kafka error type of a kafkajs failure, looking through its retry wrappers. */
function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  while (current instanceof Error) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { cause?: unknown; originalError?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

async function sendFailure(send: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await send();
  } catch (error) {
    return kafkaErrorType(error) ?? String(error);
  }
  return 'sent';
}

const pythonAlterConfigs = `
import json, sys
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], client_id='alter-configs-test')
response = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, sys.argv[2], configs=json.loads(sys.argv[3]))])
print(json.dumps([{'errorCode': r[0], 'errorMessage': r[1]} for r in response.resources]))
admin.close()
`;

const pythonResultSchema = z.array(z.object({ errorCode: z.number().int(), errorMessage: z.string().nullable() }));

async function kafkaPythonAlterConfigs(bootstrap: string, topic: string, configs: Record<string, string>) {
  const result = await execa(systemPython, ['-c', pythonAlterConfigs, bootstrap, topic, JSON.stringify(configs)], { reject: false, timeout: 60_000 });
  if (result.exitCode !== 0) throw new Error(`kafka-python alter_configs failed: ${result.stderr}`);
  return pythonResultSchema.parse(JSON.parse(String(result.stdout)));
}

describe('topic configs on one broker', () => {
  let broker: BrokerProcess;
  let admin: KafkaAdmin;

  beforeAll(async () => {
    broker = await startBroker({ args: ['--default-partitions', '1'] });
    admin = kafkaClient(broker.bootstrap).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await broker?.dispose();
  });

  it('kafkajs AlterConfigs sets retention.ms and replaces the whole override set; validateOnly changes nothing', async () => {
    await admin.createTopics({ topics: [{ topic: 'retained', configEntries: [{ name: 'segment.bytes', value: '1048576' }] }] });
    expect(await overrides(admin, 'retained')).toEqual({ 'segment.bytes': '1048576' });

    await admin.alterConfigs({ validateOnly: true, resources: [{ type: topicResource, name: 'retained', configEntries: [{ name: 'retention.ms', value: '1000' }] }] });
    expect(await overrides(admin, 'retained')).toEqual({ 'segment.bytes': '1048576' });

    // AlterConfigs names the topic's configs in full: segment.bytes, left out, returns to its default.
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: topicResource, name: 'retained', configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    expect(await overrides(admin, 'retained')).toEqual({ 'retention.ms': '3600000' });
  });

  it('kafka-python AlterConfigs sets configs, and reports an invalid value as INVALID_CONFIG', async () => {
    await admin.createTopics({ topics: [{ topic: 'from-python' }] });
    expect(await kafkaPythonAlterConfigs(broker.bootstrap, 'from-python', { 'retention.bytes': '2097152', 'cleanup.policy': 'delete' })).toEqual([
      { errorCode: ErrorCode.NONE, errorMessage: null },
    ]);
    expect(await overrides(admin, 'from-python')).toEqual({ 'retention.bytes': '2097152', 'cleanup.policy': 'delete' });
    const [refused] = await kafkaPythonAlterConfigs(broker.bootstrap, 'from-python', { 'retention.bytes': 'lots' });
    expect(refused?.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(refused?.errorMessage).toContain('retention.bytes');
    expect(await overrides(admin, 'from-python')).toEqual({ 'retention.bytes': '2097152', 'cleanup.policy': 'delete' });
  });

  it('IncrementalAlterConfigs SET and DELETE change only the configs they name', async () => {
    await admin.createTopics({ topics: [{ topic: 'incremental', configEntries: [{ name: 'retention.bytes', value: '1048576' }] }] });
    const set = await incrementalAlter(broker.bootstrap, topicResource, 'incremental', [
      { name: 'retention.ms', configOperation: ConfigOperation.set, value: '7200000' },
      { name: 'message.timestamp.type', configOperation: ConfigOperation.set, value: 'LogAppendTime' },
    ]);
    expect(set).toMatchObject({ errorCode: ErrorCode.NONE, resourceName: 'incremental', resourceType: topicResource });
    expect(await overrides(admin, 'incremental')).toEqual({ 'retention.bytes': '1048576', 'retention.ms': '7200000', 'message.timestamp.type': 'LogAppendTime' });

    const removed = await incrementalAlter(broker.bootstrap, topicResource, 'incremental', [{ name: 'retention.bytes', configOperation: ConfigOperation.delete, value: null }]);
    expect(removed.errorCode).toBe(ErrorCode.NONE);
    expect(await overrides(admin, 'incremental')).toEqual({ 'retention.ms': '7200000', 'message.timestamp.type': 'LogAppendTime' });

    const validated = await incrementalAlter(broker.bootstrap, topicResource, 'incremental', [{ name: 'retention.ms', configOperation: ConfigOperation.delete, value: null }], true);
    expect(validated.errorCode).toBe(ErrorCode.NONE);
    expect(await overrides(admin, 'incremental')).toEqual({ 'retention.ms': '7200000', 'message.timestamp.type': 'LogAppendTime' });
  });

  it('refuses invalid values, unknown topics, list operations and broker resources, each with a message', async () => {
    await admin.createTopics({ topics: [{ topic: 'guarded' }] });
    const invalid = await incrementalAlter(broker.bootstrap, topicResource, 'guarded', [{ name: 'retention.ms', configOperation: ConfigOperation.set, value: 'forever' }]);
    expect(invalid.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(invalid.errorMessage).toBe('topic guarded: topic config retention.ms="forever" is invalid: expected milliseconds, or -1 for no limit');
    const unsupported = await incrementalAlter(broker.bootstrap, topicResource, 'guarded', [{ name: 'compression.type', configOperation: ConfigOperation.set, value: 'zstd' }]);
    expect(unsupported.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(unsupported.errorMessage).toContain('unsupported topic config "compression.type"');

    const missing = await incrementalAlter(broker.bootstrap, topicResource, 'no-such-topic', [{ name: 'retention.ms', configOperation: ConfigOperation.set, value: '1000' }]);
    expect(missing.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(missing.errorMessage).toContain('no-such-topic');

    const appended = await incrementalAlter(broker.bootstrap, topicResource, 'guarded', [{ name: 'cleanup.policy', configOperation: ConfigOperation.append, value: 'delete' }]);
    expect(appended.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(appended.errorMessage).toContain('APPEND of config cleanup.policy');

    const brokerWide = await incrementalAlter(broker.bootstrap, brokerResource, '0', [{ name: 'min.insync.replicas', configOperation: ConfigOperation.set, value: '1' }]);
    expect(brokerWide.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(brokerWide.errorMessage).toContain('command-line flags');
    await expect(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: brokerResource, name: '0', configEntries: [{ name: 'log.retention.ms', value: '1' }] }] }),
    ).rejects.toMatchObject({ type: 'INVALID_REQUEST' });
    expect(await overrides(admin, 'guarded')).toEqual({});
  });

  it('a lowered max.message.bytes refuses a larger produce at once, without a restart', async () => {
    await admin.createTopics({ topics: [{ topic: 'bounded' }] });
    const producer = kafkaClient(broker.bootstrap).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    try {
      const message = { value: 'x'.repeat(4096) };
      await producer.send({ topic: 'bounded', acks: -1, messages: [message] });
      const lowered = await incrementalAlter(broker.bootstrap, topicResource, 'bounded', [{ name: 'max.message.bytes', configOperation: ConfigOperation.set, value: '1024' }]);
      expect(lowered.errorCode).toBe(ErrorCode.NONE);
      expect(await sendFailure(() => producer.send({ topic: 'bounded', acks: -1, messages: [message] }))).toBe('MESSAGE_TOO_LARGE');
      await producer.send({ topic: 'bounded', acks: -1, messages: [{ value: 'small' }] });
      const restored = await incrementalAlter(broker.bootstrap, topicResource, 'bounded', [{ name: 'max.message.bytes', configOperation: ConfigOperation.delete, value: null }]);
      expect(restored.errorCode).toBe(ErrorCode.NONE);
      await producer.send({ topic: 'bounded', acks: -1, messages: [message] });
    } finally {
      await producer.disconnect();
    }
  });
});

describe('topic configs across a restart', () => {
  it('a changed max.message.bytes still acts after the broker restarts (its logs open before the metadata is replayed)', async () => {
    const broker = await startBroker({ args: ['--default-partitions', '1'] });
    try {
      await withAdmin(kafkaClient(broker.bootstrap), (admin) => admin.createTopics({ topics: [{ topic: 'bounded' }] }));
      const lowered = await incrementalAlter(broker.bootstrap, topicResource, 'bounded', [{ name: 'max.message.bytes', configOperation: ConfigOperation.set, value: '1024' }]);
      expect(lowered.errorCode).toBe(ErrorCode.NONE);
      await broker.restart();
      const producer = kafkaClient(broker.bootstrap).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      try {
        expect(await sendFailure(() => producer.send({ topic: 'bounded', acks: -1, messages: [{ value: 'x'.repeat(4096) }] }))).toBe('MESSAGE_TOO_LARGE');
        await producer.send({ topic: 'bounded', acks: -1, messages: [{ value: 'small' }] });
      } finally {
        await producer.disconnect();
      }
    } finally {
      await broker.dispose();
    }
  });
});

describe('topic configs on a three-broker cluster', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.dispose();
    cluster = undefined;
  });

  it('min.insync.replicas changed through a broker that is not the controller decides whether acks=all writes pass', async () => {
    // The leader drops a silent follower after 1 s, well before its controller session (10 s) runs out.
    const current = await startCluster({ extraArgs: ['--replica-lag-time-max-ms', '1000', '--broker-session-timeout-ms', '10000'] });
    cluster = current;
    await Promise.all(current.brokers.map((broker) => current.waitReady(broker.nodeId)));
    const controller = await activeController(current);
    const leader = (controller + 1) % 3;
    const follower = (controller + 2) % 3;
    const kafka = kafkaClient(current.bootstrap);
    await withAdmin(kafka, (admin) =>
      admin.createTopics({ topics: [{ topic: 'guarded', replicaAssignment: [{ partition: 0, replicas: [leader, follower, controller] }] }], waitForLeaders: true }),
    );
    await waitForView(current, 'guarded', 'guarded fully replicated', (view) => view.partitions[0]?.isr.length === 3);

    const viaFollower = current.brokers[follower]!.externalBootstrap;
    const raised = await incrementalAlter(viaFollower, topicResource, 'guarded', [{ name: 'min.insync.replicas', configOperation: ConfigOperation.set, value: '3' }]);
    expect(raised.errorCode).toBe(ErrorCode.NONE);
    // The broker asked answers once it has applied the change itself; the others follow the metadata log.
    expect(await describedValue(viaFollower, 'guarded', 'min.insync.replicas')).toBe('3');
    for (const broker of current.brokers) await waitForConfig(broker.externalBootstrap, 'guarded', 'min.insync.replicas', '3');

    // Bootstrapped without the follower about to be paused: kafkajs sends Metadata to any broker
    // it is connected to, and one that never answers would fail the send with no retries.
    const unpaused = current.brokers.filter((broker) => broker.nodeId !== follower).map((broker) => broker.externalBootstrap).join(',');
    const producer = kafkaClient(unpaused).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({ topic: 'guarded', acks: -1, messages: [{ value: 'all three in sync' }] });
      current.pause(follower);
      try {
        // Asked of the leader itself, which decides the produce below: another broker may apply the change first.
        await waitForView(current, 'guarded', `broker ${follower} out of the ISR`, (view) => view.partitions[0]?.isr.length === 2, 30_000, [follower, controller]);
        expect(await sendFailure(() => producer.send({ topic: 'guarded', acks: -1, messages: [{ value: 'two in sync' }] }))).toBe('NOT_ENOUGH_REPLICAS');

        const viaController = current.brokers[controller]!.externalBootstrap;
        const lowered = await incrementalAlter(viaController, topicResource, 'guarded', [{ name: 'min.insync.replicas', configOperation: ConfigOperation.set, value: '2' }]);
        expect(lowered.errorCode).toBe(ErrorCode.NONE);
        expect(await describedValue(viaController, 'guarded', 'min.insync.replicas')).toBe('2');
        await waitForConfig(current.brokers[leader]!.externalBootstrap, 'guarded', 'min.insync.replicas', '2');
        await producer.send({ topic: 'guarded', acks: -1, messages: [{ value: 'two are enough again' }] });
      } finally {
        current.resume(follower);
      }
    } finally {
      await producer.disconnect();
    }
  });
});

/** A topic config's value as the broker at `address` describes it (DescribeConfigs sent to it alone). */
async function describedValue(address: string, topic: string, name: string): Promise<string | null | undefined> {
  const response = await withWire(address, (client) =>
    client.request(describeConfigsApi, 1, { resources: [{ resourceType: topicResource, resourceName: topic, configurationKeys: [name] }], includeSynonyms: false }),
  );
  return response.results[0]?.configs.find((config) => config.name === name)?.value;
}

/** Waits until the broker at `address` has applied `name`=`value` on `topic` from the metadata log. */
async function waitForConfig(address: string, topic: string, name: string, value: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: string | null | undefined;
  while ((last = await describedValue(address, topic, name)) !== value) {
    if (Date.now() > deadline) throw new Error(`the broker at ${address} still describes ${name}=${String(last)} on ${topic} after 15 s, not ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
