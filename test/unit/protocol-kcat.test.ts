import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { apis, apisByKey } from '../../broker/protocol/apis/index.js';
import { Reader, decodeMessage } from '../../broker/protocol/codec.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { decodeRequestHeader, encodeResponse } from '../../broker/protocol/header.js';
import * as protocol from '../../broker/protocol/apis/index.js';

/**
 * librdkafka (kcat, librdkafka 2.0.2) is the client that uses flexible versions: ApiVersions v3
 * (request header v2, tagged fields, a response header that stays v0), InitProducerId v4 for
 * the idempotent producer and OffsetFetch v7 for consumer groups. A stand-in broker — only this codec plus a few canned answers, on
 * loopback — serves kcat; kcat listing our topic and stamping our producer id into its batch
 * proves it parsed what the codec wrote, and the decoded requests prove the reverse direction.
 */

const execFileAsync = promisify(execFile);
const TOPIC = 'klab-topic';
const PRODUCER_ID = 4242n;

interface Seen {
  apiVersionsRequests: { version: number; clientSoftwareName: string }[];
  metadataVersions: number[];
  initProducerIdVersions: number[];
  producedBatches: { version: number; producerId: bigint; records: Buffer }[];
  groupRequests: string[];
  offsetFetchRequests: { version: number; groupId: string; topics: string[] }[];
  commits: { version: number; groupId: string; offset: bigint }[];
}

/** One record batch (offset 0, value 'stored message'), encoded by kafkajs 2.2.4's Produce v7 encoder. */
async function kafkajsBatch(): Promise<Buffer> {
  const require = createRequire(import.meta.url);
  const produceV7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as (args: unknown) => {
    encode(): Promise<{ buffer: Buffer }>;
  };
  const body = (
    await produceV7({ acks: -1, timeout: 1000, topicData: [{ topic: TOPIC, partitions: [{ partition: 0, messages: [{ value: 'stored message' }] }] }] }).encode()
  ).buffer;
  const records = decodeMessage(protocol.produceApi.request, 7, new Reader(body)).topicData[0]?.partitionData[0]?.records;
  if (!records) throw new Error('kafkajs produced no batch');
  return records;
}

