// The cluster APIs' schemas (ElectLeaders, DescribeQuorum, AlterPartition, DescribeCluster,
// BrokerRegistration, BrokerHeartbeat): every version's request and response encodes and
// decodes back to the same values, fields a version lacks decode as their defaults, and a few
// small messages match bytes written out by hand from the Kafka protocol guide (flexible
// versions: compact lengths as length+1 varints, a tagged-field count after every struct).
import { describe, expect, it } from 'vitest';
import { alterPartitionApi } from '../../broker/protocol/apis/56-alter-partition.js';
import { brokerHeartbeatApi } from '../../broker/protocol/apis/63-broker-heartbeat.js';
import { brokerRegistrationApi } from '../../broker/protocol/apis/62-broker-registration.js';
import { describeClusterApi } from '../../broker/protocol/apis/60-describe-cluster.js';
import { describeQuorumApi } from '../../broker/protocol/apis/55-describe-quorum.js';
import { electLeadersApi } from '../../broker/protocol/apis/43-elect-leaders.js';
import { Reader, ZERO_UUID, decodeMessage, encodeMessage } from '../../broker/protocol/codec.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import type { ApiDefinition, MessageInput, MessageSchema, MessageValue } from '../../broker/protocol/schema.js';

const topicId = '5a1e7c3d-0b9f-4e21-8c6d-2f4b7a9e1c30';
const directoryId = 'c0ffee00-1234-4abc-8def-0123456789ab';
const incarnationId = '0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b';

function roundTrip<S extends MessageSchema>(schema: S, version: number, value: MessageInput<S>): MessageValue<S> {
  const bytes = encodeMessage(schema, version, value);
  const reader = new Reader(bytes);
  const decoded = decodeMessage(schema, version, reader);
  expect(reader.remaining, `${schema.name} v${version} leaves no bytes unread`).toBe(0);
  return decoded;
}

interface Case<A extends ApiDefinition> {
  readonly api: A;
  readonly request: (version: number) => MessageInput<A['request']>;
  readonly response: (version: number) => MessageInput<A['response']>;
}

function check<A extends ApiDefinition>(apiCase: Case<A>): void {
  const { api } = apiCase;
  for (let version = api.minVersion; version <= api.maxVersion; version++) {
    const request = apiCase.request(version);
    expect(roundTrip(api.request, version, request), `${api.name} v${version} request`).toMatchObject(request);
    const response = apiCase.response(version);
    expect(roundTrip(api.response, version, response), `${api.name} v${version} response`).toMatchObject(response);
  }
}

const electLeaders: Case<typeof electLeadersApi> = {
  api: electLeadersApi,
  request: (version) => ({
    ...(version >= 1 ? { electionType: 1 } : {}),
    topicPartitions: [
      { topic: 'orders', partitions: [0, 2, 5] },
      { topic: 'payments', partitions: [] },
    ],
    timeoutMs: 15_000,
  }),
  response: (version) => ({
    throttleTimeMs: 7,
    ...(version >= 1 ? { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED } : {}),
    replicaElectionResults: [
      {
        topic: 'orders',
        partitionResult: [
          { partitionId: 0, errorCode: ErrorCode.NONE, errorMessage: null },
          { partitionId: 2, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'leader is already the preferred replica' },
        ],
      },
    ],
  }),
};

const replica = (version: number, replicaId: number) => ({
  replicaId,
  ...(version >= 2 ? { replicaDirectoryId: directoryId } : {}),
  logEndOffset: 4321n + BigInt(replicaId),
  ...(version >= 1 ? { lastFetchTimestamp: 1_700_000_000_000n, lastCaughtUpTimestamp: 1_699_999_999_000n } : {}),
});

const describeQuorum: Case<typeof describeQuorumApi> = {
  api: describeQuorumApi,
  request: () => ({ topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] }),
  response: (version) => ({
    errorCode: ErrorCode.NONE,
    ...(version >= 2 ? { errorMessage: 'all good' } : {}),
    topics: [
      {
        topicName: '__cluster_metadata',
        partitions: [
          {
            partitionIndex: 0,
            errorCode: ErrorCode.NONE,
            ...(version >= 2 ? { errorMessage: null } : {}),
            leaderId: 2,
            leaderEpoch: 9,
            highWatermark: 4320n,
            currentVoters: [replica(version, 1), replica(version, 2), replica(version, 3)],
            observers: [replica(version, 4)],
          },
        ],
      },
    ],
    ...(version >= 2
      ? { nodes: [{ nodeId: 1, listeners: [{ name: 'CONTROLLER', host: 'kafka-1.lab', port: 50_001 }] }] }
      : {}),
  }),
};

