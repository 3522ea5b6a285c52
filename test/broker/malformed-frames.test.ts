// Hostile and broken input over a raw socket: oversized, negative, truncated and garbled
// frames, unknown APIs, versions out of range, record batches with flipped bytes. Each one
// is answered or closes only its own connection (with a logged reason); meanwhile a kafkajs
// producer on another connection keeps succeeding, and no stored byte of any segment changes.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiVersionsApi } from '../../broker/protocol/apis/18-api-versions.js';
import { fetchApi } from '../../broker/protocol/apis/01-fetch.js';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { produceApi } from '../../broker/protocol/apis/00-produce.js';
import { decodeResponse, encodeRequest } from '../../broker/protocol/header.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { buildBatch } from '../../broker/storage/record-batch.js';
import { consumeWithKcat, kafkaClient, type ConsumedRecord, withAdmin } from '../support/broker-clients.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';
import { seededRandom } from '../support/seeded-random.js';

const maxFrameBytes = 1024 * 1024;
let broker: BrokerProcess;
let segmentsBefore: Map<string, Buffer>;
let recordsBefore: ConsumedRecord[];
let background: { stop(): Promise<{ sends: number; errors: unknown[] }> };

async function segmentBytes(dataDir: string, partitionDir: string): Promise<Map<string, Buffer>> {
  const dir = path.join(dataDir, partitionDir);
  const files = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
  return new Map(await Promise.all(files.map(async (name) => [name, await readFile(path.join(dir, name))] as const)));
}

function produceFrame(correlationId: number, records: Buffer): Buffer {
  return Buffer.concat(
    encodeRequest(produceApi, 7, correlationId, 'fuzz', {
      acks: -1,
      timeoutMs: 5_000,
      topicData: [{ name: 'guarded', partitionData: [{ index: 0, records }] }],
    }),
  );
}

async function expectClosed(client: WireClient): Promise<void> {
  const outcome = await client.next();
  expect(outcome.kind).toBe('closed');
}

