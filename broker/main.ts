// klab-broker entry point: configuration from flags and environment, the broker state, the
// request dispatcher over its services, one Kafka server per named listener, the optional metrics endpoint, and a graceful shutdown on SIGTERM/SIGINT
// (stop accepting, answer what was read, flush and close the logs).
import os from 'node:os';
import { Broker } from './broker.js';
import { ConfigError, formatHostPort, loadConfig, usage, type HostPort } from './config.js';
import { RequestDispatcher } from './dispatch/dispatcher.js';
import { rootLogger } from './log.js';
import { createBrokerMetrics } from './metrics/broker-metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics/http.js';
import { startKafkaServer, type KafkaServer } from './net/server.js';

const shutdownGraceMs = 5_000;
const exitUsage = 2;
/** Requests (and their bytes) read from one connection but not yet answered before the broker stops reading it. */
const maxInFlightPerConnection = 256;
const maxInFlightBytesPerConnection = 64 * 1024 * 1024;
/** Unread response bytes queued for one client before the broker stops reading its requests. */
const maxWriteBufferBytes = 16 * 1024 * 1024;

function defaultAdvertised(listen: HostPort): HostPort {
  // A wildcard address means nothing to a client; the host name is what Kafka falls back to too.
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
  return { host: wildcard ? os.hostname() : listen.host, port: listen.port };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`klab-broker: ${error.message}\n`);
      process.exit(exitUsage);
    }
    throw error;
  }
  const log = rootLogger;
  const metrics = createBrokerMetrics();
  const broker = await Broker.open(config, log, metrics).catch((error: Error) => {
    // Expected failures (data dir in use, unreadable, not writable) deserve a line, not a stack.
    log.error('cannot open the data dir', { dataDir: config.dataDir, reason: error.message });
    process.exit(1);
  });
  broker.onFatal((error) => {
    log.error('the metadata quorum failed; stopping the broker (fix the cause, e.g. free disk space, and start it again)', {
      dataDir: config.dataDir,
      reason: error.message,
    });
    process.exit(1);
  });
  metrics.watchController(broker.services.controller, broker.services.metadata);
  const dispatcher = new RequestDispatcher(broker.services, metrics, log);
  dispatcher.holdUntil(broker.whenStarted());
  const servers: KafkaServer[] = [];
  for (const listener of config.listeners) {
    const server = await startKafkaServer({
      name: listener.name,
      listen: listener.listen,
      limits: {
        maxFrameBytes: config.maxFrameBytes,
        maxInFlight: maxInFlightPerConnection,
        maxInFlightBytes: maxInFlightBytesPerConnection,
        maxWriteBufferBytes,
      },
      handler: dispatcher,
      log: log.child('net'),
      metrics,
    }).catch((error: Error) => {
      log.error('cannot listen', { listener: listener.name, listen: formatHostPort(listener.listen), reason: error.message });
      process.exit(1);
    });
    // Set before this listener's first request can be read (no I/O runs in between).
    broker.services.metadata.setAdvertisedAddress(listener.name, listener.advertise ?? defaultAdvertised(server.address));
    servers.push(server);
  }

  let stopping = false;
  let metricsServer: MetricsServer | null = null;
  if (config.metrics) {
    metricsServer = await startMetricsServer(config.metrics, metrics.registry, () => !stopping && broker.ready);
    log.info(`metrics on http://${formatHostPort(metricsServer.address)}/metrics`);
  }
  // Requests are held (see RequestDispatcher.holdUntil) until the controller has this broker
  // registered and unfenced at the addresses just bound.
  const endpoints = [...broker.services.metadata.advertisedListeners()].map(([name, address]) => ({ name, host: address.host, port: address.port }));
  void broker.start(endpoints).then(
    () => log.info('broker is ready', { nodeId: config.nodeId }),
    (error: Error) => log.error('starting the broker failed', { reason: error.message }),
  );

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    // Fenced first, while still serving, so followers fetch what this broker led and its
    // leaderships move before its listeners close (Kafka's controlled shutdown).
    await broker.controlledShutdown();
    broker.beginShutdown();
    await Promise.all(servers.map((server) => server.close(shutdownGraceMs)));
    await metricsServer?.close();
    await broker.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  rootLogger.error('fatal', { reason: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
