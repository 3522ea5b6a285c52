/**
 * DescribeQuorum (key 55), versions 0-2 (flexible from 0).
 * Asks about the metadata quorum (topic `__cluster_metadata`, partition 0): its leader, epoch,
 * high watermark and how far each voter and observer has replicated. v1 adds the last fetch and
 * last caught-up timestamps of each replica (KIP-836); v2 adds error messages, each replica's
 * directory id and the listeners of every node (KIP-853). The request is the same in all three.
 * Field names and versions mirror Apache Kafka's public DescribeQuorumRequest/DescribeQuorumResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

// Voters and observers share one shape (Kafka's ReplicaState).
const replicaStateFields = [
  { name: 'replicaId', type: 'int32', versions: '0+' },
  { name: 'replicaDirectoryId', type: 'uuid', versions: '2+' },
  { name: 'logEndOffset', type: 'int64', versions: '0+' },
  { name: 'lastFetchTimestamp', type: 'int64', versions: '1+', default: -1n },
  { name: 'lastCaughtUpTimestamp', type: 'int64', versions: '1+', default: -1n },
] as const;

export const describeQuorumApi = defineApi({
  key: 55,
  name: 'DescribeQuorum',
  minVersion: 0,
  maxVersion: 2,
  flexibleVersions: '0+',
  request: [
    { name: 'topics', type: '[]struct', versions: '0+', fields: [
      { name: 'topicName', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]struct', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
      ] },
    ] },
  ],
  response: [
    { name: 'errorCode', type: 'int16', versions: '0+', default: 0 },
    { name: 'errorMessage', type: 'string', versions: '2+', nullableVersions: '2+', default: null },
    { name: 'topics', type: '[]struct', versions: '0+', fields: [
      { name: 'topicName', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]struct', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '2+', nullableVersions: '2+', default: null },
        { name: 'leaderId', type: 'int32', versions: '0+' },
        { name: 'leaderEpoch', type: 'int32', versions: '0+' },
        { name: 'highWatermark', type: 'int64', versions: '0+' },
        { name: 'currentVoters', type: '[]struct', versions: '0+', fields: replicaStateFields },
        { name: 'observers', type: '[]struct', versions: '0+', fields: replicaStateFields },
      ] },
    ] },
    { name: 'nodes', type: '[]struct', versions: '2+', fields: [
      { name: 'nodeId', type: 'int32', versions: '2+' },
      { name: 'listeners', type: '[]struct', versions: '2+', fields: [
        { name: 'name', type: 'string', versions: '2+' },
        { name: 'host', type: 'string', versions: '2+' },
        { name: 'port', type: 'uint16', versions: '2+' },
      ] },
    ] },
  ],
});

export type DescribeQuorumRequest = MessageValue<typeof describeQuorumApi.request>;
export type DescribeQuorumResponse = MessageInput<typeof describeQuorumApi.response>;
