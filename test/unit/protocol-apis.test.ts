import { describe, expect, expectTypeOf, it } from 'vitest';
import { apis, apisByKey, fetchApi, metadataApi, produceApi, type FetchResponse, type ProduceRequest } from '../../broker/protocol/apis/index.js';
import { Reader, decodeMessage, defaultMessage, encodeMessage } from '../../broker/protocol/codec.js';
import { ProtocolError } from '../../broker/protocol/errors.js';
import { parseVersions } from '../../broker/protocol/schema.js';
import type { Field, MessageSchema, MessageValue } from '../../broker/protocol/schema.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * Round-trips every API's request and response at its lowest served version, its highest, and
 * both sides of the flexible boundary, using values generated from the schema itself: every
 * field present in the version gets a distinct non-default value (nulls where nullable, every
 * few fields), tagged fields included, so a field written in the wrong place or the wrong form
 * would not come back equal.
 */

function sampleScalar(type: string, random: () => number): unknown {
  const pick = Math.floor(random() * 1000) + 1;
  switch (type) {
    case 'bool':
      return true;
    case 'int8':
      return (pick % 120) + 1;
    case 'int16':
      return pick;
    case 'uint16':
      return 40000 + pick;
    case 'int32':
      return pick * 100_003;
    case 'uint32':
      return 3_000_000_000 + pick;
    case 'int64':
      return BigInt(pick) * 10_000_000_007n;
    case 'float64':
      return pick / 7;
    case 'string':
      return `s${pick}-é`;
    case 'uuid':
      return `${pick.toString(16).padStart(8, '0')}-1234-4abc-8def-0123456789ab`;
    case 'bytes':
      return Buffer.from([pick & 0xff, 1, 2, 3]);
    case 'records':
      return Buffer.alloc(pick % 3 === 0 ? 1500 : 20, pick & 0xff);
    default:
      throw new Error(`no sample for ${type}`);
  }
}

/** A value for `fields` at `version`; fields absent from the version are left out. */
function sample(fields: readonly Field[], version: number, flexible: boolean, random: () => number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (!parseVersions(field.versions).includes(version)) continue;
    if (parseVersions(field.taggedVersions).includes(version) && !flexible) continue;
    const nullable = field.type === 'records' || parseVersions(field.nullableVersions).includes(version);
    if (nullable && random() < 0.25) {
      out[field.name] = null;
      continue;
    }
    if (field.type === '[]struct') {
      out[field.name] = [0, 1].map(() => sample(field.fields, version, flexible, random));
    } else if (field.type === 'struct') {
      out[field.name] = sample(field.fields, version, flexible, random);
    } else if (field.type.startsWith('[]')) {
      out[field.name] = [0, 1, 2].map(() => sampleScalar(field.type.slice(2), random));
    } else {
      out[field.name] = sampleScalar(field.type, random);
    }
  }
  return out;
}

/** `decoded` must carry every sampled value (absent-from-version fields hold defaults instead). */
function expectCarries(decoded: unknown, sent: unknown, path: string): void {
  if (Array.isArray(sent)) {
    expect(Array.isArray(decoded), path).toBe(true);
    expect((decoded as unknown[]).length, path).toBe(sent.length);
    sent.forEach((item, i) => expectCarries((decoded as unknown[])[i], item, `${path}[${i}]`));
  } else if (sent !== null && typeof sent === 'object' && !Buffer.isBuffer(sent)) {
    for (const [key, value] of Object.entries(sent)) expectCarries((decoded as Record<string, unknown>)[key], value, `${path}.${key}`);
  } else {
    expect(decoded, path).toEqual(sent);
  }
}

/** Every version from 0 (below-minimum versions are still encoded for UNSUPPORTED_VERSION answers) to the maximum. */
function versionsToTest(max: number): number[] {
  return Array.from({ length: max + 1 }, (_, version) => version);
}

function roundTrip(schema: MessageSchema, version: number, flexible: boolean, seed: number): void {
  const value = sample(schema.fields, version, flexible, seededRandom(seed));
  const bytes = encodeMessage(schema, version, value);
  const reader = new Reader(bytes);
  const decoded = decodeMessage(schema, version, reader);
  expect(reader.remaining, 'whole message consumed').toBe(0);
  expectCarries(decoded, value, schema.name);
  // Decoded values re-encode to the same bytes: nothing was lost or invented.
  expect(encodeMessage(schema, version, decoded).equals(bytes)).toBe(true);
}

describe('every API round-trips at every version (min, max and both sides of the flexible boundary included)', () => {
  for (const api of apis) {
    for (const version of versionsToTest(api.maxVersion)) {
      it(`${api.name} v${version} request and response`, () => {
        for (let seed = 1; seed <= 4; seed++) {
          roundTrip(api.request, version, api.isFlexible(version), seed * 7919 + api.key);
          roundTrip(api.response, version, api.isFlexible(version), seed * 104_729 + api.key);
        }
      });
    }
  }
});

