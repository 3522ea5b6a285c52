// BrokerHeartbeat: keeps a broker's session with the active controller alive, and carries how
// far it has applied the metadata (the controller unfences it once caught up) and whether it
// wants to be fenced for a controlled shutdown.
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import { brokerHeartbeatApi } from '../protocol/apis/63-broker-heartbeat.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';

export const brokerHeartbeatHandler = defineHandler({
  api: brokerHeartbeatApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, isCaughtUp: false, isFenced: true, shouldShutDown: false }),
  async handle(request, { services: { controller } }) {
    const refuse = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, isCaughtUp: false, isFenced: true, shouldShutDown: false });
    if (!controller.active) return refuse(ErrorCode.NOT_CONTROLLER);
    try {
      const answer = await controller.heartbeat({
        brokerId: request.brokerId,
        brokerEpoch: Number(request.brokerEpoch),
        appliedIndex: Number(request.currentMetadataOffset),
        wantFence: request.wantFence || request.wantShutDown,
      });
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        isCaughtUp: answer.caughtUp,
        isFenced: answer.fenced,
        shouldShutDown: request.wantShutDown && answer.fenced,
      };
    } catch (error) {
      if (error instanceof ControllerDecisionError) return refuse(error.errorCode);
      if (!controller.active) return refuse(ErrorCode.NOT_CONTROLLER);
      throw error;
    }
  },
});
