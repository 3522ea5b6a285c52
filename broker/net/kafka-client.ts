// The broker's outbound Kafka connection to one other broker: follower fetches and
// broker→controller requests. Requests are pipelined on one socket and matched to responses by
// correlation id. Anything that makes the byte stream untrustworthy (a frame over the size
// limit, an answer to no request, a response that does not decode) closes the connection, as
// does the peer going away; every request in flight then fails with the reason. A request that
// times out fails alone: its late answer is read and dropped, and the connection stays up.
// There is no reconnect here: callers own their retry policy and connect again.
import net from 'node:net';
import type { HostPort } from '../config.js';
import { decodeResponse, encodeRequest } from '../protocol/header.js';
import type { ApiDefinition, MessageInput, MessageValue } from '../protocol/schema.js';

export interface KafkaClientOptions {
  /** Sent in every request header; brokers log it. */
  clientId: string;
  /** Default 5000. */
  connectTimeoutMs?: number;
  /** Default for requests that give none; default 30000. */
  requestTimeoutMs?: number;
  /** Largest response frame accepted; default 100 MiB. */
  maxFrameBytes?: number;
}

const defaultConnectTimeoutMs = 5000;
const defaultRequestTimeoutMs = 30_000;
const defaultMaxFrameBytes = 100 * 1024 * 1024;
const sizePrefixBytes = 4;
const correlationIdBytes = 4;
const maxTimerMs = 0x7fffffff;
/** A peer whose host vanished sends no FIN; keepalive notices it even with no request in flight. */
const keepAliveDelayMs = 5000;

