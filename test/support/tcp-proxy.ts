// A loopback TCP proxy a test controls, to cut a link the way a network partition does: while
// cut, connections are accepted and their bytes swallowed, never answered and never reset, so
// the peer waits out its own timeouts exactly as across a dead network (a refused or reset
// connection would be a much kinder fault, noticed at once).
//
// With `identifyKafkaClient`, the proxy reads the first Kafka request frame of a connection
// before forwarding anything and takes its client id as the connection's source; cut(source)
// then affects only that source's connections. That is how one proxy in front of a broker's
// inter-broker listener (an address every broker learns from metadata, so shared by all) can
// cut just one of the brokers that connect to it.
import net from 'node:net';
import type { HostPort } from '../../broker/config.js';

export interface ProxyOptions {
  target: HostPort;
  /** Hold each connection until its first request frame names a client id, then route by it. */
  identifyKafkaClient?: boolean;
}

export interface TcpProxy {
  readonly port: number;
  /** 127.0.0.1:port, for a client or a flag. */
  readonly address: string;
  /**
   * Black-holes connections: those open now are destroyed, later ones are accepted and never
   * forwarded. With a `source` (a Kafka client id), only that source's connections.
   */
  cut(source?: string): void;
  /** Forwards new connections again (of `source` only, when given); black-holed ones are closed so their peers reconnect. */
  heal(source?: string): void;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket | null;
  /** The client id of its first request; undefined until read (always, without identifyKafkaClient). */
  source: string | null | undefined;
  blackHoled: boolean;
}

// Request header v1+: int32 size, int16 api key, int16 api version, int32 correlation id, int16 client id length.
const clientIdLengthAt = 12;

/** The client id of the first request frame in `bytes`; undefined while the header is incomplete. */
function firstClientId(bytes: Buffer): string | null | undefined {
  if (bytes.length < clientIdLengthAt + 2) return undefined;
  const length = bytes.readInt16BE(clientIdLengthAt);
  if (length < 0) return null;
  if (bytes.length < clientIdLengthAt + 2 + length) return undefined;
  return bytes.toString('utf8', clientIdLengthAt + 2, clientIdLengthAt + 2 + length);
}

export async function startProxy(options: ProxyOptions): Promise<TcpProxy> {
  const links = new Set<Link>();
  let allCut = false;
  const cutSources = new Set<string>();
  const isCut = (link: Link) => allCut || (typeof link.source === 'string' && cutSources.has(link.source));

  const forward = (link: Link, pending: Buffer) => {
    const upstream = net.connect(options.target.port, options.target.host);
    link.upstream = upstream;
    upstream.write(pending);
    link.client.pipe(upstream);
    upstream.pipe(link.client);
    upstream.on('error', () => link.client.destroy());
    upstream.on('close', () => link.client.destroy());
  };

  const blackHole = (link: Link) => {
    link.blackHoled = true;
    link.client.removeAllListeners('data');
    // Reading and dropping keeps the client's writes flowing, as packets into a dead network do.
    link.client.on('data', () => undefined);
  };

  const server = net.createServer((client) => {
    const link: Link = { client, upstream: null, source: options.identifyKafkaClient ? undefined : null, blackHoled: false };
    links.add(link);
    client.on('error', () => undefined);
    client.on('close', () => {
      links.delete(link);
      link.upstream?.destroy();
    });
    if (!options.identifyKafkaClient) {
      if (isCut(link)) blackHole(link);
      else forward(link, Buffer.alloc(0));
      return;
    }
    let pending = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      link.source = firstClientId(pending);
      if (link.source === undefined) return;
      client.off('data', onData);
      if (isCut(link)) blackHole(link);
      else forward(link, pending);
    };
    client.on('data', onData);
    if (allCut) blackHole(link);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  // Which links a cut or heal of `source` touches: all, or those whose first request named it.
  const matches = (link: Link, source: string | undefined) => source === undefined || link.source === source;

  return {
    port,
    address: `127.0.0.1:${port}`,
    cut(source) {
      if (source === undefined) allCut = true;
      else cutSources.add(source);
      for (const link of links) {
        if (!matches(link, source)) continue;
        if (link.upstream) {
          link.client.destroy();
          link.upstream.destroy();
        } else if (!link.blackHoled && link.source !== undefined) blackHole(link);
      }
    },
    heal(source) {
      if (source === undefined) {
        allCut = false;
        cutSources.clear();
      } else cutSources.delete(source);
      // Their bytes were dropped, so the stream cannot resume; closing them is what the peer's
      // own request timeout would end in, only sooner.
      for (const link of links) if (link.blackHoled && matches(link, source) && !isCut(link)) link.client.destroy();
    },
    async close() {
      for (const link of links) {
        link.client.destroy();
        link.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A port free on 127.0.0.1 right now, for an address a process must be told before it starts
 * (a voter list, an advertised listener). Another process could take it before it is bound;
 * on a test machine that race is rare enough to accept.
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
