// The klab-broker command line: flags and environment variables, validation errors that
// name the flag or variable (exit 2), the advertised address, the optional HTTP endpoint for
// metrics and probes — and that nothing listens beyond what is configured.
import { execa } from 'execa';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { metadataApi } from '../../broker/protocol/apis/03-metadata.js';
import { brokerScript, startBroker, type BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/broker-wire.js';

const started: BrokerProcess[] = [];

async function broker(options: Parameters<typeof startBroker>[0]): Promise<BrokerProcess> {
  const process = await startBroker(options);
  started.push(process);
  return process;
}

afterEach(async () => {
  for (const process of started.splice(0)) await process.dispose();
});

async function runBroker(args: string[], env: Record<string, string> = {}) {
  return execa(brokerScript, args, { reject: false, env, timeout: 15_000 });
}

/** TCP ports a process listens on, read from /proc (its socket fds matched against /proc/net/tcp*). */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9]!)) continue;
      ports.push(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

describe('the bundle as an executable', () => {
  it('starts through its own shebang, with the Node flags it names', async () => {
    const firstLine = (await readFile(brokerScript, 'utf8')).split('\n', 1)[0];
    expect(firstLine).toMatch(/^#!\/usr\/bin\/env -S node --initial-old-space-size=\d+$/);
    const running = await broker({});
    // env execs node in place, so the broker's own command line shows what the shebang passed.
    const commandLine = (await readFile(`/proc/${running.pid}/cmdline`, 'utf8')).split('\0');
    expect(commandLine.slice(0, 3)).toEqual([expect.stringMatching(/node$/), expect.stringMatching(/^--initial-old-space-size=/), brokerScript]);
  });
});

describe('configuration errors', () => {
  it('names the flag and what it expected, and exits 2', async () => {
    const result = await runBroker(['--node-id', '0', '--data-dir', '/tmp/x', '--fsync', 'sometimes']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--fsync="sometimes" is invalid: expected "always" .* or "interval"/);
  });

  it('refuses an fsync interval beyond what a timer can wait, rather than syncing every millisecond', async () => {
    const result = await runBroker(['--node-id', '0', '--data-dir', '/tmp/x', '--fsync-interval-ms', '3000000000']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--fsync-interval-ms="3000000000" is invalid: expected milliseconds from 1 to 2147483647/);
  });

  it('names the environment variable when the bad value came from it', async () => {
    const result = await runBroker(['--node-id', '0', '--data-dir', '/tmp/x'], { KLAB_BROKER_DEFAULT_PARTITIONS: 'zero' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/KLAB_BROKER_DEFAULT_PARTITIONS="zero" is invalid: expected an integer ≥ 1/);
  });

  it('requires --node-id and --data-dir, and rejects unknown flags and bad addresses', async () => {
    const missing = await runBroker(['--node-id', '0']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/--data-dir \(or KLAB_BROKER_DATA_DIR\) is required/);
    const unknown = await runBroker(['--node-id', '0', '--data-dir', '/tmp/x', '--replicas', '3']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/--replicas/);
    const address = await runBroker(['--node-id', '0', '--data-dir', '/tmp/x', '--listen', 'localhost']);
    expect(address.exitCode).toBe(2);
    expect(address.stderr).toMatch(/--listen="localhost" is invalid: expected host:port/);
  });
});

describe('data dir ownership', () => {
  it('refuses to start a second broker on a data dir a running broker holds', async () => {
    const first = await broker({});
    const second = await runBroker(['--node-id', '1', '--listen', '127.0.0.1:0', '--data-dir', first.dataDir]);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`in use by another klab-broker \\(pid ${first.pid} on this host\\)`));
  });
});

describe('settings from flags and environment', () => {
  it('takes settings from KLAB_BROKER_* variables', async () => {
    const node = await broker({ env: { KLAB_BROKER_DEFAULT_PARTITIONS: '5' } });
    const client = await WireClient.connect(node.port);
    try {
      const metadata = await client.request(metadataApi, 4, { topics: [{ name: 'auto' }], allowAutoTopicCreation: true });
      expect(metadata.topics[0]?.partitions).toHaveLength(5);
    } finally {
      client.destroy();
    }
  });

  it('takes the node id from a StatefulSet pod name', async () => {
    const node = await broker({ env: { KLAB_BROKER_NODE_ID: 'klab-broker-3' }, nodeIdFromEnvironment: true });
    const client = await WireClient.connect(node.port);
    try {
      const metadata = await client.request(metadataApi, 12, { topics: [] });
      expect(metadata.brokers.map((entry) => entry.nodeId)).toEqual([3]);
      expect(metadata.controllerId).toBe(3);
    } finally {
      client.destroy();
    }
  });

  it('advertises --advertise instead of the listen address', async () => {
    const node = await broker({ args: ['--advertise', 'broker-0.example.internal:31092'] });
    const client = await WireClient.connect(node.port);
    try {
      const metadata = await client.request(metadataApi, 12, { topics: [] });
      expect(metadata.brokers).toEqual([{ nodeId: 0, host: 'broker-0.example.internal', port: 31092, rack: null }]);
    } finally {
      client.destroy();
    }
  });
});

describe('listening sockets and the metrics endpoint', () => {
  it('listens only on the Kafka port without --metrics', async () => {
    const node = await broker({});
    expect(await listeningPorts(node.pid)).toEqual([node.port]);
  });

  it('serves /metrics, /healthz and /readyz on --metrics, and nothing else', async () => {
    const node = await broker({ args: ['--metrics', '127.0.0.1:0'] });
    const match = await node.waitForLog(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/);
    const metricsPort = Number(match[1]);
    expect(await listeningPorts(node.pid)).toEqual([node.port, metricsPort].sort((a, b) => a - b));

    const client = await WireClient.connect(node.port);
    await client.request(metadataApi, 12, { topics: null });
    client.destroy();

    const base = `http://127.0.0.1:${metricsPort}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toMatch(/^# TYPE klab_broker_requests_total counter$/m);
    expect(text).toMatch(/^klab_broker_requests_total\{api="Metadata"\} [1-9]\d*$/m);
    expect(text).toMatch(/^klab_broker_request_duration_seconds_bucket\{(?=[^}]*api="Metadata")(?=[^}]*le="\+Inf")[^}]*\} [1-9]/m);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('ready\n');
    expect((await fetch(`${base}/other`)).status).toBe(404);
  });
});
