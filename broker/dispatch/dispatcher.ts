// Request dispatch, as Kafka's KafkaApis does it: turns each request frame into a response by
// decoding the header, finding the handler, checking the version, decoding the body, running
// the handler with the broker's services, and encoding its response. A frame that cannot be
// decoded closes only its own connection (the thrown error's message is the logged reason);
// stored data is never touched by a bad request.
import { performance } from 'node:perf_hooks';
import { apiVersionsBody } from '../handlers/18-api-versions.js';
import { handledApis, handlersByKey } from '../handlers/index.js';
import {
  CloseConnectionError,
  type AnyApiHandler,
  type BrokerServices,
  type ConnectionInfo,
  type RequestContext,
} from '../handlers/types.js';
import { describeError, type Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import { apiVersionsApi } from '../protocol/apis/18-api-versions.js';
import { decodeMessage, Reader } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import { decodeRequestHeader, encodeResponse, type RequestHeader } from '../protocol/header.js';
import type { ApiDefinition } from '../protocol/schema.js';

/** The chunks of one whole response frame, size prefix included; `null` means send nothing (acks=0). */
export type ResponseFrame = readonly Buffer[] | null;

export interface FrameHandler {
  /**
   * Called once per complete frame, in arrival order, synchronously (so handlers can fix the
   * order of effects such as appends before their first await). A thrown error or rejected
   * promise closes this connection with the error's message as the logged reason.
   */
  handleFrame(frame: Buffer, connection: ConnectionInfo): ResponseFrame | Promise<ResponseFrame>;
}

export class RequestDispatcher implements FrameHandler {
  /** Requests wait for this until the broker may serve (see holdUntil); null once it may. */
  private held: Promise<void> | null = null;

  constructor(
    private readonly services: BrokerServices,
    private readonly metrics: BrokerMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Requests that arrive before `ready` resolves wait for it, in arrival order (as Kafka does
   * not process requests before the broker has caught up with the metadata): a client that
   * connects the moment the port opens gets answers from a broker that knows the cluster.
   */
  holdUntil(ready: Promise<void>): void {
    const held = ready.then(() => {
      if (this.held === held) this.held = null;
    });
    this.held = held;
  }

  handleFrame(frame: Buffer, connection: ConnectionInfo): ResponseFrame | Promise<ResponseFrame> {
    // Frames held back resume in the order they were queued, before any frame read later.
    if (this.held) return this.held.then(() => this.handleFrameNow(frame, connection));
    return this.handleFrameNow(frame, connection);
  }

  private handleFrameNow(frame: Buffer, connection: ConnectionInfo): ResponseFrame | Promise<ResponseFrame> {
    const started = performance.now();
    const reader = new Reader(frame);
    let header: RequestHeader;
    try {
      header = decodeRequestHeader(reader);
    } catch (error) {
      throw new Error(`malformed request header (${frame.length}-byte frame): ${describeError(error)}`);
    }
    const { apiKey, apiVersion, correlationId } = header;
    const handler = handlersByKey.get(apiKey);
    if (!handler) throw new Error(`unknown api key ${apiKey} (version ${apiVersion}, correlation id ${correlationId})`);
    const api = handler.api;
    if (apiVersion > api.maxVersion) {
      if (apiKey === apiVersionsApi.key) {
        // Kafka's answer to a too-new ApiVersions: the v0 form with the list, so the client retries lower.
        return encodeResponse(api, 0, correlationId, apiVersionsBody(handledApis, ErrorCode.UNSUPPORTED_VERSION));
      }
      throw new Error(`${api.name} (api key ${apiKey}) v${apiVersion} is newer than the supported v${api.maxVersion}`);
    }
    let request: unknown;
    try {
      request = decodeMessage(api.request, apiVersion, reader);
    } catch (error) {
      throw new Error(`malformed ${api.name} (api key ${apiKey}) v${apiVersion} request: ${describeError(error)}`);
    }
    const context: RequestContext = { services: this.services, apiVersion, correlationId, clientId: header.clientId, connection };
    this.metrics.requests.inc({ api: api.name });
    if (apiVersion < api.minVersion) {
      return this.finish(handler, request, context, started, handler.errorResponse(request as never, ErrorCode.UNSUPPORTED_VERSION));
    }
    let outcome: unknown;
    try {
      outcome = handler.handle(request as never, context);
    } catch (error) {
      outcome = this.unexpectedFailure(handler, request, context, error);
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (response: unknown) => this.finish(handler, request, context, started, response),
        (error: unknown) =>
          this.finish(handler, request, context, started, this.unexpectedFailure(handler, request, context, error)),
      );
    }
    return this.finish(handler, request, context, started, outcome);
  }

  private unexpectedFailure(handler: AnyApiHandler, request: unknown, context: RequestContext, error: unknown): unknown {
    if (error instanceof CloseConnectionError) throw error;
    this.logger.error('request failed unexpectedly', {
      api: handler.api.name,
      version: context.apiVersion,
      remote: context.connection.remote,
      reason: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return handler.errorResponse(request as never, ErrorCode.UNKNOWN_SERVER_ERROR);
  }

  private finish(
    handler: AnyApiHandler,
    request: unknown,
    context: RequestContext,
    started: number,
    response: unknown,
  ): ResponseFrame {
    const api: ApiDefinition = handler.api;
    this.metrics.requestSeconds.observe({ api: api.name }, (performance.now() - started) / 1000);
    if (handler.expectsResponse && !handler.expectsResponse(request as never)) return null;
    return encodeResponse(api, context.apiVersion, context.correlationId, response as never);
  }
}
