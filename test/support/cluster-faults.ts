// What the cluster fault tests share: the cluster as a client sees it (kcat's metadata as
// JSON), waiting for it to reach a state, and how long produce stalled around a fault, read
// from the acknowledgements the stream producer recorded.
import { z } from 'zod';
import type { Cluster } from './broker-cluster.js';
import { runKcat } from './kcat.js';
import type { StreamRun } from './stream-producers.js';

const metadataSchema = z.object({
  controllerid: z.number().int(),
  brokers: z.array(z.object({ id: z.number().int(), name: z.string() })),
  topics: z.array(
    z.object({
      topic: z.string(),
      partitions: z
        .array(
          z.object({
            partition: z.number().int(),
            leader: z.number().int(),
            replicas: z.array(z.object({ id: z.number().int() })),
            isrs: z.array(z.object({ id: z.number().int() })),
          }),
        )
        .optional(),
    }),
  ),
});

export interface PartitionView {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface ClusterView {
  controller: number;
  brokers: number[];
  partitions: PartitionView[];
}

/** The metadata one broker answers (librdkafka's view), for `topic`. */
export async function clusterView(bootstrap: string, topic: string): Promise<ClusterView> {
  const result = await runKcat(['-b', bootstrap, '-L', '-J', '-t', topic, '-m', '5'], { timeoutMs: 15_000 });
  if (result.exitCode !== 0) throw new Error(`kcat -L against ${bootstrap} failed: ${result.stderr}`);
  const metadata = metadataSchema.parse(JSON.parse(result.stdout));
  const partitions = (metadata.topics.find((entry) => entry.topic === topic)?.partitions ?? []).map((partition) => ({
    partition: partition.partition,
    leader: partition.leader,
    replicas: partition.replicas.map((replica) => replica.id),
    isr: partition.isrs.map((replica) => replica.id).sort((a, b) => a - b),
  }));
  return { controller: metadata.controllerid, brokers: metadata.brokers.map((broker) => broker.id).sort((a, b) => a - b), partitions };
}

/** Polls the metadata (from any live broker) until `done` holds; returns the view that satisfied it. */
export async function waitForView(
  cluster: Cluster,
  topic: string,
  what: string,
  done: (view: ClusterView) => boolean,
  timeoutMs = 30_000,
  except: readonly number[] = [],
): Promise<ClusterView> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterView | string = 'no answer yet';
  const bootstrap = cluster.brokers
    .filter((broker) => !except.includes(broker.nodeId))
    .map((broker) => broker.externalBootstrap)
    .join(',');
  while (Date.now() < deadline) {
    try {
      const view = await clusterView(bootstrap, topic);
      if (done(view)) return view;
      last = view;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms; last metadata: ${JSON.stringify(last)}`);
}

/**
 * How long produce stalled around a fault at `faultAt`: from the fault to the first
 * acknowledgement after it on every partition (the slowest partition counts).
 */
export function recoveryMs(run: StreamRun, faultAt: number, partitions: number): number {
  let slowest = 0;
  for (let partition = 0; partition < partitions; partition++) {
    const next = run.acknowledged.find((ack) => ack.partition === partition && ack.at > faultAt);
    if (!next) return Number.POSITIVE_INFINITY;
    slowest = Math.max(slowest, next.at - faultAt);
  }
  return slowest;
}

/** The longest time between two acknowledgements of one partition after `from` (how long that partition could not be written). */
export function longestAckGapMs(run: StreamRun, from: number, partitions: number): number {
  let longest = 0;
  for (let partition = 0; partition < partitions; partition++) {
    let previous = from;
    for (const ack of run.acknowledged) {
      if (ack.partition !== partition || ack.at < from) continue;
      longest = Math.max(longest, ack.at - previous);
      previous = ack.at;
    }
  }
  return longest;
}
