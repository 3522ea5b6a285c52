// The active controller's producer-id allocation (Kafka's ProducerIdControlManager): a broker
// asks for a block of ids and gets the next unused range, recorded in the metadata log before
// it is answered, so no two brokers — and no broker before and after a restart, or a
// controller change — are ever given the same id. Pure: the image in, the record out.
import { ErrorCode } from '../../protocol/errors.js';
import { ControllerDecisionError } from './elections.js';
import type { ClusterImage } from './image.js';
import type { ClusterRecord } from './records.js';

/** How many ids one block holds (Kafka's default block size). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/**
 * The highest id a block may reach: producer ids travel as int64, but the broker keeps them
 * as JavaScript numbers, exact only up to 2^53 - 1.
 */
const lastUsableProducerId = BigInt(Number.MAX_SAFE_INTEGER);

export interface ProducerIdBlock {
  readonly firstProducerId: bigint;
  readonly size: number;
}

export interface ProducerIdDecision {
  readonly records: ClusterRecord[];
  readonly block: ProducerIdBlock;
}

/** The next block for `brokerId`, refused unless the broker is registered with `brokerEpoch`. */
export function allocateProducerIds(image: ClusterImage, brokerId: number, brokerEpoch: number): ProducerIdDecision {
  const broker = image.broker(brokerId);
  if (!broker) {
    throw new ControllerDecisionError(ErrorCode.BROKER_ID_NOT_REGISTERED, `producer id block for broker ${brokerId}: the broker is not registered with the controller`);
  }
  if (broker.brokerEpoch !== brokerEpoch) {
    throw new ControllerDecisionError(
      ErrorCode.STALE_BROKER_EPOCH,
      `producer id block for broker ${brokerId}: the request names broker epoch ${brokerEpoch}, but its registration has epoch ${broker.brokerEpoch}`,
    );
  }
  const firstProducerId = image.nextProducerId;
  const nextProducerId = firstProducerId + BigInt(PRODUCER_ID_BLOCK_SIZE);
  if (nextProducerId - 1n > lastUsableProducerId) {
    throw new ControllerDecisionError(ErrorCode.UNKNOWN_SERVER_ERROR, `producer id block for broker ${brokerId}: the cluster has used up its producer ids (next would be ${firstProducerId})`);
  }
  return {
    records: [{ type: 'producer-ids', brokerId, brokerEpoch: BigInt(brokerEpoch), nextProducerId }],
    block: { firstProducerId, size: PRODUCER_ID_BLOCK_SIZE },
  };
}
