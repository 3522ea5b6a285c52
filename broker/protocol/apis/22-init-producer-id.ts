/**
 * InitProducerId (key 22), versions 0-4 (flexible from 2).
 * kafkajs 2.2.4 sends up to v1; librdkafka 2.0.2 sends v3-v4 (flexible) for idempotence.
 * Field names and versions mirror Apache Kafka's public InitProducerIdRequest/InitProducerIdResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const initProducerIdApi = defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersions: '2+',
  request: [
    { name: 'transactionalId', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '3+', default: -1n },
    { name: 'producerEpoch', type: 'int16', versions: '3+', default: -1 },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+', default: -1n },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
  ],
});

export type InitProducerIdRequest = MessageValue<typeof initProducerIdApi.request>;
export type InitProducerIdResponse = MessageInput<typeof initProducerIdApi.response>;
