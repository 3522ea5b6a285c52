// The broker's metrics, named after what an operator asks: how many requests of which API,
// how slow, how many bytes in and out, how many connections, how many records stored.
import { Counter, Gauge, Histogram, Registry } from './registry.js';

export function createBrokerMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: registry.register(new Counter('klab_broker_requests_total', 'Requests handled, by API name.')),
    storageErrors: registry.register(
      new Counter('klab_broker_storage_errors_total', 'Partition operations refused or failed by storage, by operation and error.'),
    ),
    requestSeconds: registry.register(
      new Histogram('klab_broker_request_duration_seconds', 'Time from a request arriving to its response being queued.', [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
      ]),
    ),
    bytesIn: registry.register(new Counter('klab_broker_network_received_bytes_total', 'Request bytes received.')),
    bytesOut: registry.register(new Counter('klab_broker_network_sent_bytes_total', 'Response bytes sent.')),
    connections: registry.register(new Gauge('klab_broker_connections', 'Open client connections.')),
    connectionsClosed: registry.register(
      new Counter('klab_broker_connections_closed_total', 'Client connections closed, by cause.'),
    ),
    producedRecords: registry.register(
      new Counter('klab_broker_produced_records_total', 'Records appended to partition logs, by topic.'),
    ),
    producedBytes: registry.register(
      new Counter('klab_broker_produced_bytes_total', 'Record batch bytes appended to partition logs, by topic.'),
    ),
    fetchedBytes: registry.register(new Counter('klab_broker_fetched_bytes_total', 'Record batch bytes served, by topic.')),
    logEndOffset: registry.register(new Gauge('klab_broker_log_end_offset', 'Next offset to be written, per partition.')),
  };
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>;
