import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as protocol from '../../broker/protocol/apis/index.js';
import { Reader, decodeMessage, encodeMessage } from '../../broker/protocol/codec.js';
import { decodeRequestHeader, encodeResponse } from '../../broker/protocol/header.js';
import type { ApiDefinition } from '../../broker/protocol/schema.js';

/**
 * Golden cross-checks against a real client's wire code: kafkajs 2.2.4 ships its request
 * encoders and response decoders per API and version. Requests encoded by kafkajs are decoded
 * by klab's codec; responses encoded by klab's codec are decoded by kafkajs. Both directions
 * compare field values, so a field in the wrong order, width or version shows up here even
 * though klab's own encoder and decoder agree with each other.
 */

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  readonly buffer: Buffer;
}
interface KafkajsRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  encode(): Promise<KafkajsEncoder>;
}
type KafkajsRequestFactory = (args: unknown) => KafkajsRequest;
interface KafkajsResponseCodec {
  decode(body: Buffer): Promise<unknown>;
}

async function kafkajsRequest(folder: string, version: number, args: unknown, api: ApiDefinition): Promise<Buffer> {
  const factory = require(`kafkajs/src/protocol/requests/${folder}/v${version}/request.js`) as KafkajsRequestFactory;
  const request = factory(args);
  expect(request.apiKey).toBe(api.key);
  expect(request.apiVersion).toBe(version);
  return (await request.encode()).buffer;
}

/** Some kafkajs response modules are factories taking the request's arguments (to attach them to errors). */
type KafkajsResponseModule = KafkajsResponseCodec | ((requestArgs: unknown) => KafkajsResponseCodec);

function kafkajsDecodeResponse(folder: string, version: number, body: Buffer, requestArgs?: unknown): Promise<unknown> {
  const loaded = require(`kafkajs/src/protocol/requests/${folder}/v${version}/response.js`) as KafkajsResponseModule;
  const codec = typeof loaded === 'function' ? loaded(requestArgs) : loaded;
  return codec.decode(body);
}

