// Named listeners: one broker serving two listeners (as a StatefulSet pod serves INTERNAL for
// clients inside the cluster and EXTERNAL for those outside), each telling its clients the
// address advertised for that same listener — in Metadata and FindCoordinator, to a raw wire
// client and to kcat — and DescribeConfigs listing them all.
import { execa } from 'execa';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { findCoordinatorApi } from '../../broker/protocol/apis/10-find-coordinator.js';
import { describeConfigsApi } from '../../broker/protocol/apis/32-describe-configs.js';
import { brokerScript, startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';
import { runKcat } from '../support/kcat.js';

/** A port nothing listens on right now, for a listener whose advertised port must be known up front. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let broker: BrokerProcess;
let internalPort: number;
let externalPort: number;
// Different hosts and ports, both reachable from here: what each listener tells its clients.
const advertised = () => ({
  INTERNAL: { host: 'localhost', port: internalPort },
  EXTERNAL: { host: '127.0.0.1', port: externalPort },
});

beforeAll(async () => {
  internalPort = await freePort();
  externalPort = await freePort();
  broker = await startBroker({
    listeners: `INTERNAL=127.0.0.1:${internalPort},EXTERNAL=127.0.0.1:${externalPort}`,
    args: ['--advertised-listeners', `INTERNAL=localhost:${internalPort},EXTERNAL=127.0.0.1:${externalPort}`],
  });
});

afterAll(async () => {
  await broker?.dispose();
});

async function withClient<T>(port: number, use: (client: WireClient) => Promise<T>): Promise<T> {
  const client = await WireClient.connect(port);
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

describe('a broker with two listeners', () => {
  it('listens on both', async () => {
    expect(broker.port).toBe(internalPort);
    await broker.waitForLog(new RegExp(`listening on 127\\.0\\.0\\.1:${externalPort} \\(listener EXTERNAL\\)`));
  });

  for (const listener of ['INTERNAL', 'EXTERNAL'] as const) {
    it(`answers Metadata and FindCoordinator on ${listener} with ${listener}'s advertised address`, async () => {
      const { host, port } = advertised()[listener];
      const bound = listener === 'INTERNAL' ? internalPort : externalPort;
      await withClient(bound, async (client) => {
        const metadata = await client.request(metadataApi, 12, { topics: null });
        expect(metadata.brokers).toEqual([{ nodeId: 0, host, port, rack: null }]);
        const coordinator = await client.request(findCoordinatorApi, 4, { keyType: 0, coordinatorKeys: ['listener-group'] });
        expect(coordinator.coordinators).toEqual([
          expect.objectContaining({ key: 'listener-group', errorCode: 0, nodeId: 0, host, port }),
        ]);
      });
    });

    it(`tells kcat on ${listener} that broker 0 is at ${listener}'s advertised address`, async () => {
      const { host, port } = advertised()[listener];
      const bound = listener === 'INTERNAL' ? internalPort : externalPort;
      const result = await runKcat(['-b', `127.0.0.1:${bound}`, '-L', '-J']);
      expect(result.exitCode, result.stderr).toBe(0);
      const metadata = JSON.parse(result.stdout) as { brokers: Array<{ id: number; name: string }>; controllerid: number };
      expect(metadata.brokers).toEqual([{ id: 0, name: `${host}:${port}` }]);
      expect(metadata.controllerid).toBe(0);
    });
  }

  it('lists every listener and advertised listener in DescribeConfigs', async () => {
    const described = await withClient(externalPort, (client) =>
      client.request(describeConfigsApi, 1, {
        resources: [{ resourceType: 4, resourceName: '0', configurationKeys: ['listeners', 'advertised.listeners', 'inter.broker.listener.name'] }],
        includeSynonyms: false,
      }),
    );
    const entries = Object.fromEntries(described.results[0]!.configs.map((entry) => [entry.name, entry.value]));
    expect(entries).toEqual({
      listeners: `INTERNAL://127.0.0.1:${internalPort},EXTERNAL://127.0.0.1:${externalPort}`,
      'advertised.listeners': `INTERNAL://localhost:${internalPort},EXTERNAL://127.0.0.1:${externalPort}`,
      'inter.broker.listener.name': 'INTERNAL',
    });
  });
});

describe('listener configuration errors', () => {
  it('stop the broker before it listens, naming the flag, and exit 2', async () => {
    const result = await execa(
      brokerScript,
      ['--node-id', '0', '--data-dir', '/tmp/x', '--listeners', 'INTERNAL=127.0.0.1:0', '--advertised-listeners', 'EXTERNAL=203.0.113.7:30094'],
      { reject: false, env: {}, timeout: 15_000 },
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--advertised-listeners names listener EXTERNAL, which is not defined \(listeners: INTERNAL\)/);
  });
});
