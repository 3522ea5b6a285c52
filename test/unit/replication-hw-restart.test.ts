// A replica opened after a restart starts at its checkpointed high watermark (capped at its log
// end) rather than 0, and the replica manager writes every replica's mark back: real logs in
// a temporary data dir, the metadata a cluster image of three brokers with `orders` on them.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../../broker/metrics/broker-metrics.js';
import { readHighWatermarks, writeHighWatermarks } from '../../broker/replication/high-watermark-checkpoint.js';
import { ReplicaManager } from '../../broker/replication/replica-manager.js';
import { LogManager } from '../../broker/storage/log-manager.js';
import { buildBatch } from '../../broker/storage/record-batch.js';
import { clusterWithOrders } from '../support/cluster-images.js';
import { RecordingLogger } from '../support/quorum-voters.js';

let dataDir: string;
let replicas: ReplicaManager | undefined;
const logger = new RecordingLogger();

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'klab-hw-restart-'));
});

afterEach(async () => {
  await replicas?.close();
  replicas = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

/** Broker 1's logs of `orders` with `records` records in partition 0, and a replica manager over them. */
async function brokerOneWith(records: number): Promise<ReplicaManager> {
  const logs = await LogManager.open({ dataDir, logger });
  const log = await logs.create('orders', 0);
  await log.append(buildBatch(Array.from({ length: records }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) }))), { leaderEpoch: 0 });
  replicas = new ReplicaManager(logs, { nodeId: 1, dataDir, interBrokerListener: 'INTERNAL', replicaLagTimeMaxMs: 10_000, minInsyncReplicas: 2 }, createBrokerMetrics(), logger);
  return replicas;
}

describe('high watermarks across a restart', () => {
  it('start at the checkpointed mark, capped at the log end, and at 0 without one', async () => {
    await writeHighWatermarks(dataDir, [
      { topic: 'orders', partition: 0, highWatermark: 7 },
      { topic: 'orders', partition: 1, highWatermark: 50 },
    ]);
    const manager = await brokerOneWith(10);
    await manager.applyImage(clusterWithOrders().image);
    // orders-0 is led by broker 0: broker 1 follows it, from its checkpointed mark.
    expect(manager.partition('orders', 0)?.role).toBe('follower');
    expect(manager.partition('orders', 0)?.highWatermark).toBe(7);
    // orders-1 (led here) has an empty log: a mark beyond it is capped.
    expect(manager.partition('orders', 1)?.highWatermark).toBe(0);
    // orders-2 has no checkpoint entry.
    expect(manager.partition('orders', 2)?.highWatermark).toBe(0);
  });

  it('writes every replica\'s mark to the checkpoint', async () => {
    await writeHighWatermarks(dataDir, [{ topic: 'orders', partition: 0, highWatermark: 4 }]);
    const manager = await brokerOneWith(6);
    await manager.applyImage(clusterWithOrders().image);
    await manager.checkpointHighWatermarks();
    expect(readHighWatermarks(dataDir, logger)).toEqual(
      new Map([
        ['orders-0', 4],
        ['orders-1', 0],
        ['orders-2', 0],
      ]),
    );
  });
});