interface GoldenCase {
  /** kafkajs folder under src/protocol/requests. */
  readonly folder: string;
  readonly api: ApiDefinition;
  readonly versions: readonly number[];
  readonly kafkajsArgs: unknown;
  /** What klab must decode from kafkajs's request (a subset match). */
  expectedRequest(version: number): Record<string, unknown>;
  /** A response klab encodes... */
  response(version: number): Record<string, unknown>;
  /** ...and what kafkajs must read back from it (a subset match). */
  expectedKafkajs(version: number): Record<string, unknown>;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const cases: GoldenCase[] = [
  {
    folder: 'apiVersions',
    api: protocol.apiVersionsApi,
    versions: range(0, 2),
    kafkajsArgs: undefined,
    expectedRequest: () => ({ clientSoftwareName: '', clientSoftwareVersion: '' }),
    response: () => ({
      errorCode: 0,
      apiKeys: [
        { apiKey: 0, minVersion: 0, maxVersion: 9 },
        { apiKey: 18, minVersion: 0, maxVersion: 3 },
      ],
      throttleTimeMs: 7,
    }),
    expectedKafkajs: (v) => ({
      errorCode: 0,
      apiVersions: [
        { apiKey: 0, minVersion: 0, maxVersion: 9 },
        { apiKey: 18, minVersion: 0, maxVersion: 3 },
      ],
      ...(v === 1 ? { throttleTime: 7 } : v === 2 ? { clientSideThrottleTime: 7 } : {}),
    }),
  },
  {
    folder: 'metadata',
    api: protocol.metadataApi,
    versions: range(0, 6),
    kafkajsArgs: { topics: ['alpha', 'beta'], allowAutoTopicCreation: false },
    expectedRequest: (v) => ({
      topics: [{ name: 'alpha' }, { name: 'beta' }],
      allowAutoTopicCreation: v >= 4 ? false : true,
    }),
    response: () => ({
      throttleTimeMs: 3,
      brokers: [{ nodeId: 1, host: 'b1.local', port: 9092, rack: 'r1' }],
      clusterId: 'klab-cluster',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 'alpha',
          isInternal: false,
          partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: [2] }],
        },
      ],
    }),
    expectedKafkajs: (v) => ({
      brokers: [{ nodeId: 1, host: 'b1.local', port: 9092, ...(v >= 1 ? { rack: 'r1' } : {}) }],
      ...(v >= 2 ? { clusterId: 'klab-cluster' } : {}),
      ...(v >= 1 ? { controllerId: 1 } : {}),
      topicMetadata: [
        {
          topicErrorCode: 0,
          topic: 'alpha',
          partitionMetadata: [
            { partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1, 2], isr: [1], ...(v >= 5 ? { offlineReplicas: [2] } : {}) },
          ],
        },
      ],
    }),
  },
  {
    folder: 'listOffsets',
    api: protocol.listOffsetsApi,
    versions: range(0, 3),
    kafkajsArgs: { replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 2, timestamp: -2 }] }] },
    expectedRequest: (v) => ({
      replicaId: -1,
      isolationLevel: v >= 2 ? 1 : 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 2, timestamp: -2n, maxNumOffsets: 1 }] }],
    }),
    response: () => ({
      throttleTimeMs: 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 2, errorCode: 0, oldStyleOffsets: [42n], timestamp: -1n, offset: 42n }] }],
    }),
    expectedKafkajs: (v) => ({
      responses: [{ topic: 't', partitions: [{ partition: 2, errorCode: 0, ...(v === 0 ? { offsets: ['42'] } : { offset: '42' }) }] }],
    }),
  },
  {
    folder: 'createTopics',
    api: protocol.createTopicsApi,
    versions: range(0, 3),
    kafkajsArgs: {
      topics: [{ topic: 'new', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] }],
      validateOnly: true,
      timeout: 1234,
    },
    expectedRequest: (v) => ({
      topics: [{ name: 'new', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] }],
      timeoutMs: 1234,
      validateOnly: v >= 1,
    }),
    response: () => ({ throttleTimeMs: 5, topics: [{ name: 'new', errorCode: 36, errorMessage: 'exists' }] }),
    expectedKafkajs: (v) => ({ topicErrors: [{ topic: 'new', errorCode: 36, ...(v >= 1 ? { errorMessage: 'exists' } : {}) }] }),
  },
  {
    folder: 'deleteTopics',
    api: protocol.deleteTopicsApi,
    versions: range(0, 1),
    kafkajsArgs: { topics: ['gone', 'also'], timeout: 999 },
    expectedRequest: () => ({ topicNames: ['gone', 'also'], timeoutMs: 999 }),
    response: () => ({ throttleTimeMs: 0, responses: [{ name: 'gone', errorCode: 3 }] }),
    expectedKafkajs: () => ({ topicErrors: [{ topic: 'gone', errorCode: 3 }] }),
  },
  {
    folder: 'deleteRecords',
    api: protocol.deleteRecordsApi,
    versions: range(0, 1),
    kafkajsArgs: { topics: [{ topic: 't', partitions: [{ partition: 1, offset: '17' }] }], timeout: 500 },
    expectedRequest: () => ({ topics: [{ name: 't', partitions: [{ partitionIndex: 1, offset: 17n }] }], timeoutMs: 500 }),
    response: () => ({ throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 1, lowWatermark: 17n, errorCode: 0 }] }] }),
    expectedKafkajs: () => ({ topics: [{ topic: 't', partitions: [{ partition: 1, errorCode: 0 }] }] }),
  },
  {
    folder: 'describeConfigs',
    api: protocol.describeConfigsApi,
    versions: range(0, 2),
    kafkajsArgs: { resources: [{ type: 2, name: 't', configNames: ['retention.ms'] }], includeSynonyms: true },
    expectedRequest: (v) => ({
      resources: [{ resourceType: 2, resourceName: 't', configurationKeys: ['retention.ms'] }],
      includeSynonyms: v >= 1,
    }),
    response: () => ({
      throttleTimeMs: 0,
      results: [
        {
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: 't',
          configs: [
            { name: 'retention.ms', value: '1000', readOnly: false, isDefault: false, configSource: 1, isSensitive: false, synonyms: [] },
          ],
        },
      ],
    }),
    expectedKafkajs: (v) => ({
      resources: [
        {
          errorCode: 0,
          resourceType: 2,
          resourceName: 't',
          configEntries: [{ configName: 'retention.ms', configValue: '1000', readOnly: false, isSensitive: false, ...(v >= 1 ? { configSource: 1 } : {}) }],
        },
      ],
    }),
  },
  {
    folder: 'createPartitions',
    api: protocol.createPartitionsApi,
    versions: range(0, 1),
    kafkajsArgs: { topicPartitions: [{ topic: 't', count: 6 }], validateOnly: false, timeout: 800 },
    // kafkajs writes "no assignments" as a null array, which the broker must accept.
    expectedRequest: () => ({ topics: [{ name: 't', count: 6, assignments: null }], timeoutMs: 800, validateOnly: false }),
    response: () => ({ throttleTimeMs: 0, results: [{ name: 't', errorCode: 37, errorMessage: 'fewer' }] }),
    expectedKafkajs: () => ({ topicErrors: [{ topic: 't', errorCode: 37, errorMessage: 'fewer' }] }),
  },
  {
    folder: 'offsetCommit',
    api: protocol.offsetCommitApi,
    versions: range(0, 5),
    kafkajsArgs: {
      groupId: 'g',
      groupGenerationId: 4,
      memberId: 'm-1',
      retentionTime: 86_400_000,
      topics: [{ topic: 't', partitions: [{ partition: 0, offset: '99', timestamp: 1_700_000_000_000, metadata: 'meta' }] }],
    },
    expectedRequest: (v) => ({
      groupId: 'g',
      generationIdOrMemberEpoch: v >= 1 ? 4 : -1,
      memberId: v >= 1 ? 'm-1' : '',
      retentionTimeMs: v >= 2 && v <= 4 ? 86_400_000n : -1n,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 99n, commitTimestamp: v === 1 ? 1_700_000_000_000n : -1n, committedMetadata: 'meta' }],
        },
      ],
    }),
    response: () => ({ throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] }),
    expectedKafkajs: () => ({ responses: [{ topic: 't', partitions: [{ partition: 0, errorCode: 0 }] }] }),
  },
  {
    folder: 'offsetFetch',
    api: protocol.offsetFetchApi,
    versions: range(1, 4),
    kafkajsArgs: { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0 }, { partition: 1 }] }] },
    expectedRequest: () => ({ groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }] }),
    response: () => ({
      throttleTimeMs: 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 12n, metadata: '', errorCode: 0 }] }],
      errorCode: 0,
    }),
    expectedKafkajs: (v) => ({
      responses: [{ topic: 't', partitions: [{ partition: 0, offset: '12', metadata: '', errorCode: 0 }] }],
      ...(v >= 2 ? { errorCode: 0 } : {}),
    }),
  },
  {
    folder: 'findCoordinator',
    api: protocol.findCoordinatorApi,
    versions: range(0, 2),
    kafkajsArgs: { groupId: 'g', coordinatorKey: 'g', coordinatorType: 0 },
    expectedRequest: () => ({ key: 'g', keyType: 0 }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 1, host: '127.0.0.1', port: 9092 }),
    expectedKafkajs: () => ({ errorCode: 0, coordinator: { nodeId: 1, host: '127.0.0.1', port: 9092 } }),
  },
  {
    folder: 'joinGroup',
    api: protocol.joinGroupApi,
    versions: range(0, 5),
    kafkajsArgs: {
      groupId: 'g',
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 2]) }],
    },
    expectedRequest: (v) => ({
      groupId: 'g',
      sessionTimeoutMs: 30000,
      rebalanceTimeoutMs: v >= 1 ? 60000 : -1,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 2]) }],
    }),
    response: () => ({
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 3,
      protocolName: 'RoundRobinAssigner',
      leader: 'm-1',
      memberId: 'm-1',
      members: [{ memberId: 'm-1', groupInstanceId: null, metadata: Buffer.from([9, 8]) }],
    }),
    expectedKafkajs: (v) => ({
      errorCode: 0,
      generationId: 3,
      groupProtocol: 'RoundRobinAssigner',
      leaderId: 'm-1',
      memberId: 'm-1',
      members: [{ memberId: 'm-1', ...(v >= 5 ? { groupInstanceId: null } : {}), memberMetadata: Buffer.from([9, 8]) }],
    }),
  },
  {
    folder: 'syncGroup',
    api: protocol.syncGroupApi,
    versions: range(0, 3),
    kafkajsArgs: { groupId: 'g', generationId: 3, memberId: 'm-1', groupAssignment: [{ memberId: 'm-1', memberAssignment: Buffer.from([7]) }] },
    expectedRequest: () => ({
      groupId: 'g',
      generationId: 3,
      memberId: 'm-1',
      groupInstanceId: null,
      assignments: [{ memberId: 'm-1', assignment: Buffer.from([7]) }],
    }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, assignment: Buffer.from([1, 2, 3]) }),
    expectedKafkajs: () => ({ errorCode: 0, memberAssignment: Buffer.from([1, 2, 3]) }),
  },
  {
    folder: 'heartbeat',
    api: protocol.heartbeatApi,
    versions: range(0, 3),
    kafkajsArgs: { groupId: 'g', groupGenerationId: 3, memberId: 'm-1', groupInstanceId: null },
    expectedRequest: () => ({ groupId: 'g', generationId: 3, memberId: 'm-1', groupInstanceId: null }),
    response: () => ({ throttleTimeMs: 0, errorCode: 27 }),
    expectedKafkajs: () => ({ errorCode: 27 }),
  },
  {
    folder: 'leaveGroup',
    api: protocol.leaveGroupApi,
    versions: range(0, 3),
    kafkajsArgs: { groupId: 'g', memberId: 'm-1', members: [{ memberId: 'm-1' }] },
    expectedRequest: (v) => (v >= 3 ? { groupId: 'g', memberId: '', members: [{ memberId: 'm-1', groupInstanceId: null }] } : { groupId: 'g', memberId: 'm-1', members: [] }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] }),
    expectedKafkajs: (v) => ({ errorCode: 0, ...(v >= 3 ? { members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] } : {}) }),
  },
  {
    folder: 'listGroups',
    api: protocol.listGroupsApi,
    versions: range(0, 2),
    kafkajsArgs: undefined,
    expectedRequest: () => ({ statesFilter: [] }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] }),
    expectedKafkajs: () => ({ errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] }),
  },
  {
    folder: 'describeGroups',
    api: protocol.describeGroupsApi,
    versions: range(0, 2),
    kafkajsArgs: { groupIds: ['g', 'h'] },
    expectedRequest: () => ({ groups: ['g', 'h'] }),
    response: () => ({
      throttleTimeMs: 0,
      groups: [
        {
          errorCode: 0,
          groupId: 'g',
          groupState: 'Stable',
          protocolType: 'consumer',
          protocolData: 'RoundRobinAssigner',
          members: [{ memberId: 'm-1', clientId: 'c', clientHost: '/127.0.0.1', memberMetadata: Buffer.from([1]), memberAssignment: Buffer.from([2]) }],
        },
      ],
    }),
    expectedKafkajs: () => ({
      groups: [
        {
          errorCode: 0,
          groupId: 'g',
          state: 'Stable',
          protocolType: 'consumer',
          protocol: 'RoundRobinAssigner',
          members: [{ memberId: 'm-1', clientId: 'c', clientHost: '/127.0.0.1', memberMetadata: Buffer.from([1]), memberAssignment: Buffer.from([2]) }],
        },
      ],
    }),
  },
  {
    folder: 'deleteGroups',
    api: protocol.deleteGroupsApi,
    versions: range(0, 1),
    kafkajsArgs: ['g', 'h'],
    expectedRequest: () => ({ groupsNames: ['g', 'h'] }),
    response: () => ({ throttleTimeMs: 4, results: [{ groupId: 'g', errorCode: 0 }, { groupId: 'h', errorCode: 69 }] }),
    expectedKafkajs: () => ({ throttleTimeMs: 4, results: [{ groupId: 'g', errorCode: 0 }, { groupId: 'h', errorCode: 69 }] }),
  },
  {
    folder: 'initProducerId',
    api: protocol.initProducerIdApi,
    versions: range(0, 1),
    kafkajsArgs: { transactionalId: null, transactionTimeout: 30000 },
    expectedRequest: () => ({ transactionalId: null, transactionTimeoutMs: 30000 }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, producerId: 1000n, producerEpoch: 2 }),
    expectedKafkajs: () => ({ errorCode: 0, producerId: '1000', producerEpoch: 2 }),
  },
];

