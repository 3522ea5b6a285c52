/**
 * BrokerHeartbeat (key 63), version 0 (flexible).
 * A registered broker's periodic lease renewal with the active controller (KIP-631): it reports
 * how far it has replayed the metadata log and whether it wants to be fenced or to shut down;
 * the answer says whether it has caught up, whether it is (still) fenced and whether it may
 * finish a controlled shutdown.
 * Field names and versions mirror Apache Kafka's public BrokerHeartbeatRequest/BrokerHeartbeatResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const brokerHeartbeatApi = defineApi({
  key: 63,
  name: 'BrokerHeartbeat',
  minVersion: 0,
  maxVersion: 0,
  flexibleVersions: '0+',
  request: [
    { name: 'brokerId', type: 'int32', versions: '0+' },
    { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1n },
    { name: 'currentMetadataOffset', type: 'int64', versions: '0+' },
    { name: 'wantFence', type: 'bool', versions: '0+' },
    { name: 'wantShutDown', type: 'bool', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+', default: 0 },
    { name: 'errorCode', type: 'int16', versions: '0+', default: 0 },
    { name: 'isCaughtUp', type: 'bool', versions: '0+', default: false },
    { name: 'isFenced', type: 'bool', versions: '0+', default: true },
    { name: 'shouldShutDown', type: 'bool', versions: '0+' },
  ],
});

export type BrokerHeartbeatRequest = MessageValue<typeof brokerHeartbeatApi.request>;
export type BrokerHeartbeatResponse = MessageInput<typeof brokerHeartbeatApi.response>;
