// Moves Raft messages between voters over TCP. A server on the controller listener (and
// nothing else listening) accepts each peer's connection after a handshake; for every peer
// this voter dials one outbound connection and keeps it up, reconnecting with capped
// exponential backoff. Raft tolerates lost messages, so the transport never blocks the core
// and never buffers without bound: a peer that is dead, cut off or SIGSTOPped gets a queue
// capped in bytes that drops its oldest frames, and nothing more is handed to its socket once
// the kernel stops taking bytes. A malformed frame closes the connection it came on, nothing else.
import net from 'node:net';
import { describeError, type Logger } from '../../log.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { NodeId, RaftMessage } from '../raft/types.js';
import { QuorumListenError } from './errors.js';
import {
  canonicalVoters,
  decodeHandshake,
  decodeHandshakeResponse,
  decodeRaftMessage,
  encodeHandshake,
  encodeHandshakeResponse,
  encodeRaftMessage,
  frameHeaderBytes,
  type Handshake,
  type VoterAddress,
} from './wire.js';

export interface TransportLimits {
  /** Largest frame accepted or sent; a snapshot travels in one frame, so this bounds it. */
  readonly maxFrameBytes: number;
  /** Frames waiting for one peer beyond this many bytes are dropped, oldest first. */
  readonly maxQueuedBytes: number;
  /** Bytes the socket may hold unsent before the queue stops feeding it (a stalled peer). */
  readonly socketHighWaterBytes: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** A dial or handshake that has not completed by then is abandoned and retried. */
  readonly connectTimeoutMs: number;
}

/** Handshakes and their answers are a few hundred bytes; a stranger may not make us buffer more. */
const maxHandshakeBytes = 64 * 1024;

export const defaultTransportLimits: TransportLimits = {
  maxFrameBytes: 16 * 1024 * 1024,
  maxQueuedBytes: 4 * 1024 * 1024,
  socketHighWaterBytes: 1024 * 1024,
  reconnectInitialMs: 50,
  reconnectMaxMs: 1000,
  connectTimeoutMs: 2000,
};

export interface TransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly voters: ReadonlyMap<NodeId, VoterAddress>;
  readonly listen: VoterAddress;
  readonly logger: Logger;
  readonly limits: TransportLimits;
  /** Called for each message an accepted peer sent (from the peer, to this voter, already checked). */
  readonly onMessage: (message: RaftMessage) => void;
}

