// What a request handler is: the API it serves, the function that answers a decoded request,
// and how to answer every part of a request with one error code (an unsupported version, or
// a failure the handler did not expect). Handlers are typed by the protocol's inferred types,
// and given the services they work through, never the whole broker.
import type { BrokerConfig } from '../config.js';
import type { MetadataService } from '../controller/metadata-service.js';
import type { QuorumController } from '../controller/quorum-controller.js';
import type { GroupService } from '../coordinator/group-service.js';
import type { ProducerIdService } from '../coordinator/producer-ids.js';
import type { Logger } from '../log.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { ApiDefinition, MessageInput, MessageValue } from '../protocol/schema.js';
import { StorageError } from '../storage/errors.js';

/** Everything a handler may work through; each piece of state has one owner among them. */
export interface BrokerServices {
  readonly config: BrokerConfig;
  /** Topics, cluster id and this node's identity; the one place topics are created and deleted. */
  readonly metadata: MetadataService;
  /** Partition logs, appends, fetch long polls, leader epochs. */
  readonly replicas: ReplicaManager;
  /** Consumer groups and committed offsets. */
  readonly groups: GroupService;
  /** The active controller while this node leads the metadata quorum, and the quorum's status. */
  readonly controller: QuorumController;
  /** Producer ids for idempotent producers. */
  readonly producerIds: ProducerIdService;
  readonly logger: Logger;
}

/** The client connection a request came in on. */
export interface ConnectionInfo {
  /** host:port of the client, for logs. */
  readonly remote: string;
  /** The name of the listener it connected to: answers name addresses on that same listener. */
  readonly listener: string;
}

export interface RequestContext {
  readonly services: BrokerServices;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly connection: ConnectionInfo;
}

export type RequestOf<A extends ApiDefinition> = MessageValue<A['request']>;
export type ResponseOf<A extends ApiDefinition> = MessageInput<A['response']>;

// Method syntax (not arrow properties) keeps parameters bivariant, so handlers of different
// APIs fit one registry typed with the general ApiDefinition.
export interface ApiHandler<A extends ApiDefinition = ApiDefinition> {
  readonly api: A;
  handle(request: RequestOf<A>, context: RequestContext): ResponseOf<A> | Promise<ResponseOf<A>>;
  /** The response carrying `errorCode` for every topic/partition/resource the request names. */
  errorResponse(request: RequestOf<A>, errorCode: number): ResponseOf<A>;
  /** False when the client expects no response at all (Produce with acks=0). */
  expectsResponse?(request: RequestOf<A>): boolean;
}

/** A handler with its API's types erased, as the registry and the broker's dispatch hold it. */
export interface AnyApiHandler {
  readonly api: ApiDefinition;
  handle(request: never, context: RequestContext): unknown;
  errorResponse(request: never, errorCode: number): unknown;
  expectsResponse?(request: never): boolean;
}

/**
 * Thrown by a handler when the only way to tell the client something is to close its
 * connection (e.g. a failed acks=0 produce, which has no response to carry an error).
 */
export class CloseConnectionError extends Error {
  override readonly name = 'CloseConnectionError';
}

/** A failure of the disk under the logs: answered as KAFKA_STORAGE_ERROR, not a bug. */
export function isStorageFailure(error: unknown): error is Error {
  return error instanceof StorageError;
}

export function defineHandler<A extends ApiDefinition>(handler: ApiHandler<A>): ApiHandler<A> {
  return handler;
}