function startStandInBroker(storedBatch: Buffer = Buffer.alloc(0)): Promise<{ port: number; seen: Seen; close: () => Promise<void> }> {
  const seen: Seen = {
    apiVersionsRequests: [],
    metadataVersions: [],
    initProducerIdVersions: [],
    producedBatches: [],
    groupRequests: [],
    offsetFetchRequests: [],
    commits: [],
  };
  const sockets = new Set<net.Socket>();
  let port = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        for (const chunk of answer(frame)) socket.write(chunk);
      }
    });
  });

  function answer(frame: Buffer): Buffer[] {
    const reader = new Reader(frame);
    const header = decodeRequestHeader(reader);
    const { apiVersion: version, correlationId } = header;
    switch (header.apiKey) {
      case protocol.apiVersionsApi.key: {
        const request = decodeMessage(protocol.apiVersionsApi.request, version, reader);
        seen.apiVersionsRequests.push({ version, clientSoftwareName: request.clientSoftwareName });
        return encodeResponse(protocol.apiVersionsApi, version, correlationId, {
          errorCode: ErrorCode.NONE,
          apiKeys: apis.map((api) => ({ apiKey: api.key, minVersion: 0, maxVersion: api.maxVersion })),
          throttleTimeMs: 0,
        });
      }
      case protocol.metadataApi.key: {
        decodeMessage(protocol.metadataApi.request, version, reader);
        seen.metadataVersions.push(version);
        return encodeResponse(protocol.metadataApi, version, correlationId, {
          brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }],
          clusterId: 'klab-stand-in',
          controllerId: 1,
          topics: [
            {
              errorCode: 0,
              name: TOPIC,
              partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
            },
          ],
        });
      }
      case protocol.initProducerIdApi.key: {
        const request = decodeMessage(protocol.initProducerIdApi.request, version, reader);
        expect(request.transactionalId).toBeNull();
        seen.initProducerIdVersions.push(version);
        return encodeResponse(protocol.initProducerIdApi, version, correlationId, {
          throttleTimeMs: 0,
          errorCode: 0,
          producerId: PRODUCER_ID,
          producerEpoch: 0,
        });
      }
      case protocol.produceApi.key: {
        const request = decodeMessage(protocol.produceApi.request, version, reader);
        const records = request.topicData[0]?.partitionData[0]?.records ?? Buffer.alloc(0);
        // Record batch v2 header: producerId is the int64 at byte 43.
        seen.producedBatches.push({ version, producerId: records.readBigInt64BE(43), records: Buffer.from(records) });
        return encodeResponse(protocol.produceApi, version, correlationId, {
          responses: [{ name: TOPIC, partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 0n, logStartOffset: 0n }] }],
          throttleTimeMs: 0,
        });
      }
      case protocol.findCoordinatorApi.key: {
        const request = decodeMessage(protocol.findCoordinatorApi.request, version, reader);
        seen.groupRequests.push(`FindCoordinator v${version} ${request.key}`);
        return encodeResponse(protocol.findCoordinatorApi, version, correlationId, {
          errorCode: 0,
          errorMessage: null,
          nodeId: 1,
          host: '127.0.0.1',
          port,
        });
      }
      case protocol.joinGroupApi.key: {
        const request = decodeMessage(protocol.joinGroupApi.request, version, reader);
        seen.groupRequests.push(`JoinGroup v${version} ${request.groupId}`);
        const chosen = request.protocols[0];
        if (!chosen) throw new Error('JoinGroup without protocols');
        return encodeResponse(protocol.joinGroupApi, version, correlationId, {
          errorCode: 0,
          generationId: 1,
          protocolName: chosen.name,
          leader: 'member-1',
          memberId: 'member-1',
          members: [{ memberId: 'member-1', metadata: chosen.metadata }],
        });
      }
      case protocol.syncGroupApi.key: {
        const request = decodeMessage(protocol.syncGroupApi.request, version, reader);
        seen.groupRequests.push(`SyncGroup v${version} ${request.groupId}`);
        const own = request.assignments.find((assignment) => assignment.memberId === request.memberId);
        return encodeResponse(protocol.syncGroupApi, version, correlationId, { errorCode: 0, assignment: own?.assignment ?? Buffer.alloc(0) });
      }
      case protocol.offsetFetchApi.key: {
        const request = decodeMessage(protocol.offsetFetchApi.request, version, reader);
        const topics = request.topics ?? [];
        seen.offsetFetchRequests.push({ version, groupId: request.groupId, topics: topics.map((topic) => topic.name) });
        return encodeResponse(protocol.offsetFetchApi, version, correlationId, {
          topics: topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, metadata: '', errorCode: 0 })),
          })),
          errorCode: 0,
        });
      }
      case protocol.listOffsetsApi.key: {
        const request = decodeMessage(protocol.listOffsetsApi.request, version, reader);
        return encodeResponse(protocol.listOffsetsApi, version, correlationId, {
          topics: request.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: 0, offset: 0n, timestamp: -1n })),
          })),
        });
      }
      case protocol.fetchApi.key: {
        const request = decodeMessage(protocol.fetchApi.request, version, reader);
        return encodeResponse(protocol.fetchApi, version, correlationId, {
          responses: request.topics.map((topic) => ({
            topic: topic.topic,
            partitions: topic.partitions.map((partition) => ({
              partitionIndex: partition.partition,
              errorCode: 0,
              highWatermark: 1n,
              lastStableOffset: 1n,
              logStartOffset: 0n,
              abortedTransactions: [],
              records: partition.fetchOffset === 0n ? storedBatch : Buffer.alloc(0),
            })),
          })),
        });
      }
      case protocol.heartbeatApi.key:
        decodeMessage(protocol.heartbeatApi.request, version, reader);
        return encodeResponse(protocol.heartbeatApi, version, correlationId, { errorCode: 0 });
      case protocol.offsetCommitApi.key: {
        const request = decodeMessage(protocol.offsetCommitApi.request, version, reader);
        for (const topic of request.topics) {
          for (const partition of topic.partitions) seen.commits.push({ version, groupId: request.groupId, offset: partition.committedOffset });
        }
        return encodeResponse(protocol.offsetCommitApi, version, correlationId, {
          topics: request.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: 0 })),
          })),
        });
      }
      case protocol.leaveGroupApi.key: {
        const request = decodeMessage(protocol.leaveGroupApi.request, version, reader);
        seen.groupRequests.push(`LeaveGroup v${version} ${request.groupId}`);
        return encodeResponse(protocol.leaveGroupApi, version, correlationId, { errorCode: 0 });
      }
      default:
        throw new Error(`stand-in broker got an unexpected ${apisByKey.get(header.apiKey)?.name ?? header.apiKey} request`);
    }
  }

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        seen,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('kcat (librdkafka 2.0.2) against the codec (stand-in broker)', () => {
  it('lists metadata after a flexible ApiVersions v3 exchange', async () => {
    const broker = await startStandInBroker();
    close = broker.close;
    const { stdout } = await execFileAsync('kcat', ['-L', '-b', `127.0.0.1:${broker.port}`, '-m', '10'], { timeout: 20_000 });
    expect(broker.seen.apiVersionsRequests[0]).toEqual({ version: 3, clientSoftwareName: 'librdkafka' });
    expect(broker.seen.metadataVersions.length).toBeGreaterThan(0);
    expect(stdout).toContain(`topic "${TOPIC}" with 1 partitions`);
    expect(stdout).toContain(`broker 1 at 127.0.0.1:${broker.port}`);
  });

  it('produces idempotently with the producer id from a flexible InitProducerId v4 response', async () => {
    const broker = await startStandInBroker();
    close = broker.close;
    const producer = execFileAsync(
      'kcat',
      ['-P', '-b', `127.0.0.1:${broker.port}`, '-t', TOPIC, '-p', '0', '-X', 'enable.idempotence=true', '-X', 'message.timeout.ms=15000'],
      { timeout: 20_000 },
    );
    producer.child.stdin?.end('hello from kcat\n');
    await producer;
    expect(broker.seen.initProducerIdVersions).toEqual([4]);
    expect(broker.seen.producedBatches).toHaveLength(1);
    const batch = broker.seen.producedBatches[0]!;
    expect(batch.version).toBe(7);
    expect(batch.producerId).toBe(PRODUCER_ID);
    expect(batch.records.includes(Buffer.from('hello from kcat'))).toBe(true);
  });

  it('consumes through a consumer group, fetching committed offsets with flexible OffsetFetch v7', async () => {
    const broker = await startStandInBroker(await kafkajsBatch());
    close = broker.close;
    const { stdout } = await execFileAsync(
      'kcat',
      ['-G', 'klab-group', '-b', `127.0.0.1:${broker.port}`, '-c', '1', '-q', '-X', 'auto.offset.reset=earliest', TOPIC],
      { timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('stored message');
    expect(broker.seen.groupRequests).toEqual(
      expect.arrayContaining(['FindCoordinator v2 klab-group', 'JoinGroup v5 klab-group', 'SyncGroup v3 klab-group']),
    );
    expect(broker.seen.offsetFetchRequests).toContainEqual({ version: 7, groupId: 'klab-group', topics: [TOPIC] });
    expect(broker.seen.commits).toContainEqual({ version: 7, groupId: 'klab-group', offset: 1n });
  });
});
