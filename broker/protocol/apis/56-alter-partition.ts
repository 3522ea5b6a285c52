/**
 * AlterPartition (key 56), versions 0-2 (flexible from 0).
 * A partition leader asks the controller to change the partition's ISR; the controller answers
 * with the partition state it committed (or an error such as a stale partition epoch). v1 adds
 * the leader recovery state (KIP-704); v2 names topics by id instead of by name (KIP-841).
 * Kafka's v3 replaces newIsr with broker ids and epochs (KIP-903); it is not defined here.
 * Field names and versions mirror Apache Kafka's public AlterPartitionRequest/AlterPartitionResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const alterPartitionApi = defineApi({
  key: 56,
  name: 'AlterPartition',
  minVersion: 0,
  maxVersion: 2,
  flexibleVersions: '0+',
  request: [
    { name: 'brokerId', type: 'int32', versions: '0+' },
    { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1n },
    { name: 'topics', type: '[]struct', versions: '0+', fields: [
      { name: 'topicName', type: 'string', versions: '0-1', default: '' },
      { name: 'topicId', type: 'uuid', versions: '2+' },
      { name: 'partitions', type: '[]struct', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'leaderEpoch', type: 'int32', versions: '0+' },
        { name: 'newIsr', type: '[]int32', versions: '0+' },
        { name: 'leaderRecoveryState', type: 'int8', versions: '1+', default: 0 },
        { name: 'partitionEpoch', type: 'int32', versions: '0+' },
      ] },
    ] },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+', default: 0 },
    { name: 'errorCode', type: 'int16', versions: '0+', default: 0 },
    { name: 'topics', type: '[]struct', versions: '0+', fields: [
      { name: 'topicName', type: 'string', versions: '0-1', default: '' },
      { name: 'topicId', type: 'uuid', versions: '2+' },
      { name: 'partitions', type: '[]struct', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'leaderId', type: 'int32', versions: '0+' },
        { name: 'leaderEpoch', type: 'int32', versions: '0+' },
        { name: 'isr', type: '[]int32', versions: '0+' },
        { name: 'leaderRecoveryState', type: 'int8', versions: '1+', default: 0 },
        { name: 'partitionEpoch', type: 'int32', versions: '0+' },
      ] },
    ] },
  ],
});

export type AlterPartitionRequest = MessageValue<typeof alterPartitionApi.request>;
export type AlterPartitionResponse = MessageInput<typeof alterPartitionApi.response>;
