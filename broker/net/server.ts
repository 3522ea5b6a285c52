// One Kafka listener: accepts TCP connections on its configured address only and gives each
// a Connection that knows the listener's name. Closing stops accepting first, lets every
// connection answer what it has read, then ends them — the broker's graceful shutdown.
import net from 'node:net';
import type { HostPort } from '../config.js';
import { formatHostPort } from '../config.js';
import type { Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import type { FrameHandler } from '../dispatch/dispatcher.js';
import { Connection, type ConnectionLimits } from './connection.js';

export interface KafkaServer {
  /** The bound address (the real port when listen asked for port 0). */
  address: HostPort;
  close(graceMs: number): Promise<void>;
}

export async function startKafkaServer(options: {
  /** The listener's name, carried by each of its connections. */
  name: string;
  listen: HostPort;
  limits: ConnectionLimits;
  handler: FrameHandler;
  log: Logger;
  metrics: BrokerMetrics;
}): Promise<KafkaServer> {
  const { name, listen, limits, handler, log, metrics } = options;
  const connections = new Set<Connection>();
  // allowHalfOpen: a client that half-closes after its last request still gets the answers.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection = new Connection(
      remote,
      name,
      socket,
      handler,
      limits,
      {
        bytesIn: (count) => metrics.bytesIn.inc(count),
        bytesOut: (count) => metrics.bytesOut.inc(count),
        closed: (closed, cause, reason) => {
          connections.delete(closed);
          metrics.connections.dec();
          metrics.connectionsClosed.inc({ cause });
          if (cause === 'client' || cause === 'shutdown') log.debug('connection closed', { remote, cause, reason });
          else log.warn('connection closed', { remote, cause, reason });
        },
      },
    );
    connections.add(connection);
    metrics.connections.inc();
    log.debug('connection accepted', { remote });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: listen.port, host: listen.host, backlog: 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address = { host: listen.host, port: typeof bound === 'object' && bound ? bound.port : listen.port };
  log.info(`listening on ${formatHostPort(address)} (listener ${name})`);

  return {
    address,
    async close(graceMs) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const drained = Promise.all([...connections].map((connection) => connection.drain()));
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      for (const connection of [...connections]) connection.close('broker shutting down', 'shutdown');
      await stopped;
    },
  };
}