describe('malformed input (fixed-seed fuzz)', () => {
  it('mutated, truncated and random bodies of every API only ever raise ProtocolError', () => {
    const random = seededRandom(0x5eed);
    const seeds: [MessageSchema, number, Buffer][] = [];
    for (const api of apis) {
      for (const version of versionsToTest(api.maxVersion)) {
        for (const schema of [api.request, api.response]) {
          seeds.push([schema, version, encodeMessage(schema, version, sample(schema.fields, version, api.isFlexible(version), random))]);
        }
      }
    }
    let rejected = 0;
    let accepted = 0;
    for (let round = 0; round < 6000; round++) {
      const [schema, version, body] = seeds[round % seeds.length]!;
      let input: Buffer;
      if (round % 3 === 0) {
        input = Buffer.from(body);
        for (let flips = 1 + Math.floor(random() * 4); flips > 0 && input.length > 0; flips--) {
          input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
        }
      } else if (round % 3 === 1) {
        input = body.subarray(0, Math.floor(random() * body.length));
      } else {
        input = Buffer.from(Array.from({ length: Math.floor(random() * 96) }, () => Math.floor(random() * 256)));
      }
      try {
        decodeMessage(schema, version, new Reader(input));
        // A strict prefix of a valid body can never decode: the reads are the same, the bytes run out.
        expect(round % 3 === 1 && input.length < body.length, `${schema.name} v${version} accepted a truncated body`).toBe(false);
        accepted++;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        expect(error.context.message).toBe(schema.name);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(2000);
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('api registry', () => {
  it('holds every API the broker must serve, with the required version ranges', () => {
    const required: Record<number, [string, number, number]> = {
      0: ['Produce', 3, 9],
      1: ['Fetch', 4, 12],
      2: ['ListOffsets', 0, 7],
      3: ['Metadata', 0, 12],
      8: ['OffsetCommit', 0, 8],
      9: ['OffsetFetch', 0, 8],
      10: ['FindCoordinator', 0, 4],
      11: ['JoinGroup', 0, 9],
      12: ['Heartbeat', 0, 4],
      13: ['LeaveGroup', 0, 5],
      14: ['SyncGroup', 0, 5],
      15: ['DescribeGroups', 0, 5],
      16: ['ListGroups', 0, 4],
      18: ['ApiVersions', 0, 3],
      19: ['CreateTopics', 0, 7],
      20: ['DeleteTopics', 0, 6],
      21: ['DeleteRecords', 0, 2],
      22: ['InitProducerId', 0, 4],
      23: ['OffsetForLeaderEpoch', 0, 4],
      32: ['DescribeConfigs', 0, 4],
      33: ['AlterConfigs', 0, 2],
      37: ['CreatePartitions', 0, 3],
      42: ['DeleteGroups', 0, 2],
      43: ['ElectLeaders', 0, 2],
      44: ['IncrementalAlterConfigs', 0, 1],
      55: ['DescribeQuorum', 0, 2],
      56: ['AlterPartition', 0, 2],
      60: ['DescribeCluster', 0, 1],
      62: ['BrokerRegistration', 0, 1],
      63: ['BrokerHeartbeat', 0, 0],
      67: ['AllocateProducerIds', 0, 0],
    };
    for (const [key, [name, min, max]] of Object.entries(required)) {
      const api = apisByKey.get(Number(key));
      expect(api?.name).toBe(name);
      expect(api?.minVersion).toBe(min);
      expect(api?.maxVersion).toBe(max);
      expect(api?.supports(min - 1)).toBe(false);
      expect(api?.supports(max + 1)).toBe(false);
    }
    expect(apisByKey.size).toBe(Object.keys(required).length);
  });

  it('decodes absent fields as their declared defaults so handlers see every field', () => {
    expect(defaultMessage(produceApi.response, 3)).toEqual({ responses: [], throttleTimeMs: 0 });
    const bytes = encodeMessage(produceApi.response, 3, {
      responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5n }] }],
    });
    const decoded = decodeMessage(produceApi.response, 3, new Reader(bytes));
    const partition = decoded.responses[0]!.partitionResponses[0]!;
    expect(partition.logStartOffset).toBe(-1n); // '5+' field, declared default -1
    expect(partition.recordErrors).toEqual([]);
    expect(partition.errorMessage).toBeNull();
  });

  it('infers handler types from the schemas', () => {
    const request: ProduceRequest = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: 'a', partitionData: [{ index: 0, records: Buffer.alloc(0) }] }],
    };
    // Optional fields (not in every version, or defaulted) may be left out of responses.
    const response: FetchResponse = { responses: [{ topic: 'a', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1n, records: null }] }] };
    expectTypeOf<ProduceRequest['topicData'][number]['partitionData'][number]['records']>().toEqualTypeOf<Buffer | null>();
    expectTypeOf<ProduceRequest['transactionalId']>().toEqualTypeOf<string | null>();
    expectTypeOf<ProduceRequest['acks']>().toEqualTypeOf<number>();
    expectTypeOf<MessageValue<typeof fetchApi.request>['topics'][number]['partitions'][number]['fetchOffset']>().toEqualTypeOf<bigint>();
    expectTypeOf<MessageValue<typeof metadataApi.request>['topics']>().toEqualTypeOf<{ topicId: string; name: string | null }[] | null>();
    expect(request.topicData[0]?.partitionData[0]?.records?.length).toBe(0);
    expect(response.responses[0]?.partitions[0]?.highWatermark).toBe(1n);
  });
});
