/**
 * DeleteTopics (key 20), versions 0-6 (flexible from 4; v6 may name topics by id).
 * kafkajs 2.2.4 and librdkafka 2.0.2 both send up to v1.
 * Field names and versions mirror Apache Kafka's public DeleteTopicsRequest/DeleteTopicsResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const deleteTopicsApi = defineApi({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  flexibleVersions: '4+',
  request: [
    { name: 'topics', type: '[]struct', versions: '6+', fields: [
      { name: 'name', type: 'string', versions: '6+', nullableVersions: '6+', default: null },
      { name: 'topicId', type: 'uuid', versions: '6+' },
    ] },
    { name: 'topicNames', type: '[]string', versions: '0-5' },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'responses', type: '[]struct', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+', nullableVersions: '6+' },
      { name: 'topicId', type: 'uuid', versions: '6+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    ] },
  ],
});

export type DeleteTopicsRequest = MessageValue<typeof deleteTopicsApi.request>;
export type DeleteTopicsResponse = MessageInput<typeof deleteTopicsApi.response>;
