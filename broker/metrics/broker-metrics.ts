// The broker's metrics, named after what an operator asks: how many requests of which API,
// how slow, how many bytes in and out, how many connections, how many records stored.
// prom-client does the bookkeeping and the exposition format; it is pure JavaScript, so it
// bundles into the one-file broker.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type PartitionOffsets = () => Array<[{ topic: string; partition: string }, number]>;

/** A partition this broker leads, as its replica assignment says. */
interface LedPartition {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** The metadata quorum and active controller on this node (QuorumController fits). */
export interface ControllerGaugeSource {
  readonly active: boolean;
  quorumStatus(): { readonly term: number; readonly appliedIndex: number };
}

/** The cluster metadata this node has applied (MetadataService fits). */
export interface ImageGaugeSource {
  readonly image: { topics(): ReadonlyArray<{ readonly partitions: ReadonlyArray<{ readonly leader: number }> }> };
}

export function createBrokerMetrics() {
  const registry = new Registry();
  const registers = [registry];
  let logEndOffsets: PartitionOffsets = () => [];
  let ledPartitions: () => readonly LedPartition[] = () => [];
  let controller: ControllerGaugeSource | null = null;
  let metadata: ImageGaugeSource | null = null;
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
    // Replication health, read from the replicas' state at scrape time. An operator alerts on
    // under-replicated > 0 (a follower is behind or gone) and offline > 0 (writes refused).
    leaderCount: new Gauge({
      name: 'klab_broker_leader_partitions',
      help: 'Partitions this broker leads.',
      registers,
      collect() {
        this.set(ledPartitions().length);
      },
    }),
    underReplicatedPartitions: new Gauge({
      name: 'klab_broker_under_replicated_partitions',
      help: 'Partitions this broker leads whose ISR is smaller than their replica set.',
      registers,
      collect() {
        this.set(ledPartitions().filter((partition) => partition.isr.length < partition.replicas.length).length);
      },
    }),
    isrShrinks: new Counter({ name: 'klab_broker_isr_shrinks_total', help: 'ISR changes accepted by the controller that removed replicas from a partition led here.', registers }),
    isrExpands: new Counter({ name: 'klab_broker_isr_expands_total', help: 'ISR changes accepted by the controller that added a caught-up replica to a partition led here.', registers }),
    // Only the active controller counts offline partitions (as Kafka's OfflinePartitionsCount),
    // so a sum over the brokers counts each partition once.
    offlinePartitions: new Gauge({
      name: 'klab_controller_offline_partitions',
      help: 'Partitions without a leader, on the active controller (0 on every other broker).',
      registers,
      collect() {
        let offline = 0;
        if (controller?.active && metadata) {
          for (const topic of metadata.image.topics()) offline += topic.partitions.filter((partition) => partition.leader < 0).length;
        }
        this.set(offline);
      },
    }),
    activeController: new Gauge({
      name: 'klab_controller_active',
      help: '1 while this broker is the active controller (leads the metadata quorum), else 0.',
      registers,
      collect() {
        this.set(controller?.active ? 1 : 0);
      },
    }),
    raftTerm: new Gauge({
      name: 'klab_metadata_quorum_term',
      help: 'The metadata quorum Raft term this node knows (KRaft leader epoch); a climbing term means repeated elections.',
      registers,
      collect() {
        if (controller) this.set(controller.quorumStatus().term);
      },
    }),
    metadataAppliedIndex: new Gauge({
      name: 'klab_metadata_applied_index',
      help: 'The metadata log index this node has applied; a node far behind the others serves stale metadata.',
      registers,
      collect() {
        if (controller) this.set(controller.quorumStatus().appliedIndex);
      },
    }),
    /** Where the leader-count and under-replicated gauges read the partitions led here. */
    watchLedPartitions(source: () => readonly LedPartition[]): void {
      ledPartitions = source;
    },
    /** Where the controller and metadata gauges read from. */
    watchController(controllerSource: ControllerGaugeSource, metadataSource: ImageGaugeSource): void {
      controller = controllerSource;
      metadata = metadataSource;
    },
  };
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>;
