// Which handler answers which API key (one line each), and so which APIs ApiVersions lists.
import { produceHandler } from './00-produce.js';
import { fetchHandler } from './01-fetch.js';
import { listOffsetsHandler } from './02-list-offsets.js';
import { metadataHandler } from './03-metadata.js';
import { offsetCommitHandler } from './08-offset-commit.js';
import { offsetFetchHandler } from './09-offset-fetch.js';
import { findCoordinatorHandler } from './10-find-coordinator.js';
import { joinGroupHandler } from './11-join-group.js';
import { heartbeatHandler } from './12-heartbeat.js';
import { leaveGroupHandler } from './13-leave-group.js';
import { syncGroupHandler } from './14-sync-group.js';
import { describeGroupsHandler } from './15-describe-groups.js';
import { listGroupsHandler } from './16-list-groups.js';
import { initProducerIdHandler } from './22-init-producer-id.js';
import { offsetForLeaderEpochHandler } from './23-offset-for-leader-epoch.js';
import { alterPartitionHandler } from './56-alter-partition.js';
import { brokerRegistrationHandler } from './62-broker-registration.js';
import { brokerHeartbeatHandler } from './63-broker-heartbeat.js';
import { allocateProducerIdsHandler } from './67-allocate-producer-ids.js';
import { deleteGroupsHandler } from './42-delete-groups.js';
import { electLeadersHandler } from './43-elect-leaders.js';
import { incrementalAlterConfigsHandler } from './44-incremental-alter-configs.js';
import { describeQuorumHandler } from './55-describe-quorum.js';
import { describeClusterHandler } from './60-describe-cluster.js';
import { apiVersionsHandlerFor } from './18-api-versions.js';
import { createTopicsHandler } from './19-create-topics.js';
import { deleteTopicsHandler } from './20-delete-topics.js';
import { deleteRecordsHandler } from './21-delete-records.js';
import { describeConfigsHandler } from './32-describe-configs.js';
import { alterConfigsHandler } from './33-alter-configs.js';
import { createPartitionsHandler } from './37-create-partitions.js';
import { apiVersionsApi } from '../protocol/apis/18-api-versions.js';
import type { ApiDefinition } from '../protocol/schema.js';
import type { AnyApiHandler } from './types.js';

const handlersBesidesApiVersions: readonly AnyApiHandler[] = [
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  syncGroupHandler,
  describeGroupsHandler,
  listGroupsHandler,
  initProducerIdHandler,
  deleteGroupsHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  deleteRecordsHandler,
  describeConfigsHandler,
  alterConfigsHandler,
  createPartitionsHandler,
  offsetForLeaderEpochHandler,
  alterPartitionHandler,
  brokerRegistrationHandler,
  brokerHeartbeatHandler,
  allocateProducerIdsHandler,
  electLeadersHandler,
  incrementalAlterConfigsHandler,
  describeQuorumHandler,
  describeClusterHandler,
];

/** Every API this broker answers, sorted by key, as ApiVersions lists them. */
export const handledApis: readonly ApiDefinition[] = [...handlersBesidesApiVersions.map((handler) => handler.api), apiVersionsApi].sort(
  (a, b) => a.key - b.key,
);

const handlerList: readonly AnyApiHandler[] = [...handlersBesidesApiVersions, apiVersionsHandlerFor(handledApis)];

export const handlersByKey: ReadonlyMap<number, AnyApiHandler> = new Map(handlerList.map((handler) => [handler.api.key, handler]));
