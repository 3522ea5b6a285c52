// Cluster-wide producer-id blocks: the controller's decision (consecutive, non-overlapping
// blocks for registered brokers at their current epoch, refusals otherwise), the image's
// counter (only ever forward, kept through snapshot → restore), the record's wire form, and
// the AllocateProducerIds schema.
import { describe, expect, it } from 'vitest';
import { ClusterImage, ClusterImageError } from '../../broker/controller/cluster/image.js';
import { PRODUCER_ID_BLOCK_SIZE, allocateProducerIds } from '../../broker/controller/cluster/producer-id-decisions.js';
import { decodeClusterRecord, encodeClusterRecord, type ClusterRecordOf } from '../../broker/controller/cluster/records.js';
import { allocateProducerIdsApi } from '../../broker/protocol/apis/67-allocate-producer-ids.js';
import { apisByKey } from '../../broker/protocol/apis/index.js';
import { Reader, decodeMessage, encodeMessage } from '../../broker/protocol/codec.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import type { MessageInput, MessageSchema, MessageValue } from '../../broker/protocol/schema.js';
import { applyAll, decisionRefusal, incarnation, liveCluster } from '../support/cluster-images.js';
import { errorOf } from '../support/thrown.js';

function roundTrip<S extends MessageSchema>(schema: S, value: MessageInput<S>): MessageValue<S> {
  const reader = new Reader(encodeMessage(schema, 0, value));
  const decoded = decodeMessage(schema, 0, reader);
  expect(reader.remaining).toBe(0);
  return decoded;
}

/** Takes a block as the controller does: decide, then apply the records. */
function take(image: ClusterImage, brokerId: number): bigint {
  const decision = allocateProducerIds(image, brokerId, image.broker(brokerId)!.brokerEpoch);
  applyAll(image, decision.records);
  expect(decision.block.size).toBe(PRODUCER_ID_BLOCK_SIZE);
  return decision.block.firstProducerId;
}

function producerIds(nextProducerId: bigint): ClusterRecordOf<'producer-ids'> {
  return { type: 'producer-ids', brokerId: 0, brokerEpoch: 0n, nextProducerId };
}

describe('allocating producer-id blocks', () => {
  it('hands consecutive, non-overlapping blocks to every broker, starting at 0', () => {
    const image = liveCluster([0, 1, 2]);
    const firsts = [take(image, 0), take(image, 1), take(image, 2), take(image, 0)];
    const size = BigInt(PRODUCER_ID_BLOCK_SIZE);
    expect(firsts).toEqual([0n, size, 2n * size, 3n * size]);
    expect(image.nextProducerId).toBe(4n * size);
  });

  it('records which broker took the block, at which epoch', () => {
    const image = liveCluster([0, 1]);
    const { records } = allocateProducerIds(image, 1, 1);
    expect(records).toEqual([{ type: 'producer-ids', brokerId: 1, brokerEpoch: 1n, nextProducerId: BigInt(PRODUCER_ID_BLOCK_SIZE) }]);
  });

  it('refuses a broker that never registered', () => {
    const refusal = decisionRefusal(() => allocateProducerIds(liveCluster([0]), 7, 0));
    expect(refusal.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
    expect(refusal.message).toMatch(/broker 7: the broker is not registered/);
  });

  it('refuses a broker naming an epoch from before its latest registration', () => {
    const image = liveCluster([0, 1]);
    image.apply({ type: 'register-broker', brokerId: 0, incarnationId: incarnation(0, 1), brokerEpoch: 2, listeners: [{ name: 'INTERNAL', host: 'b0', port: 9092 }], rack: null, fenced: true });
    const refusal = decisionRefusal(() => allocateProducerIds(image, 0, 0));
    expect(refusal.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(refusal.message).toMatch(/epoch 0.*epoch 2/);
    expect(take(image, 0)).toBe(0n);
  });

  it('refuses a block past the ids the broker can hold exactly', () => {
    const image = applyAll(liveCluster([0]), [producerIds(BigInt(Number.MAX_SAFE_INTEGER) - 10n)]);
    const refusal = decisionRefusal(() => allocateProducerIds(image, 0, 0));
    expect(refusal.errorCode).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(refusal.message).toMatch(/used up its producer ids/);
  });
});

describe('the image\'s producer-id counter', () => {
  it('only moves forward: a record at or below the current counter is refused and changes nothing', () => {
    const image = applyAll(liveCluster([0]), [producerIds(2000n)]);
    for (const next of [2000n, 1000n]) {
      const error = errorOf(ClusterImageError, () => image.apply(producerIds(next)));
      expect(error.message).toMatch(new RegExp(`ProducerIdsRecord\\(brokerId=0\\).*${next} is not above the current one, 2000`));
      expect(image.nextProducerId).toBe(2000n);
    }
  });

  it('survives snapshot → restore, so a restarted or new controller continues past every block given', () => {
    const image = liveCluster([0, 1]);
    take(image, 0);
    take(image, 1);
    const restored = ClusterImage.restore(image.snapshot());
    expect(restored.nextProducerId).toBe(2n * BigInt(PRODUCER_ID_BLOCK_SIZE));
    expect(restored.records()).toEqual(image.records());
    // The snapshot's record names no broker: its epoch may be long gone.
    expect(restored.records().filter((record) => record.type === 'producer-ids')).toEqual([
      { type: 'producer-ids', brokerId: -1, brokerEpoch: -1n, nextProducerId: 2n * BigInt(PRODUCER_ID_BLOCK_SIZE) },
    ]);
    expect(take(restored, 1)).toBe(2n * BigInt(PRODUCER_ID_BLOCK_SIZE));
  });

  it('leaves the counter out of the snapshot of a cluster that never gave out a block', () => {
    const image = liveCluster([0]);
    expect(image.records().some((record) => record.type === 'producer-ids')).toBe(false);
    expect(ClusterImage.restore(image.snapshot()).nextProducerId).toBe(0n);
  });
});

describe('the ProducerIdsRecord wire form', () => {
  it('is Kafka\'s record type 15, version 0, and decodes back to the same values', () => {
    const record: ClusterRecordOf<'producer-ids'> = { type: 'producer-ids', brokerId: 3, brokerEpoch: 9_000_000_000n, nextProducerId: 123_000n };
    const bytes = encodeClusterRecord(record);
    expect(bytes.readInt16BE(0)).toBe(15);
    expect(bytes.readInt16BE(2)).toBe(0);
    expect(decodeClusterRecord(bytes)).toEqual(record);
  });
});

describe('AllocateProducerIds schema', () => {
  it('is key 67, v0 only, and round-trips its request and response', () => {
    expect(apisByKey.get(67)).toBe(allocateProducerIdsApi);
    expect([allocateProducerIdsApi.minVersion, allocateProducerIdsApi.maxVersion]).toEqual([0, 0]);
    const request = { brokerId: 2, brokerEpoch: 41n };
    const response = { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerIdStart: 5000n, producerIdLen: 1000 };
    expect(roundTrip(allocateProducerIdsApi.request, request)).toEqual(request);
    expect(roundTrip(allocateProducerIdsApi.response, response)).toEqual(response);
  });

  it('encodes the request as the Kafka protocol guide lays it out (flexible: a tagged-field count at the end)', () => {
    const bytes = encodeMessage(allocateProducerIdsApi.request, 0, { brokerId: 1, brokerEpoch: 2n });
    expect(bytes.toString('hex')).toBe(`00000001${'0000000000000002'}00`);
  });
});
