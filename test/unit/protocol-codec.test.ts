import { describe, expect, it } from 'vitest';
import { apiVersionsApi, fetchApi, metadataApi, produceApi, type ProduceResponse } from '../../broker/protocol/apis/index.js';
import { Reader, Writer, decodeMessage, encodeMessage } from '../../broker/protocol/codec.js';
import { ErrorCode, ProtocolError, errorName } from '../../broker/protocol/errors.js';
import {
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../broker/protocol/header.js';

const bytes = (...values: number[]): Buffer => Buffer.from(values);

describe('primitive codec', () => {
  it('rejects over-long varints instead of looping or overflowing', () => {
    expect(() => new Reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).uvarint()).toThrow(ProtocolError);
    expect(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff, 0x7f)).uvarint()).toThrow(/exceeds 32 bits/);
    expect(() => new Reader(bytes(0x80)).uvarint()).toThrow(/truncated/);
  });

  it('round-trips strings, compact and nullable forms, uuids and int64s', () => {
    const writer = new Writer(4);
    writer.string('héllo').nullableString(null).compactString('añb').compactNullableString(null).compactNullableString('');
    writer.uuid('0123abcd-4567-89ef-0123-456789abcdef').int64(-2n).float64(0.5).uint32(4294967295).uint16(65535);
    const reader = new Reader(writer.toBuffer());
    expect(reader.string()).toBe('héllo');
    expect(reader.nullableString()).toBeNull();
    expect(reader.compactString()).toBe('añb');
    expect(reader.compactNullableString()).toBeNull();
    expect(reader.compactNullableString()).toBe('');
    expect(reader.uuid()).toBe('0123abcd-4567-89ef-0123-456789abcdef');
    expect(reader.int64()).toBe(-2n);
    expect(reader.float64()).toBe(0.5);
    expect(reader.uint32()).toBe(4294967295);
    expect(reader.uint16()).toBe(65535);
    expect(reader.remaining).toBe(0);
  });

  it('writes large record blobs as their own chunk, aliasing the caller buffer', () => {
    const records = Buffer.alloc(64 * 1024, 7);
    const chunks = encodeResponse(fetchApi, 11, 99, {
      responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1n, records }] }],
    });
    expect(chunks).toContain(records);
    const frame = Buffer.concat(chunks);
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const { correlationId, body } = decodeResponse(fetchApi, 11, frame.subarray(4));
    expect(correlationId).toBe(99);
    expect(body.responses[0]?.partitions[0]?.records?.equals(records)).toBe(true);
  });

  it('copies small record blobs inline (one chunk) and keeps the size prefix right after growing', () => {
    const records = Buffer.alloc(100, 1);
    const chunks = encodeResponse(produceApi, 7, 5, {
      responses: Array.from({ length: 200 }, (_, i) => ({ name: `topic-${i}`, partitionResponses: [{ index: i, errorCode: 0, baseOffset: BigInt(i) }] })),
    });
    expect(chunks).toHaveLength(1);
    const frame = chunks[0]!;
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    expect(decodeResponse(produceApi, 7, frame.subarray(4)).body.responses).toHaveLength(200);
    const fetchChunks = encodeResponse(fetchApi, 4, 6, {
      responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1n, records }] }],
    });
    expect(fetchChunks).toHaveLength(1);
  });
});

describe('headers and frames', () => {
  it('uses request header v2 and response header v1 exactly for flexible versions, except ApiVersions responses', () => {
    expect(requestHeaderVersion(metadataApi, 8)).toBe(1);
    expect(requestHeaderVersion(metadataApi, 9)).toBe(2);
    expect(responseHeaderVersion(metadataApi, 8)).toBe(0);
    expect(responseHeaderVersion(metadataApi, 9)).toBe(1);
    expect(requestHeaderVersion(apiVersionsApi, 3)).toBe(2);
    expect(responseHeaderVersion(apiVersionsApi, 3)).toBe(0);
  });

  it('round-trips a flexible request frame: header tagged fields consumed, body decoded', () => {
    const frame = Buffer.concat(
      encodeRequest(metadataApi, 12, 77, 'rdkafka', {
        topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'orders' }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: true,
      }),
    );
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const reader = new Reader(frame, 4);
    expect(decodeRequestHeader(reader)).toEqual({ apiKey: 3, apiVersion: 12, correlationId: 77, clientId: 'rdkafka' });
    expect(decodeMessage(metadataApi.request, 12, reader)).toEqual({
      topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'orders' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: true,
    });
    expect(reader.remaining).toBe(0);
  });

  it('reads the header of an ApiVersions request newer than the broker serves (flexible, tagged)', () => {
    // ApiVersions v4 request, header v2 with one unknown tagged field, empty compact strings.
    const frame = bytes(0, 18, 0, 4, 0, 0, 0, 1, 0, 1, 0x63, 1, 5, 2, 0xaa, 0xbb, 1, 1, 0);
    const reader = new Reader(frame);
    expect(decodeRequestHeader(reader)).toEqual({ apiKey: 18, apiVersion: 4, correlationId: 1, clientId: 'c' });
    expect(reader.offset).toBe(16);
    expect(apiVersionsApi.supports(4)).toBe(false);
  });

  it('leaves an unknown API key to the caller, positioned after the client id', () => {
    const reader = new Reader(bytes(0x03, 0xe7, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 1, 2));
    expect(decodeRequestHeader(reader)).toEqual({ apiKey: 999, apiVersion: 0, correlationId: 9, clientId: null });
    expect(reader.remaining).toBe(2);
  });
});

