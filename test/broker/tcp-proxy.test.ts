// The fault harness's TCP proxy in front of a real single broker: it carries a real Kafka
// client's traffic, a cut makes requests go unanswered (a dead network, not a refusal), a heal
// lets new connections through, and a cut of one Kafka client id leaves the others alone.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { apiVersionsRequest, probeKafka } from '../support/kafka-probe.js';
import { runKcat } from '../support/kcat.js';
import { freeLoopbackPort, startProxy, type TcpProxy } from '../support/tcp-proxy.js';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A broker that advertises the proxy's address, so every connection a client makes goes through it. */
async function brokerBehindProxy(identifyKafkaClient = false): Promise<{ broker: BrokerProcess; proxy: TcpProxy }> {
  const brokerPort = await freeLoopbackPort();
  const proxy = await startProxy({ target: { host: '127.0.0.1', port: brokerPort }, identifyKafkaClient });
  cleanups.push(() => proxy.close());
  const broker = await startBroker({
    listeners: `PLAINTEXT=127.0.0.1:${brokerPort}`,
    args: ['--advertised-listeners', `PLAINTEXT=${proxy.address}`],
  });
  cleanups.push(() => broker.dispose());
  return { broker, proxy };
}

describe('tcp proxy', () => {
  it('carries kcat produce and consume through to the broker', async () => {
    const { proxy } = await brokerBehindProxy();
    const produced = await runKcat(['-b', proxy.address, '-P', '-t', 'through-proxy'], { input: 'one\ntwo\n' });
    expect(produced.exitCode, produced.stderr).toBe(0);
    const consumed = await runKcat(['-b', proxy.address, '-C', '-t', 'through-proxy', '-o', 'beginning', '-e', '-q']);
    expect(consumed.stdout).toBe('one\ntwo\n');
  });

  it('leaves requests unanswered while cut, without refusing or closing, and forwards new connections after heal', async () => {
    const { proxy } = await brokerBehindProxy();
    expect(await probeKafka(proxy.address, 'probe')).toBe('answered');

    proxy.cut();
    expect(await probeKafka(proxy.address, 'probe')).toBe('no answer');
    const metadata = await runKcat(['-b', proxy.address, '-L', '-m', '2']);
    expect(metadata.exitCode).not.toBe(0);
    expect(metadata.stderr).not.toMatch(/refused/i);
    expect(metadata.stdout).not.toMatch(/broker \d+ at/);

    proxy.heal();
    expect(await probeKafka(proxy.address, 'probe')).toBe('answered');
    const healed = await runKcat(['-b', proxy.address, '-L', '-m', '10']);
    expect(healed.exitCode, healed.stderr).toBe(0);
    expect(healed.stdout).toContain(`broker 0 at ${proxy.address}`);
  });

  it('destroys connections that are open when the cut comes', async () => {
    const { proxy } = await brokerBehindProxy();
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    // Forwarded once its first bytes are through; an answer proves the link is up before the cut.
    socket.write(apiVersionsRequest('probe'));
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    proxy.cut();
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it('cuts only the connections whose first request names the cut client id', async () => {
    const { proxy } = await brokerBehindProxy(true);
    proxy.cut('klab-broker-1');
    expect(await probeKafka(proxy.address, 'klab-broker-1')).toBe('no answer');
    expect(await probeKafka(proxy.address, 'klab-broker-2')).toBe('answered');
    proxy.heal('klab-broker-1');
    expect(await probeKafka(proxy.address, 'klab-broker-1')).toBe('answered');
  });
});
