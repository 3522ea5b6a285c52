/**
 * ElectLeaders (key 43), versions 0-2 (flexible from 2).
 * An admin asks the controller to move partition leadership: v0 always elects the preferred
 * replica; v1 adds the election type (0 preferred, 1 unclean: the first live replica when no
 * in-sync one is left) and a top-level error code. A null partition list means every partition.
 * Field names and versions mirror Apache Kafka's public ElectLeadersRequest/ElectLeadersResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const electLeadersApi = defineApi({
  key: 43,
  name: 'ElectLeaders',
  minVersion: 0,
  maxVersion: 2,
  flexibleVersions: '2+',
  request: [
    { name: 'electionType', type: 'int8', versions: '1+', default: 0 },
    { name: 'topicPartitions', type: '[]struct', versions: '0+', nullableVersions: '0+', fields: [
      { name: 'topic', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]int32', versions: '0+' },
    ] },
    { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+', default: 0 },
    { name: 'errorCode', type: 'int16', versions: '1+', default: 0 },
    { name: 'replicaElectionResults', type: '[]struct', versions: '0+', fields: [
      { name: 'topic', type: 'string', versions: '0+' },
      { name: 'partitionResult', type: '[]struct', versions: '0+', fields: [
        { name: 'partitionId', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      ] },
    ] },
  ],
});

export type ElectLeadersRequest = MessageValue<typeof electLeadersApi.request>;
export type ElectLeadersResponse = MessageInput<typeof electLeadersApi.response>;