describe('malformed input', () => {
  it('names the message, version, field path and offset of a truncation', async () => {
    const body = encodeMessage(fetchApi.request, 12, {
      maxWaitMs: 100,
      minBytes: 1,
      topics: [{ topic: 'events', partitions: [{ partition: 0, fetchOffset: 5n, partitionMaxBytes: 1024 }] }],
    });
    // Ends after 25 bytes are cut: partitionMaxBytes, logStartOffset, lastFetchedEpoch and tag sections are gone, fetchOffset is half there.
    const cut = body.subarray(0, body.length - 25);
    let caught: unknown;
    try {
      decodeMessage(fetchApi.request, 12, new Reader(cut));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    const error = caught as ProtocolError;
    expect(error.context.message).toBe('FetchRequest');
    expect(error.context.version).toBe(12);
    expect(error.context.field).toBe('topics.partitions.fetchOffset');
    expect(error.message).toMatch(/FetchRequest v12, field topics\.partitions\.fetchOffset, byte \d+/);
  });

  it('rejects a length prefix larger than the frame before allocating', () => {
    // Produce v7: transactionalId null, acks, timeout, then a topic array claiming 2^31-1 entries.
    const frame = bytes(0xff, 0xff, 0, 1, 0, 0, 0x03, 0xe8, 0x7f, 0xff, 0xff, 0xff, 0, 0);
    expect(() => decodeMessage(produceApi.request, 7, new Reader(frame))).toThrow(/array length 2147483647 exceeds/);
    // A records blob claiming 1 GiB.
    const records = bytes(0xff, 0xff, 0, 1, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0x40, 0, 0, 0, 1);
    expect(() => decodeMessage(produceApi.request, 7, new Reader(records))).toThrow(/topicData\.partitionData\.records/);
  });

  it('rejects negative lengths other than the null marker', () => {
    expect(() => new Reader(bytes(0xff, 0xfe)).nullableString()).toThrow(/negative string length -2/);
    expect(() => new Reader(bytes(0xff, 0xff)).string()).toThrow(ProtocolError);
    expect(() => new Reader(bytes(0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xfe)).arrayLength(false)).toThrow(ProtocolError);
    expect(() => decodeMessage(produceApi.request, 3, new Reader(bytes(0, 1, 0x61, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff)))).toThrow(/not nullable/);
  });

  it('rejects a tagged field whose declared size is shorter than its value', () => {
    // ApiVersions v3 response body: errorCode, empty apiKeys, throttle, one tagged field (finalizedFeaturesEpoch, tag 1) sized 2 for an int64.
    const body = bytes(0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0);
    expect(() => decodeMessage(apiVersionsApi.response, 3, new Reader(body))).toThrow(ProtocolError);
  });

  it('skips unknown tagged fields', () => {
    const body = bytes(0, 0, 1, 0, 0, 0, 0, 1, 9, 3, 1, 2, 3);
    const reader = new Reader(body);
    expect(decodeMessage(apiVersionsApi.response, 3, reader)).toMatchObject({ errorCode: 0, apiKeys: [], finalizedFeaturesEpoch: -1n });
    expect(reader.remaining).toBe(0);
  });

  it('refuses to encode a null into a non-nullable field, naming it', () => {
    expect(() =>
      encodeMessage(metadataApi.response, 1, { brokers: [], topics: [{ errorCode: 0, name: null, partitions: [] }] }),
    ).toThrow(/MetadataResponse v1, field topics\.name/);
  });

  it('turns an out-of-range or mistyped value into a ProtocolError naming the field', () => {
    expect(() => encodeMessage(produceApi.response, 7, { responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 70000, baseOffset: 0n }] }] })).toThrow(
      /ProduceResponse v7, field responses\.partitionResponses\.errorCode/,
    );
    const mistyped = { responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5 }] }] } as unknown as ProduceResponse;
    expect(() => encodeMessage(produceApi.response, 7, mistyped)).toThrow(/field responses\.partitionResponses\.baseOffset/);
  });
});

describe('error codes', () => {
  it('carries the wire numbers clients understand', () => {
    expect(ErrorCode.NONE).toBe(0);
    expect(ErrorCode.OFFSET_OUT_OF_RANGE).toBe(1);
    expect(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).toBe(3);
    expect(ErrorCode.NOT_LEADER_OR_FOLLOWER).toBe(6);
    expect(ErrorCode.UNSUPPORTED_VERSION).toBe(35);
    expect(ErrorCode.KAFKA_STORAGE_ERROR).toBe(56);
    expect(ErrorCode.UNKNOWN_SERVER_ERROR).toBe(-1);
    expect(errorName(87)).toBe('INVALID_RECORD');
    expect(errorName(12345)).toBe('UNKNOWN_ERROR_CODE_12345');
  });
});
