// AllocateProducerIds: a broker that is not the active controller asks here for a block of
// producer ids. A node that does not lead answers NOT_CONTROLLER, so the sender looks for the
// new leader; an unregistered broker or a stale epoch is refused (the broker registers again).
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import { allocateProducerIds } from '../controller/cluster/producer-id-decisions.js';
import { allocateProducerIdsApi } from '../protocol/apis/67-allocate-producer-ids.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';

export const allocateProducerIdsHandler = defineHandler({
  api: allocateProducerIdsApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, producerIdStart: -1n, producerIdLen: 0 }),
  async handle(request, { services: { controller } }) {
    const refuse = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerIdStart: -1n, producerIdLen: 0 });
    if (!controller.active) return refuse(ErrorCode.NOT_CONTROLLER);
    const { brokerId } = request;
    try {
      const block = await controller.decide(`producer id block for broker ${brokerId}`, (image) => {
        const decision = allocateProducerIds(image, brokerId, Number(request.brokerEpoch));
        return { records: decision.records, result: decision.block };
      });
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerIdStart: block.firstProducerId, producerIdLen: block.size };
    } catch (error) {
      if (error instanceof ControllerDecisionError) return refuse(error.errorCode);
      if (!controller.active) return refuse(ErrorCode.NOT_CONTROLLER);
      throw error;
    }
  },
});