beforeAll(async () => {
  broker = await startBroker({ args: ['--max-frame-bytes', String(maxFrameBytes)] });
  const kafka = kafkaClient(broker.bootstrap);
  await withAdmin(kafka, (admin) => admin.createTopics({ topics: [{ topic: 'guarded' }, { topic: 'parallel', numPartitions: 2 }] }));
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: 'guarded',
    messages: Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `stored ${i}` })),
  });
  await producer.disconnect();
  segmentsBefore = await segmentBytes(broker.dataDir, 'guarded-0');
  recordsBefore = await consumeWithKcat(broker.bootstrap, 'guarded');

  // A well-behaved client working on its own connection the whole time.
  const parallel = kafka.producer();
  await parallel.connect();
  let running = true;
  let sends = 0;
  const errors: unknown[] = [];
  const loop = (async () => {
    while (running) {
      try {
        await parallel.send({ topic: 'parallel', acks: -1, messages: [{ value: `tick ${sends}` }] });
        sends++;
      } catch (error) {
        errors.push(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  background = {
    async stop() {
      running = false;
      await loop;
      await parallel.disconnect();
      return { sends, errors };
    },
  };
});

afterAll(async () => {
  await broker?.dispose();
});

describe('malformed frames', () => {
  it('closes a connection announcing a frame larger than --max-frame-bytes, and logs why', async () => {
    const client = await WireClient.connect(broker.port);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(maxFrameBytes + 1);
    client.write(prefix);
    await expectClosed(client);
    await broker.waitForLog(/exceeds the maximum of 1048576 bytes/);
  });

  it('closes a connection announcing a negative frame size', async () => {
    const client = await WireClient.connect(broker.port);
    client.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await expectClosed(client);
  });

  it('closes a connection whose Produce frame ends inside the record batch, logging api and version', async () => {
    const client = await WireClient.connect(broker.port);
    const whole = produceFrame(1, buildBatch([{ value: Buffer.from('never stored') }]));
    const truncated = Buffer.from(whole.subarray(0, whole.length - 30));
    truncated.writeInt32BE(truncated.length - 4, 0);
    client.write(truncated);
    await expectClosed(client);
    await broker.waitForLog(/connection closed remote=127\.0\.0\.1:\d+ cause=broker reason="malformed Produce \(api key 0\) v7 request: truncated/);
  });

  it('closes a connection sending an unknown api key, and one sending a Fetch version above the supported range', async () => {
    const unknown = await WireClient.connect(broker.port);
    const header = Buffer.alloc(14);
    header.writeInt32BE(10, 0);
    header.writeInt16BE(999, 4);
    header.writeInt16BE(0, 6);
    header.writeInt32BE(7, 8);
    header.writeInt16BE(-1, 12);
    unknown.write(header);
    await expectClosed(unknown);
    await broker.waitForLog(/unknown api key 999/);

    const tooNew = await WireClient.connect(broker.port);
    const frame = Buffer.concat(
      encodeRequest(fetchApi, 12, 3, 'x', { maxWaitMs: 0, minBytes: 0, topics: [], forgottenTopicsData: [] }),
    );
    frame.writeInt16BE(fetchApi.maxVersion + 5, 6);
    tooNew.write(frame);
    await expectClosed(tooNew);
  });

  it('answers ApiVersions at an unknown version in the v0 form with UNSUPPORTED_VERSION and the api list', async () => {
    const client = await WireClient.connect(broker.port);
    const frame = Buffer.concat(encodeRequest(apiVersionsApi, 3, 42, 'x', { clientSoftwareName: 'a', clientSoftwareVersion: '1' }));
    frame.writeInt16BE(99, 6);
    client.write(frame);
    const next = await client.next();
    expect(next.kind).toBe('frame');
    const { correlationId, body } = decodeResponse(apiVersionsApi, 0, (next as { frame: Buffer }).frame);
    expect(correlationId).toBe(42);
    expect(body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const keys = body.apiKeys.map((entry) => entry.apiKey);
    expect(keys).toEqual(expect.arrayContaining([0, 1, 2, 3, 18, 19, 20, 21, 32, 37]));
    expect(body.apiKeys.every((entry) => entry.minVersion === 0)).toBe(true);
    // The connection stays usable: a supported version is answered normally.
    const ok = await client.request(apiVersionsApi, 3, { clientSoftwareName: 'a', clientSoftwareVersion: '1' });
    expect(ok.errorCode).toBe(ErrorCode.NONE);
  });

  it('answers a Produce below the implemented versions with UNSUPPORTED_VERSION for each partition, storing nothing', async () => {
    const client = await WireClient.connect(broker.port);
    const response = await client.request(produceApi, 2, {
      acks: 1,
      timeoutMs: 1_000,
      topicData: [{ name: 'guarded', partitionData: [{ index: 0, records: buildBatch([{ value: Buffer.from('old') }]) }] }],
    });
    expect(response.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('rejects every record batch with a flipped byte, answering pipelined requests in order', async () => {
    const random = seededRandom(20261121);
    const client = await WireClient.connect(broker.port);
    const batch = buildBatch(
      Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`fuzz-${i}`), value: Buffer.from(`payload ${i}`) })),
    );
    const magicOffset = 16;
    const count = 200;
    for (let i = 0; i < count; i++) {
      const mutated = Buffer.from(batch);
      const at = magicOffset + Math.floor(random() * (batch.length - magicOffset));
      mutated[at]! ^= 1 << Math.floor(random() * 8);
      client.write(produceFrame(1000 + i, mutated));
    }
    for (let i = 0; i < count; i++) {
      const next = await client.next();
      expect(next.kind).toBe('frame');
      const { correlationId, body } = decodeResponse(produceApi, 7, (next as { frame: Buffer }).frame);
      expect(correlationId).toBe(1000 + i);
      const errorCode = body.responses[0]?.partitionResponses[0]?.errorCode;
      expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD]).toContain(errorCode);
    }
  });

  it('answers or closes each connection sent random garbage frames', async () => {
    const random = seededRandom(7);
    let answered = 0;
    let closed = 0;
    for (let i = 0; i < 150; i++) {
      const client = await WireClient.connect(broker.port);
      const body = Buffer.alloc(Math.floor(random() * 120));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(random() * 256);
      // Half of the frames start with a real api key and version, so decoding gets further.
      if (body.length >= 4 && random() < 0.5) {
        body.writeInt16BE([0, 1, 2, 3, 18, 19, 20, 21, 32, 37][Math.floor(random() * 10)]!, 0);
        body.writeInt16BE(Math.floor(random() * 8), 2);
      }
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(body.length);
      client.write([prefix, body]);
      const outcome = await client.next();
      if (outcome.kind === 'closed') closed++;
      else answered++;
      client.destroy();
    }
    expect(answered + closed).toBe(150);
    expect(closed).toBeGreaterThan(0);
  });

  it('closes the connection of an acks=0 produce that failed, since no response can carry the error', async () => {
    const client = await WireClient.connect(broker.port);
    client.sendRequest(produceApi, 7, {
      acks: 0,
      timeoutMs: 1_000,
      topicData: [{ name: 'bad/name', partitionData: [{ index: 0, records: buildBatch([{ value: Buffer.from('x') }]) }] }],
    });
    await expectClosed(client);
    await broker.waitForLog(/acks=0 produce to bad\/name-0 failed with INVALID_TOPIC_EXCEPTION/);
  });

  it('survives a client that sends half a frame and disconnects', async () => {
    const client = await WireClient.connect(broker.port);
    const whole = produceFrame(5, buildBatch([{ value: Buffer.from('half') }]));
    client.write(whole.subarray(0, Math.floor(whole.length / 2)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
  });

  it('kept serving the parallel kafkajs client, and no stored byte changed', async () => {
    const { sends, errors } = await background.stop();
    expect(errors).toEqual([]);
    expect(sends).toBeGreaterThan(0);

    const client = await WireClient.connect(broker.port);
    const metadata = await client.request(metadataApi, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'guarded' }] });
    expect(metadata.topics[0]?.errorCode).toBe(ErrorCode.NONE);

    expect(await segmentBytes(broker.dataDir, 'guarded-0')).toEqual(segmentsBefore);
    expect(await consumeWithKcat(broker.bootstrap, 'guarded')).toEqual(recordsBefore);
    const parallel = await consumeWithKcat(broker.bootstrap, 'parallel');
    expect(parallel).toHaveLength(sends);
  });
});
