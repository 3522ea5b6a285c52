// One client connection: cuts the byte stream into 4-byte size-prefixed frames, hands each
// to the handler in arrival order, and writes the responses back strictly in that order even
// when handlers finish out of order (clients pipeline requests and match responses by order).
// Reading pauses while too many requests (or request bytes) are unanswered or the client has
// not read enough of its responses, so neither a fast writer nor a slow reader can make the
// broker buffer without bound.
import type { Socket } from 'node:net';
import type { FrameHandler, ResponseFrame } from '../dispatch/dispatcher.js';
import type { ConnectionInfo } from '../handlers/types.js';

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** Requests read but not yet answered before reading pauses. */
  maxInFlight: number;
  /** Bytes of requests read but not yet answered before reading pauses (at least one is always read). */
  maxInFlightBytes: number;
  /** Bytes waiting in the socket's write buffer before reading pauses. */
  maxWriteBufferBytes: number;
}

/** Who ended a connection: the client, the network, the broker over bad input, or shutdown. */
export type CloseCause = 'client' | 'socket-error' | 'broker' | 'shutdown';

export interface ConnectionEvents {
  bytesIn(count: number): void;
  bytesOut(count: number): void;
  closed(connection: Connection, cause: CloseCause, reason: string): void;
}

interface PendingResponse {
  done: boolean;
  frame: ResponseFrame;
  requestBytes: number;
}

const sizePrefixBytes = 4;

export class Connection implements ConnectionInfo {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly pending: PendingResponse[] = [];
  private pendingRequestBytes = 0;
  private closed = false;
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly remote: string,
    readonly listener: string,
    private readonly socket: Socket,
    private readonly handler: FrameHandler,
    private readonly limits: ConnectionLimits,
    private readonly events: ConnectionEvents,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (error) => this.close(`socket error: ${error.message}`, 'socket-error'));
    socket.on('close', () => this.close('closed by client', 'client'));
    socket.on('end', () => {
      // The client finished sending; answer what it asked, then close our side.
      this.draining = true;
      void this.whenIdle().then(() => socket.end());
    });
  }

  /** Stops reading new requests; resolves when every read request has been answered. */
  async drain(): Promise<void> {
    this.draining = true;
    this.socket.pause();
    await this.whenIdle();
  }

  close(reason: string, cause: CloseCause = 'broker'): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.chunks.length = 0;
    this.socket.destroy();
    for (const waiter of this.idleWaiters.splice(0)) waiter();
    this.events.closed(this, cause, reason);
  }

  private whenIdle(): Promise<void> {
    if (this.pending.length === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.events.bytesIn(chunk.length);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.processFrames();
  }

  private processFrames(): void {
    while (!this.closed && this.buffered >= sizePrefixBytes) {
      if (this.saturated()) {
        this.socket.pause();
        return;
      }
      const size = this.peekSize();
      if (size < 0 || size > this.limits.maxFrameBytes) {
        this.close(
          size < 0
            ? `frame size ${size} is negative`
            : `frame of ${size} bytes exceeds the maximum of ${this.limits.maxFrameBytes} bytes (--max-frame-bytes)`,
        );
        return;
      }
      if (this.buffered < sizePrefixBytes + size) break;
      this.consume(sizePrefixBytes);
      this.dispatch(this.consume(size));
    }
    if (!this.draining && this.socket.isPaused()) this.socket.resume();
  }

  private dispatch(frame: Buffer): void {
    const entry: PendingResponse = { done: false, frame: null, requestBytes: frame.length };
    this.pending.push(entry);
    this.pendingRequestBytes += frame.length;
    let outcome: ResponseFrame | Promise<ResponseFrame>;
    try {
      outcome = this.handler.handleFrame(frame, this);
    } catch (error) {
      this.close((error as Error).message);
      return;
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (response) => this.complete(entry, response),
        (error: unknown) => this.close((error as Error).message ?? String(error)),
      );
    } else {
      this.complete(entry, outcome);
    }
  }

  private complete(entry: PendingResponse, frame: ResponseFrame): void {
    if (this.closed) return;
    entry.done = true;
    entry.frame = frame;
    if (this.pending[0] !== entry) return;
    this.socket.cork();
    while (this.pending.length > 0 && this.pending[0]!.done) {
      const ready = this.pending.shift()!;
      this.pendingRequestBytes -= ready.requestBytes;
      if (ready.frame) this.write(ready.frame);
    }
    this.socket.uncork();
    if (this.pending.length === 0) for (const waiter of this.idleWaiters.splice(0)) waiter();
    this.maybeResume();
  }

  private write(chunks: readonly Buffer[]): void {
    let size = 0;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      this.socket.write(chunk);
      size += chunk.length;
    }
    this.events.bytesOut(size);
  }

  private maybeResume(): void {
    if (this.closed || this.draining) return;
    if (!this.saturated()) this.processFrames();
  }

  /** Too much read and not yet answered, or too much answered and not yet read by the client. */
  private saturated(): boolean {
    return (
      this.pending.length >= this.limits.maxInFlight ||
      (this.pending.length > 0 && this.pendingRequestBytes >= this.limits.maxInFlightBytes) ||
      this.writeBufferFull()
    );
  }

  /** Responses the client has not read yet; 'drain' resumes reading once they are flushed. */
  private writeBufferFull(): boolean {
    return this.socket.writableLength > this.limits.maxWriteBufferBytes;
  }

  private peekSize(): number {
    const first = this.chunks[0]!;
    if (first.length >= sizePrefixBytes) return first.readInt32BE(0);
    return this.peekBytes(sizePrefixBytes).readInt32BE(0);
  }

  private peekBytes(count: number): Buffer {
    const out = Buffer.allocUnsafe(count);
    let copied = 0;
    for (const chunk of this.chunks) {
      copied += chunk.copy(out, copied, 0, Math.min(chunk.length, count - copied));
      if (copied === count) break;
    }
    return out;
  }

  /** Removes `count` bytes from the front; a frame inside one chunk is a view, not a copy. */
  private consume(count: number): Buffer {
    this.buffered -= count;
    const first = this.chunks[0]!;
    if (first.length > count) {
      this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    if (first.length === count) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(count);
    let copied = 0;
    while (copied < count) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length, count - copied);
      chunk.copy(out, copied, 0, take);
      copied += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}
