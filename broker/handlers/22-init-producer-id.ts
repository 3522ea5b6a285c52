// InitProducerId: a fresh producer id at epoch 0 for an idempotent producer (transactional id
// null), whatever id/epoch a v3+ request carries — Kafka answers idempotent producers the same
// way (they bump epochs locally). Ids come from blocks the active controller hands out, so
// they are unique across the cluster. Transactions are not implemented: a transactional id is
// refused with INVALID_REQUEST rather than given an id whose fencing would be a lie.
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import { ControllerUnavailableError } from '../controller/controller-channel.js';
import { ProducerIdsUnavailableError } from '../coordinator/producer-ids.js';
import { initProducerIdApi } from '../protocol/apis/22-init-producer-id.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';
import { describeError } from '../log.js';

export const initProducerIdHandler = defineHandler({
  api: initProducerIdApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 }),
  async handle(request, { services: { producerIds, logger } }) {
    const refuse = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 });
    if (request.transactionalId !== null) {
      logger.warn('refusing InitProducerId for a transactional id: transactions are not supported', {
        transactionalId: request.transactionalId,
      });
      return refuse(ErrorCode.INVALID_REQUEST);
    }
    let producerId: number;
    try {
      producerId = await producerIds.allocate();
    } catch (error) {
      const expected = error instanceof ProducerIdsUnavailableError || error instanceof ControllerUnavailableError || error instanceof ControllerDecisionError;
      if (expected) logger.warn('no producer id block yet; the client will retry', { reason: describeError(error) });
      else logger.error('cannot allocate a producer id', { reason: describeError(error) });
      // What Kafka answers while its block request is outstanding: every client retries it
      // (COORDINATOR_NOT_AVAILABLE would send a Java producer looking for a coordinator).
      return refuse(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(producerId), producerEpoch: 0 };
  },
});
