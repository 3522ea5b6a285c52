// DescribeCluster: the cluster id, the controller id clients are given (as in Metadata) and the
// live brokers, each at its address on the listener this client came in on, as Metadata names
// them (a client outside the cluster network must never be handed an inside address). Only brokers are described: this
// cluster's controllers are its brokers and have no separate client-facing endpoints.
import { describeClusterApi } from '../protocol/apis/60-describe-cluster.js';
import { ErrorCode } from '../protocol/errors.js';
import { defineHandler } from './types.js';

/** KIP-919's endpoint types: what a client may ask to have described. */
const brokerEndpoints = 1;

export const describeClusterHandler = defineHandler({
  api: describeClusterApi,
  errorResponse: (request, errorCode) => ({ errorCode, endpointType: request.endpointType, clusterId: '', brokers: [] }),
  handle(request, { services: { metadata }, connection }) {
    if (request.endpointType !== brokerEndpoints) {
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `endpoint type ${request.endpointType} is not served: this cluster describes only its brokers (endpoint type ${brokerEndpoints})`,
        endpointType: request.endpointType,
        clusterId: metadata.clusterId,
        brokers: [],
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      endpointType: brokerEndpoints,
      clusterId: metadata.clusterId,
      controllerId: metadata.controllerIdForClients,
      brokers: metadata
        .liveBrokers(connection.listener)
        .map(({ broker, host, port }) => ({ brokerId: broker.brokerId, host, port, rack: broker.rack }))
        .sort((a, b) => a.brokerId - b.brokerId),
    };
  },
});
