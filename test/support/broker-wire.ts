// A raw Kafka wire client over net.Socket for tests that must send what no real client
// would: truncated, oversized, garbled or wrong-version frames. Well-formed requests are
// encoded with the broker's own protocol schemas; responses are read frame by frame.
import net from 'node:net';
import { decodeResponse, encodeRequest } from '../../broker/protocol/header.js';
import type { ApiDefinition, MessageInput, MessageValue } from '../../broker/protocol/schema.js';

export type FrameOrClose = { kind: 'frame'; frame: Buffer } | { kind: 'closed' };

export class WireClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private isClosed = false;
  private nextCorrelationId = 1;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length < 4 + size) break;
        this.frames.push(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
      this.notify();
    });
    socket.on('close', () => {
      this.isClosed = true;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  write(bytes: Buffer | readonly Buffer[]): void {
    for (const chunk of Buffer.isBuffer(bytes) ? [bytes] : bytes) this.socket.write(chunk);
  }

  /** Encodes a request with the broker's schema at `version`; returns its correlation id. */
  sendRequest<A extends ApiDefinition>(api: A, version: number, body: MessageInput<A['request']>): number {
    const correlationId = this.nextCorrelationId++;
    this.write(encodeRequest(api, version, correlationId, 'klab-wire-test', body));
    return correlationId;
  }

  async request<A extends ApiDefinition>(
    api: A,
    version: number,
    body: MessageInput<A['request']>,
  ): Promise<MessageValue<A['response']>> {
    const correlationId = this.sendRequest(api, version, body);
    const next = await this.next();
    if (next.kind === 'closed') throw new Error(`connection closed instead of answering ${api.name} v${version}`);
    const decoded = decodeResponse(api, version, next.frame);
    if (decoded.correlationId !== correlationId) {
      throw new Error(`response correlation id ${decoded.correlationId}, expected ${correlationId}`);
    }
    return decoded.body;
  }

  /** Sends a request cut short by `missingBytes`, its size prefix matching the cut: a malformed body. */
  sendTruncated<A extends ApiDefinition>(api: A, version: number, body: MessageInput<A['request']>, missingBytes: number): void {
    const whole = Buffer.concat(encodeRequest(api, version, this.nextCorrelationId++, 'klab-wire-test', body));
    const cut = whole.subarray(0, whole.length - missingBytes);
    cut.writeInt32BE(cut.length - 4, 0);
    this.write(cut);
  }

  /** The next response frame (without size prefix), or 'closed' when the broker closed the connection. */
  async next(timeoutMs = 10_000): Promise<FrameOrClose> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0 && !this.isClosed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no response and no close within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const frame = this.frames.shift();
    return frame ? { kind: 'frame', frame } : { kind: 'closed' };
  }

  /** Stops reading from the socket (a slow consumer); responses pile up in the broker's socket. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
