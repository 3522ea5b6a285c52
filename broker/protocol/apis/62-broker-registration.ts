/**
 * BrokerRegistration (key 62), versions 0-1 (flexible from 0).
 * A broker announces itself to the active controller at startup (KIP-631): its id, the cluster
 * it believes it belongs to, an incarnation id fresh for each process start, its listeners and
 * the feature levels it supports. The answer is the broker epoch its heartbeats must carry.
 * v1 adds only the ZooKeeper-migration flag; later versions (log dirs, previous epoch) are not defined here.
 * Field names and versions mirror Apache Kafka's public BrokerRegistrationRequest/BrokerRegistrationResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const brokerRegistrationApi = defineApi({
  key: 62,
  name: 'BrokerRegistration',
  minVersion: 0,
  maxVersion: 1,
  flexibleVersions: '0+',
  request: [
    { name: 'brokerId', type: 'int32', versions: '0+' },
    { name: 'clusterId', type: 'string', versions: '0+' },
    { name: 'incarnationId', type: 'uuid', versions: '0+' },
    { name: 'listeners', type: '[]struct', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'host', type: 'string', versions: '0+' },
      { name: 'port', type: 'uint16', versions: '0+' },
      { name: 'securityProtocol', type: 'int16', versions: '0+' },
    ] },
    { name: 'features', type: '[]struct', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'minSupportedVersion', type: 'int16', versions: '0+' },
      { name: 'maxSupportedVersion', type: 'int16', versions: '0+' },
    ] },
    { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'isMigratingZkBroker', type: 'bool', versions: '1+', default: false },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+', default: 0 },
    { name: 'errorCode', type: 'int16', versions: '0+', default: 0 },
    { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1n },
  ],
});

export type BrokerRegistrationRequest = MessageValue<typeof brokerRegistrationApi.request>;
export type BrokerRegistrationResponse = MessageInput<typeof brokerRegistrationApi.response>;
