// A minimal Kafka wire client for tests that must send exactly chosen bytes (a retried batch,
// a stale generation, a malformed assignment): requests are encoded with the broker's own
// protocol schemas, one at a time over one TCP connection to loopback.
import net from 'node:net';
import { decodeResponse, encodeRequest } from '../../broker/protocol/header.js';
import type { ApiDefinition, MessageInput, MessageValue } from '../../broker/protocol/schema.js';

export class WireClient {
  private buffered = Buffer.alloc(0);
  private waiting: ((frame: Buffer) => void) | null = null;
  private failure: Error | null = null;
  private correlationId = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.deliver();
    });
    socket.on('error', (error) => (this.failure = error));
    socket.on('close', () => (this.failure ??= new Error('connection closed by the broker')));
  }

  static connect(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  private deliver(): void {
    if (!this.waiting || this.buffered.length < 4) return;
    const size = this.buffered.readInt32BE(0);
    if (this.buffered.length < 4 + size) return;
    const frame = this.buffered.subarray(4, 4 + size);
    this.buffered = this.buffered.subarray(4 + size);
    const resolve = this.waiting;
    this.waiting = null;
    resolve(frame);
  }

  async send<A extends ApiDefinition>(api: A, version: number, body: MessageInput<A['request']>): Promise<MessageValue<A['response']>> {
    if (this.failure) throw this.failure;
    const correlationId = ++this.correlationId;
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    const frame = new Promise<Buffer>((resolve, reject) => {
      this.waiting = resolve;
      timer = setTimeout(() => reject(new Error(`${api.name} v${version}: no response in 15 s`)), 15_000);
      onClose = () => reject(new Error(`${api.name} v${version}: connection closed before the response`));
      this.socket.once('close', onClose);
    }).finally(() => {
      clearTimeout(timer);
      if (onClose) this.socket.off('close', onClose);
    });
    for (const chunk of encodeRequest(api, version, correlationId, 'klab-wire-test', body)) this.socket.write(chunk);
    this.deliver();
    const response = decodeResponse(api, version, await frame);
    if (response.correlationId !== correlationId) {
      throw new Error(`${api.name}: correlation id ${response.correlationId}, expected ${correlationId}`);
    }
    return response.body;
  }

  /** Sends a request whose body is cut short by `missingBytes` (size prefix adjusted): a malformed frame. */
  sendTruncated<A extends ApiDefinition>(api: A, version: number, body: MessageInput<A['request']>, missingBytes: number): Promise<void> {
    const whole = Buffer.concat(encodeRequest(api, version, ++this.correlationId, 'klab-wire-test', body));
    const cut = whole.subarray(0, whole.length - missingBytes);
    cut.writeInt32BE(cut.length - 4, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${api.name}: the broker kept the connection open`)), 15_000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.write(cut);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
