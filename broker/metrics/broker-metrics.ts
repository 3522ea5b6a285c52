// The broker's metrics, named after what an operator asks: how many requests of which API,
// how slow, how many bytes in and out, how many connections, how many records stored.
// prom-client does the bookkeeping and the exposition format; it is pure JavaScript, so it
// bundles into the one-file broker.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type PartitionOffsets = () => Array<[{ topic: string; partition: string }, number]>;

export function createBrokerMetrics() {
  const registry = new Registry();
  const registers = [registry];
  let logEndOffsets: PartitionOffsets = () => [];
  return {
    registry,
    requests: new Counter({ name: 'klab_broker_requests_total', help: 'Requests handled, by API name.', labelNames: ['api'], registers }),
    storageErrors: new Counter({
      name: 'klab_broker_storage_errors_total',
      help: 'Partition operations refused or failed by storage, by operation and error.',
      labelNames: ['operation', 'error'],
      registers,
    }),
    requestSeconds: new Histogram({
      name: 'klab_broker_request_duration_seconds',
      help: 'Time from a request arriving to its response being queued.',
      labelNames: ['api'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    bytesIn: new Counter({ name: 'klab_broker_network_received_bytes_total', help: 'Request bytes received.', registers }),
    bytesOut: new Counter({ name: 'klab_broker_network_sent_bytes_total', help: 'Response bytes sent.', registers }),
    connections: new Gauge({ name: 'klab_broker_connections', help: 'Open client connections.', registers }),
    connectionsClosed: new Counter({
      name: 'klab_broker_connections_closed_total',
      help: 'Client connections closed, by cause.',
      labelNames: ['cause'],
      registers,
    }),
    producedRecords: new Counter({
      name: 'klab_broker_produced_records_total',
      help: 'Records appended to partition logs, by topic.',
      labelNames: ['topic'],
      registers,
    }),
    producedBytes: new Counter({
      name: 'klab_broker_produced_bytes_total',
      help: 'Record batch bytes appended to partition logs, by topic.',
      labelNames: ['topic'],
      registers,
    }),
    fetchedBytes: new Counter({
      name: 'klab_broker_fetched_bytes_total',
      help: 'Record batch bytes served, by topic.',
      labelNames: ['topic'],
      registers,
    }),
    logEndOffset: new Gauge({
      name: 'klab_broker_log_end_offset',
      help: 'Next offset to be written, per partition.',
      labelNames: ['topic', 'partition'],
      registers,
      // Read at scrape time rather than pushed on every append.
      collect() {
        this.reset();
        for (const [labels, value] of logEndOffsets()) this.set(labels, value);
      },
    }),
    /** Where the log-end-offset gauge reads its values from when scraped. */
    watchLogEndOffsets(source: PartitionOffsets): void {
      logEndOffsets = source;
    },
  };
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>;