const alterPartition: Case<typeof alterPartitionApi> = {
  api: alterPartitionApi,
  request: (version) => ({
    brokerId: 2,
    brokerEpoch: 88n,
    topics: [
      {
        ...(version >= 2 ? { topicId } : { topicName: 'orders' }),
        partitions: [
          {
            partitionIndex: 1,
            leaderEpoch: 4,
            newIsr: [2, 3],
            ...(version >= 1 ? { leaderRecoveryState: 1 } : {}),
            partitionEpoch: 11,
          },
        ],
      },
    ],
  }),
  response: (version) => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    topics: [
      {
        ...(version >= 2 ? { topicId } : { topicName: 'orders' }),
        partitions: [
          {
            partitionIndex: 1,
            errorCode: ErrorCode.INVALID_UPDATE_VERSION,
            leaderId: 2,
            leaderEpoch: 4,
            isr: [1, 2, 3],
            ...(version >= 1 ? { leaderRecoveryState: 1 } : {}),
            partitionEpoch: 12,
          },
        ],
      },
    ],
  }),
};

const describeCluster: Case<typeof describeClusterApi> = {
  api: describeClusterApi,
  request: (version) => ({ includeClusterAuthorizedOperations: true, ...(version >= 1 ? { endpointType: 2 } : {}) }),
  response: (version) => ({
    throttleTimeMs: 3,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    ...(version >= 1 ? { endpointType: 2 } : {}),
    clusterId: 'klab-cluster-0001',
    controllerId: 1,
    brokers: [
      { brokerId: 1, host: 'kafka-1.lab', port: 9092, rack: null },
      { brokerId: 2, host: 'kafka-2.lab', port: 9093, rack: 'rack-b' },
    ],
    clusterAuthorizedOperations: 0x0f,
  }),
};

const brokerRegistration: Case<typeof brokerRegistrationApi> = {
  api: brokerRegistrationApi,
  request: (version) => ({
    brokerId: 3,
    clusterId: 'klab-cluster-0001',
    incarnationId,
    listeners: [
      { name: 'PLAINTEXT', host: 'kafka-3.lab', port: 9092, securityProtocol: 0 },
      { name: 'INTERNAL', host: '10.0.0.3', port: 65_000, securityProtocol: 0 },
    ],
    features: [{ name: 'metadata.version', minSupportedVersion: 1, maxSupportedVersion: 7 }],
    rack: 'rack-c',
    ...(version >= 1 ? { isMigratingZkBroker: true } : {}),
  }),
  response: () => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, brokerEpoch: 1_234_567_890_123n }),
};

const brokerHeartbeat: Case<typeof brokerHeartbeatApi> = {
  api: brokerHeartbeatApi,
  request: () => ({ brokerId: 3, brokerEpoch: 41n, currentMetadataOffset: 9_876n, wantFence: false, wantShutDown: true }),
  response: () => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, isCaughtUp: true, isFenced: false, shouldShutDown: true }),
};

describe('cluster API schemas', () => {
  it('define the keys and version ranges the cluster needs, flexible where Kafka made them so', () => {
    const ranges = [electLeadersApi, describeQuorumApi, alterPartitionApi, describeClusterApi, brokerRegistrationApi, brokerHeartbeatApi].map(
      (api) => [api.name, api.key, api.minVersion, api.maxVersion, api.isFlexible(0), api.isFlexible(api.maxVersion)],
    );
    expect(ranges).toEqual([
      ['ElectLeaders', 43, 0, 2, false, true],
      ['DescribeQuorum', 55, 0, 2, true, true],
      ['AlterPartition', 56, 0, 2, true, true],
      ['DescribeCluster', 60, 0, 1, true, true],
      ['BrokerRegistration', 62, 0, 1, true, true],
      ['BrokerHeartbeat', 63, 0, 0, true, true],
    ]);
  });

  it('ElectLeaders round-trips at every version', () => check(electLeaders));
  it('DescribeQuorum round-trips at every version', () => check(describeQuorum));
  it('AlterPartition round-trips at every version', () => check(alterPartition));
  it('DescribeCluster round-trips at every version', () => check(describeCluster));
  it('BrokerRegistration round-trips at every version', () => check(brokerRegistration));
  it('BrokerHeartbeat round-trips at every version', () => check(brokerHeartbeat));

  it('decodes fields a version lacks as their defaults', () => {
    expect(roundTrip(electLeadersApi.request, 0, { topicPartitions: null, timeoutMs: 100 }).electionType).toBe(0);
    expect(roundTrip(describeClusterApi.request, 0, { includeClusterAuthorizedOperations: false }).endpointType).toBe(1);
    const v1Topic = roundTrip(alterPartitionApi.request, 1, alterPartition.request(1)).topics[0]!;
    expect(v1Topic.topicId).toBe(ZERO_UUID);
    const v2Topic = roundTrip(alterPartitionApi.request, 2, alterPartition.request(2)).topics[0]!;
    expect(v2Topic.topicName).toBe('');
    expect(v2Topic.topicId).toBe(topicId);
    const v0Voter = roundTrip(describeQuorumApi.response, 0, describeQuorum.response(0)).topics[0]!.partitions[0]!.currentVoters[0]!;
    expect([v0Voter.lastFetchTimestamp, v0Voter.lastCaughtUpTimestamp, v0Voter.replicaDirectoryId]).toEqual([-1n, -1n, ZERO_UUID]);
    expect(roundTrip(brokerHeartbeatApi.response, 0, { shouldShutDown: false }).isFenced).toBe(true);
  });
});