/** Splits a byte stream into frame bodies, refusing a length outside (0, max]. */
class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(public maxFrameBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole frame body, or null until more bytes arrive; throws ProtocolError on a bad length. */
  next(): Buffer | null {
    if (this.buffered < frameHeaderBytes) return null;
    if (this.chunks[0]!.length < frameHeaderBytes) this.coalesce();
    const length = this.chunks[0]!.readInt32BE(0);
    if (length <= 0 || length > this.maxFrameBytes) {
      throw new ProtocolError(`frame length ${length} is outside 1..${this.maxFrameBytes}`, { offset: 0 });
    }
    if (this.buffered < frameHeaderBytes + length) return null;
    this.coalesce();
    const all = this.chunks[0]!;
    const body = all.subarray(frameHeaderBytes, frameHeaderBytes + length);
    const rest = all.subarray(frameHeaderBytes + length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return body;
  }

  private coalesce(): void {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
  }
}

function remoteOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** One outbound connection to a peer, its bounded queue and its reconnect schedule. */
class PeerLink {
  private socket: net.Socket | null = null;
  private open = false;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastRefusal: string | null = null;
  private wasOpen = false;
  dropped = 0;

  constructor(
    private readonly transport: QuorumTransport,
    readonly peerId: NodeId,
    private readonly address: VoterAddress,
    private readonly options: TransportOptions,
  ) {
    this.backoffMs = options.limits.reconnectInitialMs;
  }

  get queued(): number {
    return this.queuedBytes;
  }

  get idle(): boolean {
    return this.queue.length === 0 && (this.socket === null || !this.open || this.socket.writableLength === 0);
  }

  start(): void {
    this.dial();
  }

  enqueue(frame: Buffer): void {
    if (this.closed) return;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    while (this.queuedBytes > this.options.limits.maxQueuedBytes && this.queue.length > 1) {
      this.queuedBytes -= this.queue.shift()!.length;
      this.dropped++;
    }
    this.flush();
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.socket?.destroy();
    this.queue = [];
    this.queuedBytes = 0;
  }

  private flush(): void {
    const socket = this.socket;
    if (!socket || !this.open) return;
    while (this.queue.length > 0 && socket.writableLength < this.options.limits.socketHighWaterBytes) {
      const frame = this.queue.shift()!;
      this.queuedBytes -= frame.length;
      socket.write(frame);
    }
  }

  private dial(): void {
    this.reconnectTimer = null;
    if (this.closed) return;
    const { logger, limits } = this.options;
    const socket = net.connect({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    this.open = false;
    socket.setNoDelay(true);
    // A peer whose host vanished (a pod rescheduled, a cable pulled) sends no FIN; keepalive
    // notices, so the link redials instead of feeding a dead connection until TCP gives up.
    socket.setKeepAlive(true, 5000);
    socket.setTimeout(limits.connectTimeoutMs, () => socket.destroy(new Error(`no handshake answer within ${limits.connectTimeoutMs} ms`)));
    const reader = new FrameReader(maxHandshakeBytes);
    let retryAfterMax = false;
    socket.once('connect', () => {
      socket.write(
        encodeHandshake({
          clusterId: this.options.clusterId,
          senderId: this.options.nodeId,
          receiverId: this.peerId,
          voters: canonicalVoters(this.options.voters),
        }),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
        const body = reader.next();
        if (body === null) return;
        if (this.open) throw new ProtocolError('the listener sent a frame after its handshake answer');
        const answer = decodeHandshakeResponse(body);
        if (!answer.accepted) {
          const reason = answer.reason ?? 'no reason given';
          if (reason !== this.lastRefusal) {
            logger.warn('controller peer refused our connection', { self: this.options.nodeId, peer: this.peerId, address: `${this.address.host}:${this.address.port}`, reason });
          }
          this.lastRefusal = reason;
          retryAfterMax = true;
          socket.destroy();
          return;
        }
        socket.setTimeout(0);
        this.open = true;
        this.lastRefusal = null;
        this.backoffMs = limits.reconnectInitialMs;
        if (!this.wasOpen) logger.info('connected to controller peer', { self: this.options.nodeId, peer: this.peerId, address: `${this.address.host}:${this.address.port}` });
        this.wasOpen = true;
        this.flush();
      } catch (error) {
        logger.warn('closing controller connection: malformed frame from peer', { self: this.options.nodeId, peer: this.peerId, reason: describeError(error) });
        socket.destroy();
      }
    });
    socket.on('drain', () => this.flush());
    socket.on('error', (error) => {
      if (this.wasOpen) logger.info('controller peer connection failed', { self: this.options.nodeId, peer: this.peerId, reason: error.message });
      else logger.debug('cannot reach controller peer', { self: this.options.nodeId, peer: this.peerId, reason: error.message });
      this.wasOpen = false;
    });
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = null;
        this.open = false;
      }
      if (this.closed || this.transport.isClosed) return;
      const delay = retryAfterMax ? limits.reconnectMaxMs : this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, limits.reconnectMaxMs);
      this.reconnectTimer = setTimeout(() => this.dial(), delay);
    });
  }
}

export class QuorumTransport {
  private readonly peers = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<net.Socket>();
  private readonly contact = new Map<NodeId, number>();
  private closed = false;

  private constructor(
    private readonly server: net.Server,
    private readonly options: TransportOptions,
  ) {}

