import { describe, expect, it } from 'vitest';
import { ProducerStateTable, lastSequenceOf, type ProducerBatchHeader } from '../../broker/storage/producer-state.js';
import { ErrorCode } from '../../broker/protocol/errors.js';

function batch(producerId: number, producerEpoch: number, baseSequence: number, records = 1): ProducerBatchHeader {
  return { producerId, producerEpoch, baseSequence, lastOffsetDelta: records - 1 };
}

/** Appends like PartitionLog does: check, then record at the next offset when accepted. */
function appendAll(table: ProducerStateTable, batches: ProducerBatchHeader[], startOffset = 0): number {
  let next = startOffset;
  for (const b of batches) {
    expect(table.check(b)).toEqual({ action: 'append' });
    table.record(b, next);
    next += b.lastOffsetDelta + 1;
  }
  return next;
}

describe('ProducerStateTable', () => {
  it('accepts batches without a producer id untouched', () => {
    const table = new ProducerStateTable();
    const plain = batch(-1, -1, -1, 3);
    expect(table.check(plain)).toEqual({ action: 'append' });
    table.record(plain, 0);
    expect(table.check(plain)).toEqual({ action: 'append' });
    expect(table.size).toBe(0);
  });

  it('answers a retried batch with its original offsets', () => {
    const table = new ProducerStateTable();
    appendAll(table, [batch(7, 0, 0, 3), batch(7, 0, 3, 2)], 100);
    expect(table.check(batch(7, 0, 0, 3))).toEqual({ action: 'duplicate', baseOffset: 100, lastOffset: 102 });
    expect(table.check(batch(7, 0, 3, 2))).toEqual({ action: 'duplicate', baseOffset: 103, lastOffset: 104 });
  });

  it('remembers only the last five batches per producer', () => {
    const table = new ProducerStateTable();
    appendAll(table, [0, 1, 2, 3, 4, 5].map((seq) => batch(1, 0, seq)));
    expect(table.check(batch(1, 0, 1))).toMatchObject({ action: 'duplicate', baseOffset: 1 });
    // The first batch fell out of the window: a resend is no longer recognised and is out of order.
    expect(table.check(batch(1, 0, 0))).toMatchObject({ action: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  });

  it('rejects a sequence gap with OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
    const table = new ProducerStateTable();
    appendAll(table, [batch(2, 0, 0, 5)]);
    const gap = table.check(batch(2, 0, 6));
    expect(gap).toMatchObject({ action: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect(table.check(batch(2, 0, 5))).toEqual({ action: 'append' });
  });

  it('rejects a batch overlapping but not equal to a cached one', () => {
    const table = new ProducerStateTable();
    appendAll(table, [batch(2, 0, 0, 5)]);
    expect(table.check(batch(2, 0, 0, 3))).toMatchObject({ action: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  });

  it('fences a stale epoch with INVALID_PRODUCER_EPOCH', () => {
    const table = new ProducerStateTable();
    appendAll(table, [batch(3, 2, 0)]);
    expect(table.check(batch(3, 1, 1))).toMatchObject({ action: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
  });

  it('requires a new epoch to start at sequence 0 and then forgets the old epoch', () => {
    const table = new ProducerStateTable();
    appendAll(table, [batch(4, 0, 0), batch(4, 0, 1)]);
    expect(table.check(batch(4, 1, 2))).toMatchObject({ action: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    appendAll(table, [batch(4, 1, 0)], 2);
    expect(table.check(batch(4, 0, 1))).toMatchObject({ action: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
    expect(table.check(batch(4, 1, 0))).toEqual({ action: 'duplicate', baseOffset: 2, lastOffset: 2 });
  });

  it('accepts an unknown producer at any sequence, as Kafka ≥ 2.5 does', () => {
    const table = new ProducerStateTable();
    expect(table.check(batch(9, 0, 42))).toEqual({ action: 'append' });
    table.record(batch(9, 0, 42), 0);
    expect(table.check(batch(9, 0, 43))).toEqual({ action: 'append' });
    expect(table.check(batch(9, 0, 45))).toMatchObject({ action: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  });

  it('wraps sequences after 2^31-1 to 0', () => {
    expect(lastSequenceOf(0x7ffffffe, 3)).toBe(1);
    const table = new ProducerStateTable();
    table.record(batch(5, 0, 0x7ffffffe, 2), 0);
    expect(table.check(batch(5, 0, 0))).toEqual({ action: 'append' });
    expect(table.check(batch(5, 0, 1))).toMatchObject({ action: 'reject' });
  });

  it('keeps producers apart', () => {
    const table = new ProducerStateTable();
    appendAll(table, [batch(10, 0, 0), batch(11, 0, 0), batch(10, 0, 1)]);
    expect(table.check(batch(11, 0, 1))).toEqual({ action: 'append' });
    expect(table.check(batch(10, 0, 1))).toEqual({ action: 'duplicate', baseOffset: 2, lastOffset: 2 });
  });

  it('rebuilt by replaying the same batches it detects the same duplicates', () => {
    const written = [batch(12, 0, 0, 2), batch(12, 0, 2, 2), batch(12, 1, 0, 1)];
    const live = new ProducerStateTable();
    appendAll(live, written);
    const recovered = new ProducerStateTable();
    let offset = 0;
    for (const b of written) {
      recovered.record(b, offset);
      offset += b.lastOffsetDelta + 1;
    }
    for (const probe of [...written, batch(12, 1, 1), batch(12, 1, 5), batch(12, 0, 4)]) {
      expect(recovered.check(probe)).toEqual(live.check(probe));
    }
  });
});
