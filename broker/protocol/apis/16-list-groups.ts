/**
 * ListGroups (key 16), versions 0-4 (flexible from 3; v4 adds a states filter).
 * kafkajs 2.2.4 sends up to v2; librdkafka 2.0.2 up to v4 (flexible).
 * Field names and versions mirror Apache Kafka's public ListGroupsRequest/ListGroupsResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const listGroupsApi = defineApi({
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersions: '3+',
  request: [
    { name: 'statesFilter', type: '[]string', versions: '4+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'groups', type: '[]struct', versions: '0+', fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'protocolType', type: 'string', versions: '0+' },
      { name: 'groupState', type: 'string', versions: '4+' },
    ] },
  ],
});

export type ListGroupsRequest = MessageValue<typeof listGroupsApi.request>;
export type ListGroupsResponse = MessageInput<typeof listGroupsApi.response>;
