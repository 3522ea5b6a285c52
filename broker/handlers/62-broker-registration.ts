// BrokerRegistration: a broker joins the cluster through the active controller (another broker
// sends it here when this node leads the metadata quorum). A node that does not lead answers
// NOT_CONTROLLER, so the sender looks for the new leader; a broker of another cluster is refused.
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import { brokerRegistrationApi } from '../protocol/apis/62-broker-registration.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';

export const brokerRegistrationHandler = defineHandler({
  api: brokerRegistrationApi,
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, brokerEpoch: -1n }),
  async handle(request, { services: { controller, metadata, logger } }) {
    const refuse = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, brokerEpoch: -1n });
    if (!controller.active) return refuse(ErrorCode.NOT_CONTROLLER);
    if (request.clusterId !== metadata.clusterId) {
      logger.warn('refusing the registration of a broker of another cluster', { brokerId: request.brokerId, itsClusterId: request.clusterId, clusterId: metadata.clusterId });
      return refuse(ErrorCode.INCONSISTENT_CLUSTER_ID);
    }
    try {
      const { brokerEpoch } = await controller.register({
        brokerId: request.brokerId,
        incarnationId: request.incarnationId,
        listeners: request.listeners.map(({ name, host, port }) => ({ name, host, port })),
        rack: request.rack,
      });
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, brokerEpoch: BigInt(brokerEpoch) };
    } catch (error) {
      if (error instanceof ControllerDecisionError) return refuse(error.errorCode);
      if (!controller.active) return refuse(ErrorCode.NOT_CONTROLLER);
      throw error;
    }
  },
});