  /** Listens on the controller address, then starts dialling every other voter. */
  static async start(options: TransportOptions): Promise<QuorumTransport> {
    const server = net.createServer();
    const transport = new QuorumTransport(server, options);
    server.on('connection', (socket) => transport.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new QuorumListenError(options.listen, error)));
      server.listen({ host: options.listen.host, port: options.listen.port }, () => resolve());
    });
    server.on('error', (error) => options.logger.error('controller listener failed', { reason: error.message }));
    for (const [id, address] of options.voters) {
      if (id === options.nodeId) continue;
      const link = new PeerLink(transport, id, address, options);
      transport.peers.set(id, link);
      link.start();
    }
    return transport;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The address the server is bound to (its port when the configured one was 0). */
  get address(): VoterAddress {
    const bound = this.server.address() as net.AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  /** Queues a message for its addressee; it may be dropped (Raft resends what matters). */
  send(message: RaftMessage): void {
    const frame = encodeRaftMessage(message);
    if (frame.length - frameHeaderBytes > this.options.limits.maxFrameBytes) {
      this.options.logger.error('raft message larger than the frame limit; not sent', { peer: message.to, kind: message.kind, bytes: frame.length });
      return;
    }
    this.peers.get(message.to)?.enqueue(frame);
  }

  /** When a frame last arrived from `peer` (ms since the epoch), or null if never. */
  lastContact(peer: NodeId): number | null {
    return this.contact.get(peer) ?? null;
  }

  /** Bytes of frames waiting for `peer` (not yet handed to its socket). */
  queuedBytes(peer: NodeId): number {
    return this.peers.get(peer)?.queued ?? 0;
  }

  /** Frames dropped so far because a peer's queue was full. */
  droppedFrames(peer: NodeId): number {
    return this.peers.get(peer)?.dropped ?? 0;
  }

  /** Waits until every queued frame was handed to the kernel, or `timeoutMs` passed. */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && ![...this.peers.values()].every((peer) => peer.idle)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    for (const socket of this.inbound) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const { logger, limits, nodeId } = this.options;
    this.inbound.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(limits.connectTimeoutMs * 5, () => {
      logger.warn('closing controller connection: no handshake', { self: nodeId, remote: remoteOf(socket) });
      socket.destroy();
    });
    const remote = remoteOf(socket);
    const reader = new FrameReader(maxHandshakeBytes);
    let peer: NodeId | null = null;
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
        for (let body = reader.next(); body !== null; body = reader.next()) {
          if (socket.destroyed) return;
          if (peer === null) {
            const handshake = decodeHandshake(body);
            const refusal = this.refusalOf(handshake);
            if (refusal !== null) {
              logger.warn('refused a controller connection', { self: nodeId, cluster: this.options.clusterId, peer: handshake.senderId, peerCluster: handshake.clusterId, remote, reason: refusal });
              socket.end(encodeHandshakeResponse({ accepted: false, receiverId: nodeId, reason: refusal }));
              socket.destroySoon();
              return;
            }
            peer = handshake.senderId;
            reader.maxFrameBytes = limits.maxFrameBytes;
            socket.setTimeout(0);
            socket.write(encodeHandshakeResponse({ accepted: true, receiverId: nodeId, reason: null }));
            logger.debug('accepted a controller connection', { self: nodeId, peer, remote });
            continue;
          }
          const message = decodeRaftMessage(body);
          if (message.from !== peer || message.to !== nodeId) {
            throw new ProtocolError(`a message from ${message.from} to ${message.to} on voter ${peer}'s connection to voter ${nodeId}`);
          }
          this.contact.set(peer, Date.now());
          this.options.onMessage(message);
        }
      } catch (error) {
        logger.warn('closing controller connection: malformed frame', { self: nodeId, peer: peer ?? 'unknown', remote, reason: describeError(error) });
        socket.destroy();
      }
    });
    socket.on('error', (error) => logger.debug('controller connection error', { self: nodeId, peer: peer ?? 'unknown', remote, reason: error.message }));
    socket.on('close', () => this.inbound.delete(socket));
  }

  /** Why a handshake is refused, naming both sides, or null when it is accepted. */
  private refusalOf(handshake: Handshake): string | null {
    const { nodeId, clusterId, voters } = this.options;
    const them = `voter ${handshake.senderId} of cluster '${handshake.clusterId}'`;
    const us = `voter ${nodeId} of cluster '${clusterId}'`;
    if (handshake.clusterId !== clusterId) return `${them} dialled ${us}: the cluster ids differ`;
    if (!voters.has(handshake.senderId) || handshake.senderId === nodeId) {
      return `${them} dialled ${us}, whose voters are ${canonicalVoters(voters)}: ${handshake.senderId} is not another voter`;
    }
    if (handshake.receiverId !== nodeId) return `${them} meant to dial voter ${handshake.receiverId} but reached ${us}: check the addresses in --voters`;
    // The ids decide what a majority is, so they must agree; the addresses may differ (a voter may
    // reach a peer through a proxy or another name for the same host).
    const ours = canonicalVoters(voters);
    if (voterIds(handshake.voters) !== voterIds(ours)) {
      return `${them} has voters ${handshake.voters}, ${us} has ${ours}: every voter needs the same voter ids in --voters`;
    }
    return null;
  }
}

/** The ids of a canonical voter list (`0@host:port,1@…`), in its order. */
function voterIds(list: string): string {
  return list
    .split(',')
    .map((entry) => entry.slice(0, entry.indexOf('@')))
    .join(',');
}
