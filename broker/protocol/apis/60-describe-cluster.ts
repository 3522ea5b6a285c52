/**
 * DescribeCluster (key 60), versions 0-1 (flexible from 0).
 * The cluster id, the active controller and the brokers, as an admin client sees them. v1 adds
 * the endpoint type (1 brokers, 2 controllers) to both request and response (KIP-919).
 * Field names and versions mirror Apache Kafka's public DescribeClusterRequest/DescribeClusterResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const describeClusterApi = defineApi({
  key: 60,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 1,
  flexibleVersions: '0+',
  request: [
    { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: '0+' },
    { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+', default: 0 },
    { name: 'errorCode', type: 'int16', versions: '0+', default: 0 },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
    { name: 'clusterId', type: 'string', versions: '0+' },
    { name: 'controllerId', type: 'int32', versions: '0+', default: -1 },
    { name: 'brokers', type: '[]struct', versions: '0+', fields: [
      { name: 'brokerId', type: 'int32', versions: '0+' },
      { name: 'host', type: 'string', versions: '0+' },
      { name: 'port', type: 'int32', versions: '0+' },
      { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    ] },
    // Kafka's "not requested" value for the authorized-operations bit field.
    { name: 'clusterAuthorizedOperations', type: 'int32', versions: '0+', default: -2147483648 },
  ],
});

export type DescribeClusterRequest = MessageValue<typeof describeClusterApi.request>;
export type DescribeClusterResponse = MessageInput<typeof describeClusterApi.response>;
