// Idempotent-producer state of one partition: for each producer id, its current epoch and the
// sequence ranges (with their offsets) of the last few batches it wrote. PartitionLog asks
// check() before appending a batch and calls record() after it is stored — and again for every
// producer batch it reads back during recovery, so the table is rebuilt from the log itself and
// follows it through restarts (and, later, through replication: followers record what they copy).
//
// Rules follow Apache Kafka's ProducerStateManager / ProducerAppendInfo (≥ 2.5, KIP-360):
// - a batch whose epoch and sequence range equal one of the last 5 cached batches is a duplicate
//   (a retry): it is acknowledged with the original offsets and not stored again;
// - an epoch lower than the known one is stale → INVALID_PRODUCER_EPOCH;
// - a higher epoch must start at sequence 0 → otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
// - within an epoch the first sequence must follow the last stored one (wrapping after
//   2^31-1 to 0) → otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
// - a producer the table does not know (never wrote here, or its batches were deleted by
//   retention / DeleteRecords) is accepted at any sequence, as Kafka ≥ 2.5 does, instead of
//   the UNKNOWN_PRODUCER_ID answer older brokers gave.
// Transactional state (open transactions, markers) is not tracked yet.

/** Kafka error codes this table answers with (storage numbers its codes itself, see errors.ts). */
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
const INVALID_PRODUCER_EPOCH = 47;

/** How many recent batches per producer are remembered for duplicate detection (Kafka: 5,
 * matching max.in.flight.requests.per.connection for idempotent producers). */
export const RETAINED_BATCHES_PER_PRODUCER = 5;

const MAX_SEQUENCE = 0x7fffffff;

/** The header fields producer state needs; a storage RecordBatch view satisfies it. */
export interface ProducerBatchHeader {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
}

export type ProducerCheck =
  | { action: 'append' }
  | { action: 'duplicate'; baseOffset: number; lastOffset: number }
  | { action: 'reject'; errorCode: number; message: string };

interface CachedBatch {
  firstSequence: number;
  lastSequence: number;
  baseOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first; at most RETAINED_BATCHES_PER_PRODUCER. */
  batches: CachedBatch[];
}

/** Last sequence of a batch: Kafka's sequences wrap from 2^31-1 back to 0. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  const last = baseSequence + lastOffsetDelta;
  return last > MAX_SEQUENCE ? last - MAX_SEQUENCE - 1 : last;
}

function follows(lastSequence: number, nextSequence: number): boolean {
  return nextSequence === lastSequence + 1 || (lastSequence === MAX_SEQUENCE && nextSequence === 0);
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  check(batch: ProducerBatchHeader): ProducerCheck {
    if (batch.producerId < 0) return { action: 'append' };
    const entry = this.producers.get(batch.producerId);
    if (!entry) return { action: 'append' };

    const lastSequence = lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta);
    if (batch.producerEpoch === entry.epoch) {
      const original = entry.batches.find(
        (cached) => cached.firstSequence === batch.baseSequence && cached.lastSequence === lastSequence,
      );
      if (original) return { action: 'duplicate', baseOffset: original.baseOffset, lastOffset: original.lastOffset };
    }

    if (batch.producerEpoch < entry.epoch) {
      return {
        action: 'reject',
        errorCode: INVALID_PRODUCER_EPOCH,
        message: `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than the current epoch ${entry.epoch}`,
      };
    }
    if (batch.producerEpoch > entry.epoch) {
      if (batch.baseSequence === 0) return { action: 'append' };
      return {
        action: 'reject',
        errorCode: OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${batch.producerId} started epoch ${batch.producerEpoch} at sequence ${batch.baseSequence}, expected 0`,
      };
    }
    const newest = entry.batches.at(-1);
    if (newest && !follows(newest.lastSequence, batch.baseSequence)) {
      return {
        action: 'reject',
        errorCode: OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${batch.producerId} sent sequence ${batch.baseSequence}, expected ${lastSequenceOf(newest.lastSequence, 1)}`,
      };
    }
    return { action: 'append' };
  }

  /** Remembers a stored batch; `baseOffset` is the offset the log assigned to its first record. */
  record(batch: ProducerBatchHeader, baseOffset: number): void {
    if (batch.producerId < 0) return;
    let entry = this.producers.get(batch.producerId);
    if (!entry || batch.producerEpoch > entry.epoch) {
      // A new epoch starts a new sequence space: batches of the old epoch can no longer be retried.
      entry = { epoch: batch.producerEpoch, batches: [] };
      this.producers.set(batch.producerId, entry);
    } else if (batch.producerEpoch < entry.epoch) {
      // Only reachable while replaying a log written under other rules; the newer epoch wins.
      return;
    }
    entry.batches.push({
      firstSequence: batch.baseSequence,
      lastSequence: lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta),
      baseOffset,
      lastOffset: baseOffset + batch.lastOffsetDelta,
    });
    if (entry.batches.length > RETAINED_BATCHES_PER_PRODUCER) entry.batches.shift();
  }

  /** Producers currently tracked. */
  get size(): number {
    return this.producers.size;
  }
}