function formatAddress(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The connection could not be opened, or broke: refused, timed out, reset, closed by the peer, or a response that breaks the protocol. */
export class BrokerConnectionError extends Error {
  override readonly name = 'BrokerConnectionError';
  readonly address: HostPort;

  constructor(address: HostPort, reason: string, options?: { cause?: unknown }) {
    super(`broker ${formatAddress(address)}: ${reason}`, options);
    this.address = address;
  }
}

/** One request got no response in time; the connection is still usable. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly address: HostPort;
  readonly timeoutMs: number;

  constructor(apiName: string, version: number, address: HostPort, timeoutMs: number) {
    super(`${apiName} v${version} request to broker ${formatAddress(address)} got no response within ${timeoutMs} ms`);
    this.address = address;
    this.timeoutMs = timeoutMs;
  }
}

/** The client was closed by its owner: requests in flight, and any made afterwards, fail with this. */
export class KafkaClientClosedError extends Error {
  override readonly name = 'KafkaClientClosedError';
}

interface InFlight {
  readonly apiName: string;
  readonly version: number;
  readonly timer: NodeJS.Timeout;
  /** Decodes the response frame and resolves the caller; throws when the frame does not decode. */
  deliver(frame: Buffer): void;
  reject(error: Error): void;
}

export class KafkaClient {
  private readonly inFlight = new Map<number, InFlight>();
  /** Requests that timed out: their responses may still come, and are dropped when they do. */
  private readonly abandoned = new Set<number>();
  private nextCorrelationId = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Size of the frame being read once its prefix is in; null while waiting for a prefix. */
  private frameSize: number | null = null;
  /** Why the connection ended; null while it is open. */
  private ended: Error | null = null;
  private readonly label: string;

  private constructor(
    private readonly socket: net.Socket,
    readonly address: HostPort,
    private readonly clientId: string,
    private readonly requestTimeoutMs: number,
    private readonly maxFrameBytes: number,
  ) {
    this.label = formatAddress(address);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(new BrokerConnectionError(address, `connection failed: ${error.message}`, { cause: error })));
    socket.on('close', () => this.fail(new BrokerConnectionError(address, 'connection closed by the broker')));
  }

  /** Opens a connection; rejects with BrokerConnectionError when refused, unreachable or not open within connectTimeoutMs. */
  static connect(address: HostPort, options: KafkaClientOptions): Promise<KafkaClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? defaultConnectTimeoutMs;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address.host, port: address.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BrokerConnectionError(address, `cannot connect: no connection within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new BrokerConnectionError(address, `cannot connect: ${error.message}`, { cause: error }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        // Requests are small and latency-bound (follower fetches, heartbeats): no Nagle delay.
        socket.setNoDelay(true);
        socket.setKeepAlive(true, keepAliveDelayMs);
        resolve(
          new KafkaClient(
            socket,
            address,
            options.clientId,
            options.requestTimeoutMs ?? defaultRequestTimeoutMs,
            options.maxFrameBytes ?? defaultMaxFrameBytes,
          ),
        );
      });
    });
  }

  get closed(): boolean {
    return this.ended !== null;
  }

  /**
   * Sends one request and resolves with its decoded response. Every request must get a
   * response: a Produce with acks=0 gets none and would only time out.
   */
  request<A extends ApiDefinition>(
    api: A,
    version: number,
    body: MessageInput<A['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<MessageValue<A['response']>> {
    if (this.ended !== null) {
      return Promise.reject(
        new KafkaClientClosedError(`cannot send ${api.name} v${version} to broker ${this.label}: the connection is closed (${this.ended.message})`),
      );
    }
    if (!Number.isInteger(version) || version < 0 || version > api.maxVersion) {
      return Promise.reject(new RangeError(`cannot send ${api.name} v${version}: its schema defines versions 0 to ${api.maxVersion}`));
    }
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    // setTimeout fires at once for delays past int32 milliseconds, which would time out every request.
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > maxTimerMs) {
      return Promise.reject(new RangeError(`${api.name} request timeout ${timeoutMs} ms is not a whole number of ms between 1 and ${maxTimerMs}`));
    }
    const correlationId = this.takeCorrelationId();
    let frame: Buffer[];
    try {
      frame = encodeRequest(api, version, correlationId, this.clientId, body);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.inFlight.set(correlationId, {
        apiName: api.name,
        version,
        timer: setTimeout(() => this.timeOut(correlationId, timeoutMs), timeoutMs),
        deliver: (response) => resolve(decodeResponse(api, version, response).body),
        reject,
      });
      this.socket.cork();
      for (const chunk of frame) this.socket.write(chunk);
      this.socket.uncork();
    });
  }

  /** Closes the connection; requests in flight reject with KafkaClientClosedError. */
  close(): void {
    this.fail(new KafkaClientClosedError(`connection to broker ${this.label} was closed by this client`));
  }

  private takeCorrelationId(): number {
    // Correlation ids are int32 on the wire; wrapping after 2^31 requests is safe because ids
    // still in flight (or abandoned) are skipped.
    do {
      this.nextCorrelationId = this.nextCorrelationId === 0x7fffffff ? 0 : this.nextCorrelationId + 1;
    } while (this.inFlight.has(this.nextCorrelationId) || this.abandoned.has(this.nextCorrelationId));
    return this.nextCorrelationId;
  }

  private timeOut(correlationId: number, timeoutMs: number): void {
    const request = this.inFlight.get(correlationId);
    if (request === undefined) return;
    this.inFlight.delete(correlationId);
    this.abandoned.add(correlationId);
    request.reject(new RequestTimeoutError(request.apiName, request.version, this.address, timeoutMs));
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.ended === null) {
      if (this.frameSize === null) {
        if (this.buffered < sizePrefixBytes) return;
        const size = this.take(sizePrefixBytes).readInt32BE(0);
        // Checked before buffering the body, so a garbled prefix cannot make us hold gigabytes.
        if (size < correlationIdBytes || size > this.maxFrameBytes) {
          this.fail(
            new BrokerConnectionError(
              this.address,
              `sent a response frame of ${size} bytes, outside the accepted ${correlationIdBytes} to ${this.maxFrameBytes} bytes (maxFrameBytes); closing the connection`,
            ),
          );
          return;
        }
        this.frameSize = size;
      }
      if (this.buffered < this.frameSize) return;
      const frame = this.take(this.frameSize);
      this.frameSize = null;
      this.onFrame(frame);
    }
  }

  /** Removes the next `count` buffered bytes; copies only when they span chunks. */
  private take(count: number): Buffer {
    this.buffered -= count;
    const first = this.chunks[0] as Buffer;
    if (first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const whole = Buffer.concat(this.chunks);
    const rest = whole.subarray(count);
    this.chunks = rest.length > 0 ? [rest] : [];
    return whole.subarray(0, count);
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const request = this.inFlight.get(correlationId);
    if (request === undefined) {
      if (this.abandoned.delete(correlationId)) return;
      this.fail(
        new BrokerConnectionError(
          this.address,
          `sent a response with correlation id ${correlationId}, which matches no request in flight; closing the connection`,
        ),
      );
      return;
    }
    this.inFlight.delete(correlationId);
    clearTimeout(request.timer);
    try {
      request.deliver(frame);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const failure = new BrokerConnectionError(
        this.address,
        `sent a ${request.apiName} v${request.version} response that does not decode (${reason}); closing the connection`,
        { cause: error },
      );
      request.reject(failure);
      this.fail(failure);
    }
  }

  /** Ends the connection once, rejecting everything in flight with `reason`. */
  private fail(reason: Error): void {
    if (this.ended !== null) return;
    this.ended = reason;
    this.socket.destroy();
    this.chunks = [];
    this.buffered = 0;
    this.abandoned.clear();
    const pending = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const request of pending) {
      clearTimeout(request.timer);
      request.reject(reason);
    }
  }
}
