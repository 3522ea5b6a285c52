/**
 * Heartbeat (key 12), versions 0-4 (flexible from 4).
 * kafkajs 2.2.4 and librdkafka 2.0.2 both send up to v3.
 * Field names and versions mirror Apache Kafka's public HeartbeatRequest/HeartbeatResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const heartbeatApi = defineApi({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersions: '4+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
  ],
});

export type HeartbeatRequest = MessageValue<typeof heartbeatApi.request>;
export type HeartbeatResponse = MessageInput<typeof heartbeatApi.response>;
