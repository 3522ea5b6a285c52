// A broker's /metrics as a test reads it, and the active controller as the brokers themselves
// report it (klab_controller_active). Metadata's controller id is not that: like Kafka's, it
// names any live broker that forwards while no live controller is known.
import type { Cluster } from './broker-cluster.js';

/** Every unlabelled sample of one broker's /metrics, by name. */
export async function scrapeMetrics(cluster: Cluster, nodeId: number): Promise<Map<string, number>> {
  const url = `${cluster.brokers[nodeId]!.metricsUrl}/metrics`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-z_]+) (\S+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** Scrapes broker `nodeId` until `done` holds for its metrics; the last scrape is in the error. */
export async function waitForMetrics(cluster: Cluster, nodeId: number, what: string, done: (values: Map<string, number>) => boolean, timeoutMs = 30_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let last: Map<string, number> | string = 'no scrape yet';
  while (Date.now() < deadline) {
    try {
      last = await scrapeMetrics(cluster, nodeId);
      if (done(last)) return last;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const shown = typeof last === 'string' ? last : JSON.stringify(Object.fromEntries(last));
  throw new Error(`${what} did not show in broker ${nodeId}'s metrics within ${timeoutMs} ms; last: ${shown}`);
}

/**
 * The one running broker (outside `except`) that reports itself the active controller, once
 * exactly one does.
 */
export async function activeController(cluster: Cluster, except: readonly number[] = [], timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no scrape yet';
  while (Date.now() < deadline) {
    const asked = cluster.brokers.filter((broker) => broker.pid !== -1 && !except.includes(broker.nodeId));
    const answers = await Promise.all(
      asked.map(async (broker) => {
        try {
          return { nodeId: broker.nodeId, active: (await scrapeMetrics(cluster, broker.nodeId)).get('klab_controller_active') };
        } catch (error) {
          return { nodeId: broker.nodeId, active: String(error) };
        }
      }),
    );
    const active = answers.filter((answer) => answer.active === 1);
    if (active.length === 1) return active[0]!.nodeId;
    last = JSON.stringify(answers);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no single active controller among the running brokers within ${timeoutMs} ms; last: ${last}`);
}