/** Hex with spaces between fields, as written in the tests below. */
function hex(text: string): Buffer {
  return Buffer.from(text.replaceAll(' ', ''), 'hex');
}

describe('hand-encoded messages', () => {
  it('DescribeCluster v0 and v1 requests: a bool, v1 an int8 endpoint type, then an empty tagged-field section', () => {
    expect(encodeMessage(describeClusterApi.request, 0, { includeClusterAuthorizedOperations: true })).toEqual(hex('01 00'));
    expect(encodeMessage(describeClusterApi.request, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 })).toEqual(
      hex('00 02 00'),
    );
  });

  it('DescribeCluster v1 response: compact strings, a compact array of structs each ending in tagged fields', () => {
    const bytes = hex(
      [
        '00000000', // throttleTimeMs 0
        '0000', // errorCode NONE
        '00', // errorMessage null: compact nullable string length 0
        '01', // endpointType 1 (brokers)
        '04 616263', // clusterId 'abc': length 3 + 1
        '00000002', // controllerId 2
        '02', // brokers: 1 element + 1
        '00000001 02 68 00002384 00 00', // brokerId 1, host 'h', port 9092, rack null, no tagged fields
        '80000000', // clusterAuthorizedOperations: INT32_MIN, not requested
        '00', // no tagged fields
      ].join(''),
    );
    const response = {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      endpointType: 1,
      clusterId: 'abc',
      controllerId: 2,
      brokers: [{ brokerId: 1, host: 'h', port: 9092, rack: null }],
      clusterAuthorizedOperations: -2147483648,
    };
    expect(encodeMessage(describeClusterApi.response, 1, response)).toEqual(bytes);
    expect(decodeMessage(describeClusterApi.response, 1, new Reader(bytes))).toEqual(response);
    // The defaults fill the same bytes in when a handler leaves them out.
    expect(encodeMessage(describeClusterApi.response, 1, { clusterId: 'abc', controllerId: 2, brokers: [{ brokerId: 1, host: 'h', port: 9092 }] })).toEqual(
      bytes,
    );
  });

  it('ElectLeaders v0 request (not flexible): int32 array counts and int16 string lengths', () => {
    const bytes = hex(
      [
        '00000001', // topicPartitions: 1 element
        '0001 74', // topic 't'
        '00000002 00000000 00000001', // partitions [0, 1]
        '000003e8', // timeoutMs 1000
      ].join(''),
    );
    const request = { topicPartitions: [{ topic: 't', partitions: [0, 1] }], timeoutMs: 1000 };
    expect(encodeMessage(electLeadersApi.request, 0, request)).toEqual(bytes);
    expect(decodeMessage(electLeadersApi.request, 0, new Reader(bytes))).toEqual({ electionType: 0, ...request });
  });

  it('ElectLeaders v1 request with a null partition list (every partition): int32 length -1', () => {
    expect(encodeMessage(electLeadersApi.request, 1, { electionType: 1, topicPartitions: null, timeoutMs: 1000 })).toEqual(
      hex('01 ffffffff 000003e8'),
    );
  });

  it('ElectLeaders v2 request (flexible): compact arrays, a null as length 0, tagged sections, the 60 s default timeout', () => {
    expect(encodeMessage(electLeadersApi.request, 2, { electionType: 0, topicPartitions: [{ topic: 't', partitions: [3] }] })).toEqual(
      hex('00 02 02 74 02 00000003 00 0000ea60 00'),
    );
    expect(encodeMessage(electLeadersApi.request, 2, { electionType: 1, topicPartitions: null, timeoutMs: 1000 })).toEqual(
      hex('01 00 000003e8 00'),
    );
  });

  it('ElectLeaders v0 and v2 responses: the same result in the classic and the compact encoding', () => {
    const response = {
      throttleTimeMs: 0,
      errorCode: 0,
      replicaElectionResults: [
        { topic: 't', partitionResult: [{ partitionId: 0, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: null }] },
      ],
    };
    const v0 = hex('00000000 00000001 0001 74 00000001 00000000 0054 ffff');
    const v2 = hex('00000000 0000 02 02 74 02 00000000 0054 00 00 00 00');
    expect(encodeMessage(electLeadersApi.response, 0, response)).toEqual(v0);
    expect(encodeMessage(electLeadersApi.response, 2, response)).toEqual(v2);
    expect(decodeMessage(electLeadersApi.response, 0, new Reader(v0))).toEqual(response);
    expect(decodeMessage(electLeadersApi.response, 2, new Reader(v2))).toEqual(response);
  });
});
