/**
 * AllocateProducerIds (key 67), version 0 (flexible).
 * A broker asks the active controller for a block of producer ids to hand out in answers to
 * InitProducerId (KIP-730); its registration epoch lets the controller refuse a stale broker.
 * Field names and versions mirror Apache Kafka's public AllocateProducerIdsRequest/AllocateProducerIdsResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const allocateProducerIdsApi = defineApi({
  key: 67,
  name: 'AllocateProducerIds',
  minVersion: 0,
  maxVersion: 0,
  flexibleVersions: '0+',
  request: [
    { name: 'brokerId', type: 'int32', versions: '0+' },
    { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1n },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerIdStart', type: 'int64', versions: '0+' },
    { name: 'producerIdLen', type: 'int32', versions: '0+' },
  ],
});

export type AllocateProducerIdsRequest = MessageValue<typeof allocateProducerIdsApi.request>;
export type AllocateProducerIdsResponse = MessageInput<typeof allocateProducerIdsApi.response>;
