// A broker's registration with the active controller, on a real three-broker cluster: a process
// that comes back with a new incarnation while its old one is still heard from is refused (two
// processes with one broker id would fence each other in turn and fetch as one replica), and
// gets in once the old session has run out; a clean shutdown ends its session at once.
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/broker-cluster.js';
import { activeController } from '../support/broker-metrics.js';
import { waitForView } from '../support/cluster-faults.js';

const refusal = /the controller refuses this registration: another process is registered as broker (\d+) and its session has not run out/;

describe('broker registration', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.dispose();
    cluster = undefined;
  });

  it('a broker restarted after kill -9 within its session is refused until the session runs out, then registers; after a clean stop it registers at once', async () => {
    // A session long enough that the restart surely comes within it.
    const sessionMs = 6_000;
    const current = await startCluster({ extraArgs: ['--broker-session-timeout-ms', String(sessionMs)] });
    cluster = current;
    await Promise.all(current.brokers.map((broker) => current.waitReady(broker.nodeId)));
    const restarted = ((await activeController(current)) + 1) % 3;

    await current.kill9(restarted);
    const killedAt = Date.now();
    await current.restart(restarted);
    const refused = await current.brokers[restarted]!.waitForLog(refusal, 15_000);
    expect(refused[1]).toBe(String(restarted));
    await current.waitReady(restarted, 30_000);
    // Not before the old session could have run out.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(sessionMs - 1_000);
    await waitForView(current, 'no-such-topic', `broker ${restarted} live again`, (view) => view.brokers.includes(restarted));

    await current.restart(restarted);
    await current.waitReady(restarted, 30_000);
    expect(current.brokers[restarted]!.logs().split(/--- broker \d+ started at .* ---\n/).at(-1)).not.toMatch(refusal);
  });
});
