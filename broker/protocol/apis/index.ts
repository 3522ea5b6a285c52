/** Every API the broker knows, by key. */

import type { ApiDefinition } from '../schema.js';
import { produceApi } from './00-produce.js';
import { fetchApi } from './01-fetch.js';
import { listOffsetsApi } from './02-list-offsets.js';
import { metadataApi } from './03-metadata.js';
import { offsetCommitApi } from './08-offset-commit.js';
import { offsetFetchApi } from './09-offset-fetch.js';
import { findCoordinatorApi } from './10-find-coordinator.js';
import { joinGroupApi } from './11-join-group.js';
import { heartbeatApi } from './12-heartbeat.js';
import { leaveGroupApi } from './13-leave-group.js';
import { syncGroupApi } from './14-sync-group.js';
import { describeGroupsApi } from './15-describe-groups.js';
import { listGroupsApi } from './16-list-groups.js';
import { apiVersionsApi } from './18-api-versions.js';
import { createTopicsApi } from './19-create-topics.js';
import { deleteTopicsApi } from './20-delete-topics.js';
import { deleteRecordsApi } from './21-delete-records.js';
import { initProducerIdApi } from './22-init-producer-id.js';
import { offsetForLeaderEpochApi } from './23-offset-for-leader-epoch.js';
import { describeConfigsApi } from './32-describe-configs.js';
import { alterConfigsApi } from './33-alter-configs.js';
import { createPartitionsApi } from './37-create-partitions.js';
import { deleteGroupsApi } from './42-delete-groups.js';
import { electLeadersApi } from './43-elect-leaders.js';
import { incrementalAlterConfigsApi } from './44-incremental-alter-configs.js';
import { describeQuorumApi } from './55-describe-quorum.js';
import { describeClusterApi } from './60-describe-cluster.js';
import { alterPartitionApi } from './56-alter-partition.js';
import { brokerRegistrationApi } from './62-broker-registration.js';
import { brokerHeartbeatApi } from './63-broker-heartbeat.js';
import { allocateProducerIdsApi } from './67-allocate-producer-ids.js';

export const apis: readonly ApiDefinition[] = [
  produceApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  apiVersionsApi,
  createTopicsApi,
  deleteTopicsApi,
  deleteRecordsApi,
  initProducerIdApi,
  offsetForLeaderEpochApi,
  describeConfigsApi,
  alterConfigsApi,
  createPartitionsApi,
  deleteGroupsApi,
  alterPartitionApi,
  brokerRegistrationApi,
  brokerHeartbeatApi,
  allocateProducerIdsApi,
  electLeadersApi,
  incrementalAlterConfigsApi,
  describeQuorumApi,
  describeClusterApi,
];

export const apisByKey: ReadonlyMap<number, ApiDefinition> = new Map(apis.map((api) => [api.key, api]));

export * from './00-produce.js';
export * from './01-fetch.js';
export * from './02-list-offsets.js';
export * from './03-metadata.js';
export * from './08-offset-commit.js';
export * from './09-offset-fetch.js';
export * from './10-find-coordinator.js';
export * from './11-join-group.js';
export * from './12-heartbeat.js';
export * from './13-leave-group.js';
export * from './14-sync-group.js';
export * from './15-describe-groups.js';
export * from './16-list-groups.js';
export * from './18-api-versions.js';
export * from './19-create-topics.js';
export * from './20-delete-topics.js';
export * from './21-delete-records.js';
export * from './22-init-producer-id.js';
export * from './23-offset-for-leader-epoch.js';
export * from './32-describe-configs.js';
export * from './33-alter-configs.js';
export * from './37-create-partitions.js';
export * from './42-delete-groups.js';
export * from './43-elect-leaders.js';
export * from './44-incremental-alter-configs.js';
export * from './55-describe-quorum.js';
export * from './60-describe-cluster.js';
export * from './56-alter-partition.js';
export * from './62-broker-registration.js';
export * from './63-broker-heartbeat.js';
export * from './67-allocate-producer-ids.js';
