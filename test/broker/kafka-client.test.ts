// The broker's outbound KafkaClient against a real broker process (pipelined requests, a
// request timeout the connection survives, the broker killed under in-flight requests, a
// closed port) and against fake servers on loopback that break the protocol in ways a real
// broker does not (a response to no request, an oversized frame, a body that does not decode).
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HostPort } from '../../broker/config.js';
import {
  BrokerConnectionError,
  KafkaClient,
  KafkaClientClosedError,
  RequestTimeoutError,
} from '../../broker/net/kafka-client.js';
import { produceApi } from '../../broker/protocol/apis/00-produce.js';
import { fetchApi } from '../../broker/protocol/apis/01-fetch.js';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { apiVersionsApi } from '../../broker/protocol/apis/18-api-versions.js';
import { createTopicsApi } from '../../broker/protocol/apis/19-create-topics.js';
import { ErrorCode, ProtocolError } from '../../broker/protocol/errors.js';
import { buildBatch, decodeRecords, splitBatches } from '../../broker/storage/record-batch.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';

const clientId = 'klab-kafka-client-test';
const softwareVersion = { clientSoftwareName: 'klab-broker', clientSoftwareVersion: '0.1.0' };

/** The error `promise` rejects with, when it is a `type`; anything else fails the test. */
async function rejectionOf<E extends Error>(type: abstract new (...args: never[]) => E, promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a rejection with ${type.name}`);
}

/** A Fetch of one partition from `fetchOffset`, held up to `maxWaitMs` until there is a byte to return. */
function fetchAt(topic: string, partition: number, fetchOffset: bigint, maxWaitMs: number) {
  return {
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1024 * 1024,
    topics: [{ topic, partitions: [{ partition, fetchOffset, partitionMaxBytes: 1024 * 1024 }] }],
    forgottenTopicsData: [],
  };
}

async function createTopic(client: KafkaClient, name: string, numPartitions: number): Promise<void> {
  const created = await client.request(createTopicsApi, 7, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
  });
  expect(created.topics.map((topic) => [topic.name, topic.errorCode])).toEqual([[name, ErrorCode.NONE]]);
}

const clients: KafkaClient[] = [];

async function connect(address: HostPort, options: { maxFrameBytes?: number } = {}): Promise<KafkaClient> {
  const client = await KafkaClient.connect(address, { clientId, ...options });
  clients.push(client);
  return client;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

describe('KafkaClient against a real broker', () => {
  let broker: BrokerProcess;
  let address: HostPort;

  beforeAll(async () => {
    broker = await startBroker();
    address = { host: '127.0.0.1', port: broker.port };
  });

  afterAll(async () => {
    await broker?.dispose();
  });

  it('asks ApiVersions and Metadata', async () => {
    const client = await connect(address);
    const versions = await client.request(apiVersionsApi, 3, softwareVersion);
    expect(versions.errorCode).toBe(ErrorCode.NONE);
    expect(versions.apiKeys).toContainEqual({ apiKey: fetchApi.key, minVersion: 0, maxVersion: 12 });

    const metadata = await client.request(metadataApi, 12, { topics: null });
    expect(metadata.brokers.map((node) => [node.nodeId, node.host, node.port])).toEqual([[0, '127.0.0.1', broker.port]]);
    expect(client.closed).toBe(false);
  });

  it('pipelines Produce requests, then Fetches back every record', async () => {
    const client = await connect(address);
    await createTopic(client, 'pipelined', 2);
    const sent = Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `record ${i}` }));

    // All ten are on the wire before the first answer comes back.
    const produced = await Promise.all(
      sent.map(({ partition, value }) =>
        client.request(produceApi, 9, {
          acks: -1,
          timeoutMs: 10_000,
          topicData: [{ name: 'pipelined', partitionData: [{ index: partition, records: buildBatch([{ value: Buffer.from(value) }]) }] }],
        }),
      ),
    );
    const results = produced.map((response) => response.responses[0]!.partitionResponses[0]!);
    expect(results.map((result) => result.errorCode)).toEqual(sent.map(() => ErrorCode.NONE));
    for (const partition of [0, 1]) {
      const offsets = results.filter((result) => result.index === partition).map((result) => result.baseOffset);
      expect(offsets.sort()).toEqual([0n, 1n, 2n, 3n, 4n]);
    }

    const fetched = await Promise.all(
[0, 1].map((partition) => client.request(fetchApi, 12, fetchAt('pipelined', partition, 0n, 0))),
    );
    for (const [partition, response] of fetched.entries()) {
      const data = response.responses[0]!.partitions[0]!;
      expect(data.errorCode).toBe(ErrorCode.NONE);
      expect(data.highWatermark).toBe(5n);
      const values = splitBatches(data.records!).flatMap((batch) => decodeRecords(batch).map((record) => record.value!.toString()));
      const expected = sent.filter((record) => record.partition === partition).map((record) => record.value);
      expect(values.sort()).toEqual(expected.sort());
    }
  });

  it('fails only the request that timed out, drops its late answer and keeps the connection', async () => {
    const client = await connect(address);
    await createTopic(client, 'quiet', 1);
    // The broker holds this Fetch for 5 s (no data at offset 0); the client gives up after 200 ms.
    const error = await rejectionOf(RequestTimeoutError, client.request(fetchApi, 12, fetchAt('quiet', 0, 0n, 5000), { timeoutMs: 200 }));
    expect(error.message).toContain('Fetch v12');
    expect(error.message).toContain(`127.0.0.1:${broker.port}`);
    expect(error.message).toContain('200 ms');
    expect(client.closed).toBe(false);

    // The broker answers in order: this response comes after the abandoned Fetch's, which must be dropped.
    const versions = await client.request(apiVersionsApi, 3, softwareVersion);
    expect(versions.errorCode).toBe(ErrorCode.NONE);
    expect(client.closed).toBe(false);
  });
});

describe('KafkaClient when the broker goes away', () => {
  it('rejects every request in flight when the broker is killed, and later requests as closed', async () => {
    const broker = await startBroker();
    try {
      const address = { host: '127.0.0.1', port: broker.port };
      const client = await connect(address);
      await createTopic(client, 'doomed', 1);
      const inFlight = [0, 1, 2].map(() => client.request(fetchApi, 12, fetchAt('doomed', 0, 0n, 20_000)));
      const failures = Promise.all(inFlight.map((request) => rejectionOf(BrokerConnectionError, request)));
      await broker.kill9();

      for (const error of await failures) {
        expect(error.address).toEqual(address);
        expect(error.message).toContain(`127.0.0.1:${broker.port}`);
      }
      expect(client.closed).toBe(true);
      const late = await rejectionOf(KafkaClientClosedError, client.request(apiVersionsApi, 3, softwareVersion));
      expect(late.message).toContain(`127.0.0.1:${broker.port}`);
    } finally {
      await broker.dispose();
    }
  });

  it('names the address when nothing listens on the port', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const error = await rejectionOf(BrokerConnectionError, KafkaClient.connect({ host: '127.0.0.1', port }, { clientId }));
    expect(error.address).toEqual({ host: '127.0.0.1', port });
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
  });
});

interface FakeBroker {
  readonly address: HostPort;
  close(): Promise<void>;
}

/** A TCP server that hands each whole request frame's correlation id to `answer`, to reply as it likes. */
async function fakeBroker(answer: (socket: net.Socket, correlationId: number) => void): Promise<FakeBroker> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        // Request header: size, api key (int16), api version (int16), correlation id (int32).
        answer(socket, buffered.readInt32BE(8));
        buffered = buffered.subarray(4 + buffered.readInt32BE(0));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function frame(body: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

describe('KafkaClient against a server that breaks the protocol', () => {
  const servers: FakeBroker[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  async function serve(answer: (socket: net.Socket, correlationId: number) => void): Promise<FakeBroker> {
    const server = await fakeBroker(answer);
    servers.push(server);
    return server;
  }

  it('closes the connection on a response to no request, failing everything in flight', async () => {
    let answered = false;
    const server = await serve((socket, correlationId) => {
      if (answered) return;
      answered = true;
      socket.write(frame(Buffer.concat([int32(correlationId + 1000), Buffer.from([0, 0, 0, 0, 0, 0])])));
    });
    const client = await connect(server.address);
    const requests = [client.request(apiVersionsApi, 3, softwareVersion), client.request(apiVersionsApi, 3, softwareVersion)];
    const errors = await Promise.all(requests.map((request) => rejectionOf(BrokerConnectionError, request)));
    for (const error of errors) {
      expect(error.message).toMatch(/correlation id \d+, which matches no request in flight/);
      expect(error.message).toContain(`127.0.0.1:${server.address.port}`);
    }
    expect(client.closed).toBe(true);
  });

  it('closes the connection on a frame larger than maxFrameBytes, before reading its body', async () => {
    const server = await serve((socket) => socket.write(int32(200 * 1024 * 1024)));
    const client = await connect(server.address);
    const error = await rejectionOf(BrokerConnectionError, client.request(apiVersionsApi, 3, softwareVersion));
    expect(error.message).toContain(`${200 * 1024 * 1024} bytes`);
    expect(error.message).toContain(`${100 * 1024 * 1024} bytes (maxFrameBytes)`);
    expect(error.message).toContain(`127.0.0.1:${server.address.port}`);
    expect(client.closed).toBe(true);
  });

  it('honours a smaller maxFrameBytes', async () => {
    const server = await serve((socket, correlationId) => socket.write(frame(Buffer.concat([int32(correlationId), Buffer.alloc(2000)]))));
    const client = await connect(server.address, { maxFrameBytes: 1024 });
    const error = await rejectionOf(BrokerConnectionError, client.request(apiVersionsApi, 3, softwareVersion));
    expect(error.message).toContain('2004 bytes');
    expect(error.message).toContain('1024 bytes (maxFrameBytes)');
  });

  it('closes the connection on a response that does not decode, naming the API and the codec error', async () => {
    // An ApiVersions v3 body cut short after its error code.
    const server = await serve((socket, correlationId) => socket.write(frame(Buffer.concat([int32(correlationId), Buffer.from([0, 0])]))));
    const client = await connect(server.address);
    const error = await rejectionOf(BrokerConnectionError, client.request(apiVersionsApi, 3, softwareVersion));
    expect(error.message).toContain('ApiVersions v3 response that does not decode');
    expect(error.message).toContain(`127.0.0.1:${server.address.port}`);
    expect(error.cause).toBeInstanceOf(ProtocolError);
    expect(client.closed).toBe(true);
  });

  it('rejects in-flight and later requests with KafkaClientClosedError once closed', async () => {
    const server = await serve(() => undefined);
    const client = await connect(server.address);
    const pending = client.request(apiVersionsApi, 3, softwareVersion);
    client.close();
    await rejectionOf(KafkaClientClosedError, pending);
    expect(client.closed).toBe(true);
    const after = await rejectionOf(KafkaClientClosedError, client.request(apiVersionsApi, 3, softwareVersion));
    expect(after.message).toContain('ApiVersions v3');
  });

  it('refuses a version its schema lacks, a body that does not encode and a bad timeout without touching the connection', async () => {
    const server = await serve((socket, correlationId) =>
      socket.write(frame(Buffer.concat([int32(correlationId), Buffer.from('000000000000', 'hex')]))),
    );
    const client = await connect(server.address);
    const version = await rejectionOf(RangeError, client.request(apiVersionsApi, 4, softwareVersion));
    expect(version.message).toContain('ApiVersions v4');
    await rejectionOf(ProtocolError, client.request(metadataApi, 12, { topics: [{ topicId: 'not-a-uuid', name: 't' }] }));
    const timeout = await rejectionOf(RangeError, client.request(apiVersionsApi, 0, {}, { timeoutMs: 0 }));
    expect(timeout.message).toContain('timeout 0 ms');
    expect(client.closed).toBe(false);
    // ApiVersions v0: error code 0, no API keys (an empty int32 array), and nothing else.
    const answer = await client.request(apiVersionsApi, 0, {});
    expect(answer).toMatchObject({ errorCode: ErrorCode.NONE, apiKeys: [] });
  });

  it('fails the requests in flight when the server closes the connection', async () => {
    const server = await serve((socket) => socket.destroy());
    const client = await connect(server.address);
    const error = await rejectionOf(BrokerConnectionError, client.request(apiVersionsApi, 3, softwareVersion));
    expect(error.address).toEqual(server.address);
    expect(client.closed).toBe(true);
  });
});