describe('kafkajs 2.2.4 encoders and decoders agree with klab', () => {
  for (const golden of cases) {
    for (const version of golden.versions) {
      it(`${golden.api.name} v${version}: kafkajs request -> klab, klab response -> kafkajs`, async () => {
        const requestBody = await kafkajsRequest(golden.folder, version, golden.kafkajsArgs, golden.api);
        const reader = new Reader(requestBody);
        const request = decodeMessage(golden.api.request, version, reader);
        expect(reader.remaining).toBe(0);
        expect(request).toMatchObject(golden.expectedRequest(version));

        const responseBody = encodeMessage(golden.api.response, version, golden.response(version));
        expect(await kafkajsDecodeResponse(golden.folder, version, responseBody, golden.kafkajsArgs)).toMatchObject(golden.expectedKafkajs(version));
      });
    }
  }
});

describe('record batches pass through Produce and Fetch untouched', () => {
  const messages = [
    { key: Buffer.from('k1'), value: Buffer.from('first'), timestamp: 1_700_000_000_000 },
    { key: null, value: Buffer.from('x'.repeat(3000)), timestamp: 1_700_000_000_001 },
  ];

  for (const produceVersion of [3, 5, 7]) {
    it(`kafkajs Produce v${produceVersion} batch decodes as a zero-copy slice and is readable by kafkajs Fetch`, async () => {
      const body = await kafkajsRequest(
        'produce',
        produceVersion,
        { acks: -1, timeout: 5000, topicData: [{ topic: 'events', partitions: [{ partition: 0, messages }] }] },
        protocol.produceApi,
      );
      const request = decodeMessage(protocol.produceApi.request, produceVersion, new Reader(body));
      expect(request).toMatchObject({ transactionalId: null, acks: -1, timeoutMs: 5000 });
      const records = request.topicData[0]?.partitionData[0]?.records;
      if (!records) throw new Error('no records decoded');
      // A view into the request buffer, not a copy.
      expect(records.buffer).toBe(body.buffer);
      expect(records.readInt8(16)).toBe(2); // magic v2
      expect(records.readInt32BE(8) + 12).toBe(records.length); // batchLength covers the rest

      for (const fetchVersion of [4, 7, 11]) {
        const response = encodeMessage(protocol.fetchApi.response, fetchVersion, {
          throttleTimeMs: 0,
          errorCode: 0,
          sessionId: 0,
          responses: [
            {
              topic: 'events',
              partitions: [
                {
                  partitionIndex: 0,
                  errorCode: 0,
                  highWatermark: 2n,
                  lastStableOffset: 2n,
                  logStartOffset: 0n,
                  abortedTransactions: [],
                  preferredReadReplica: -1,
                  records,
                },
              ],
            },
          ],
        });
        const decoded = (await kafkajsDecodeResponse('fetch', fetchVersion, response)) as {
          responses: { topicName: string; partitions: { highWatermark: string; messages: { key: Buffer | null; value: Buffer; offset: string }[] }[] }[];
        };
        const partition = decoded.responses[0]?.partitions[0];
        expect(decoded.responses[0]?.topicName).toBe('events');
        expect(partition?.highWatermark).toBe('2');
        expect(partition?.messages.map((m) => [m.key?.toString() ?? null, m.value.toString(), m.offset])).toEqual([
          ['k1', 'first', '0'],
          [null, 'x'.repeat(3000), '1'],
        ]);
      }
    });
  }

  for (const fetchVersion of [4, 5, 7, 9, 11]) {
    it(`kafkajs Fetch v${fetchVersion} request decodes with every field in place`, async () => {
      const body = await kafkajsRequest(
        'fetch',
        fetchVersion,
        {
          replicaId: -1,
          maxWaitTime: 500,
          minBytes: 1,
          maxBytes: 10_485_760,
          isolationLevel: 1,
          sessionId: 0,
          sessionEpoch: -1,
          rackId: 'rack-a',
          topics: [{ topic: 'events', partitions: [{ partition: 3, currentLeaderEpoch: 5, fetchOffset: '77', logStartOffset: '-1', maxBytes: 1_048_576 }] }],
          forgottenTopics: [{ topic: 'old', partitions: [1, 2] }],
        },
        protocol.fetchApi,
      );
      const reader = new Reader(body);
      expect(decodeMessage(protocol.fetchApi.request, fetchVersion, reader)).toMatchObject({
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 10_485_760,
        isolationLevel: 1,
        sessionEpoch: -1,
        topics: [
          {
            topic: 'events',
            partitions: [
              {
                partition: 3,
                currentLeaderEpoch: fetchVersion >= 9 ? 5 : -1,
                fetchOffset: 77n,
                logStartOffset: -1n,
                partitionMaxBytes: 1_048_576,
              },
            ],
          },
        ],
        forgottenTopicsData: fetchVersion >= 7 ? [{ topic: 'old', partitions: [1, 2] }] : [],
        rackId: fetchVersion >= 11 ? 'rack-a' : '',
      });
      expect(reader.remaining).toBe(0);
    });
  }

  for (const produceVersion of [3, 5, 7]) {
    it(`klab Produce v${produceVersion} response reads back in kafkajs`, async () => {
      const body = encodeMessage(protocol.produceApi.response, produceVersion, {
        responses: [{ name: 'events', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 1234n, logAppendTimeMs: -1n, logStartOffset: 10n }] }],
        throttleTimeMs: 0,
      });
      expect(await kafkajsDecodeResponse('produce', produceVersion, body)).toMatchObject({
        topics: [
          {
            topicName: 'events',
            partitions: [{ partition: 0, errorCode: 0, baseOffset: '1234', logAppendTime: '-1', ...(produceVersion >= 5 ? { logStartOffset: '10' } : {}) }],
          },
        ],
      });
    });
  }

  it('a whole kafkajs request frame (size, header v1, body) decodes through the header path', async () => {
    type FrameEncoder = (args: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<KafkajsEncoder>;
    const encodeFrame = require('kafkajs/src/protocol/request.js') as FrameEncoder;
    const metadataV6 = require('kafkajs/src/protocol/requests/metadata/v6/request.js') as KafkajsRequestFactory;
    const frame = (await encodeFrame({ correlationId: 31, clientId: 'klab-test', request: metadataV6({ topics: ['a'] }) })).buffer;
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const reader = new Reader(frame, 4);
    expect(decodeRequestHeader(reader)).toEqual({ apiKey: 3, apiVersion: 6, correlationId: 31, clientId: 'klab-test' });
    expect(decodeMessage(protocol.metadataApi.request, 6, reader)).toMatchObject({ topics: [{ name: 'a' }], allowAutoTopicCreation: true });

    // And the response frame klab writes is what kafkajs's connection expects: size, correlation id, body.
    const response = Buffer.concat(encodeResponse(protocol.metadataApi, 6, 31, { brokers: [], topics: [] }));
    expect(response.readInt32BE(0)).toBe(response.length - 4);
    expect(response.readInt32BE(4)).toBe(31);
    expect(await kafkajsDecodeResponse('metadata', 6, response.subarray(8))).toMatchObject({ brokers: [], topicMetadata: [] });
  });
});
