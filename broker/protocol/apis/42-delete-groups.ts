/**
 * DeleteGroups (key 42), versions 0-2 (flexible from 2).
 * kafkajs 2.2.4 and librdkafka 2.0.2 both send up to v1.
 * Field names and versions mirror Apache Kafka's public DeleteGroupsRequest/DeleteGroupsResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const deleteGroupsApi = defineApi({
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  flexibleVersions: '2+',
  request: [
    { name: 'groupsNames', type: '[]string', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]struct', versions: '0+', fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
    ] },
  ],
});

export type DeleteGroupsRequest = MessageValue<typeof deleteGroupsApi.request>;
export type DeleteGroupsResponse = MessageInput<typeof deleteGroupsApi.response>;
