// Broker throughput and latency, printed as figures (never asserted): starts the bundled
// broker (run `node scripts/build.mjs` first) on loopback with a fresh data dir, with the
// Node flags its shebang names (as every launcher does), then
//   kcat:    1,000,000 × 100 B and 200,000 × 1 KiB records, acks=1 and acks=-1
//            (-X linger.ms=5 -X batch.num.messages=10000), and a full `-C -e` read-back;
//   kafkajs: 1,000 records per send, acks=1 and acks=-1, and a consumer-group read-back;
//   cluster: three brokers on loopback (replication factor 3, min.insync.replicas 2), kcat
//            1,000,000 × 100 B acks=all to 1 and 6 partitions, their read-back, and kafkajs
//            acks=-1 to 1 and 6 partitions; each row with its share of the single broker's
//            rate for the same kcat workload measured earlier in the same run.
// A kcat run lasts about half a second, so on a shared 2-core machine one run says little:
// each kcat case runs five times (a fresh topic each) and prints the median with the range.
// Produce latency p50/p99 comes from the broker's own request-duration histogram (kcat
// runs) and from each kafkajs send() round trip; kcat runs also print the broker's CPU time
// per run (Linux), steadier than throughput on a machine shared with other work.
// Usage: node bench/broker.mjs [--quick] [--only kcat|kafkajs|cluster]   (--quick: a tenth, once)
// Environment: KLAB_BENCH_BROKER=path runs another bundle (to compare builds side by side);
// KLAB_BENCH_CPU_PROF=dir writes the broker's CPU profile there.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const quick = process.argv.includes('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const scale = quick ? 0.1 : 1;
const kcatRuns = quick ? 1 : 5;
const consumeRuns = quick ? 1 : 3;

/** The Node flags a bundle's `#!/usr/bin/env -S node …` line asks for. */
async function shebangNodeFlags(bundle) {
  const firstLine = (await readFile(bundle, 'utf8')).slice(0, 200).split('\n', 1)[0];
  return /^#!\/usr\/bin\/env -S node (.+)$/.exec(firstLine)?.[1].trim().split(/\s+/) ?? [];
}

async function startBroker(dataDir, brokerArgs = [], { nodeId = 0, listen = ['--listen', '127.0.0.1:0'] } = {}) {
  const bundle = process.env.KLAB_BENCH_BROKER ?? path.join(root, 'dist/klab-broker.js');
  const child = spawn(process.execPath, [
    ...(await shebangNodeFlags(bundle)),
    ...(process.env.KLAB_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KLAB_BENCH_CPU_PROF}`] : []),
    bundle,
    '--node-id', String(nodeId), ...listen, '--data-dir', dataDir, '--metrics', '127.0.0.1:0',
    ...brokerArgs,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  const ports = await new Promise((resolve, reject) => {
    const untilListening = (text) => {
      log += text;
      const kafka = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      const metrics = /metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (!kafka || !metrics) return;
      child.stderr.off('data', untilListening).resume();
      resolve({ kafka: Number(kafka[1]), metrics: Number(metrics[1]) });
    };
    child.stderr.on('data', untilListening);
    child.once('exit', (code) => reject(new Error(`broker exited ${code}: ${log}`)));
  });
  await untilReady(ports.metrics);
  return { child, ...ports, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

/** Polls /readyz until the broker says it is registered and caught up (a cluster member may take a moment). */
async function untilReady(metricsPort) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((response) => response.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`broker on metrics port ${metricsPort} not ready within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Three brokers on loopback, every one a voter, as the StatefulSet runs them. */
async function startCluster(workDir, brokerArgs) {
  const ids = [0, 1, 2];
  const kafkaPorts = await Promise.all(ids.map(freePort));
  const controllerPorts = await Promise.all(ids.map(freePort));
  const voters = ids.map((id) => `${id}@127.0.0.1:${controllerPorts[id]}`).join(',');
  const brokers = await Promise.all(
    ids.map((id) =>
      startBroker(path.join(workDir, `cluster-${id}`), ['--cluster-id', 'bench', '--voters', voters, '--controller-listen', `127.0.0.1:${controllerPorts[id]}`, ...brokerArgs], {
        nodeId: id,
        listen: ['--listen', `127.0.0.1:${kafkaPorts[id]}`],
      }),
    ),
  );
  return { brokers, bootstrap: brokers.map((broker) => `127.0.0.1:${broker.kafka}`).join(','), stop: () => Promise.all(brokers.map((broker) => broker.stop())) };
}

/** Summed CPU seconds of several broker processes. */
async function clusterCpuSeconds(brokers) {
  let total = 0;
  for (const broker of brokers) total += await brokerCpuSeconds(broker.child.pid);
  return total;
}

/**
 * Runs a command to completion and times it. `stdoutFile` takes what it prints: a consumer's
 * output goes to a file rather than through this process, whose reading would compete with
 * kcat for the same two cores and be timed with it.
 */
async function run(command, args, { stdoutFile = null } = {}) {
  const output = stdoutFile ? await open(stdoutFile, 'w') : null;
  try {
    return await new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(command, args, { stdio: ['ignore', output ? output.fd : 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.once('exit', (code) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
        else resolve({ seconds });
      });
    });
  } finally {
    await output?.close();
  }
}

async function countLines(file) {
  let lines = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  return lines;
}

async function writeInput(file, count, size) {
  const stream = createWriteStream(file);
  const line = (i) => `${String(i).padStart(12, '0')}${'x'.repeat(size - 13)}\n`;
  const perChunk = 10_000;
  for (let i = 0; i < count; i += perChunk) {
    let chunk = '';
    for (let j = i; j < Math.min(count, i + perChunk); j++) chunk += line(j);
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

/** Produce-latency histogram snapshot from /metrics: cumulative counts per bucket bound. */
async function produceHistogram(metricsPort) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const buckets = new Map();
  for (const match of text.matchAll(/^klab_broker_request_duration_seconds_bucket\{([^}]*)\} (\d+)$/gm)) {
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    if (labels.api !== 'Produce') continue;
    buckets.set(labels.le === '+Inf' ? Infinity : Number(labels.le), Number(match[2]));
  }
  return buckets;
}

function histogramQuantile(before, after, q) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total === 0) return NaN;
  for (const bound of bounds) {
    const count = (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
    if (count >= q * total) return bound * 1000;
  }
  return NaN;
}

/**
 * CPU seconds the broker process has used (Linux /proc; NaN elsewhere). On a machine shared
 * with other work, CPU per run varies far less than wall-clock throughput.
 */
async function brokerCpuSeconds(pid) {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

const cpuNote = (cpuSeconds, runs) => (Number.isNaN(cpuSeconds) ? '' : `; broker CPU ${format(cpuSeconds / runs, 2)} s per run`);

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const format = (value, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const range = (values) => `${format(Math.min(...values), 2)}–${format(Math.max(...values), 2)} s`;

/** msg/s of each single-broker kcat row of this run, for the cluster rows' share. */
const singleNodeRates = new Map();

const kcatCases = [
  { count: Math.round(1_000_000 * scale), size: 100 },
  { count: Math.round(200_000 * scale), size: 1024 },
];

async function benchKcat(broker, workDir, { cases = kcatCases, acksLevels = [1, -1], consume = true } = {}) {
  const bootstrap = `127.0.0.1:${broker.kafka}`;
  // Each run's topic is deleted once measured (and read back): left in place, the GBs of a
  // whole bench stay dirty in the page cache and the kernel writes them back during later
  // runs, which then measure the disk's backlog more than the broker.
  const admin = new kafkajs.Kafka({ brokers: [bootstrap], clientId: 'bench-admin', logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (const { count, size } of cases) {
      const input = path.join(workDir, `input-${size}.txt`);
      await writeInput(input, count, size);
      const mb = (count * size) / 1e6;
      for (const acks of acksLevels) {
        const topicBase = `kcat-${size}-${acks === 1 ? 'acks1' : 'acksall'}`;
        const readBack = acks === 1 && consume ? `${topicBase}-0` : null;
        const before = await produceHistogram(broker.metrics);
        const seconds = [];
        let cpuSeconds = 0;
        for (let runIndex = 0; runIndex < kcatRuns; runIndex++) {
          const topic = `${topicBase}-${runIndex}`;
          const cpuBefore = await brokerCpuSeconds(broker.child.pid);
          const produced = await run('/usr/bin/kcat', [
            '-P', '-b', bootstrap, '-t', topic, '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-X', `acks=${acks}`, '-l', input,
          ]);
          cpuSeconds += (await brokerCpuSeconds(broker.child.pid)) - cpuBefore;
          seconds.push(produced.seconds);
          if (topic !== readBack) await admin.deleteTopics({ topics: [topic] });
        }
        const after = await produceHistogram(broker.metrics);
        const typical = median(seconds);
        singleNodeRates.set(`${count}x${size} acks=${acks}`, count / typical);
        console.log(
          `kcat produce ${format(count)} × ${size} B acks=${acks}: ${format(count / typical)} msg/s, ` +
            `${format(mb / typical, 1)} MB/s (median of ${kcatRuns}: ${format(typical, 2)} s, range ${range(seconds)}); ` +
            `broker produce latency p50 ≤ ${histogramQuantile(before, after, 0.5)} ms, p99 ≤ ${histogramQuantile(before, after, 0.99)} ms` +
            cpuNote(cpuSeconds, kcatRuns),
        );
        if (!readBack) continue;
        const consumeSeconds = [];
        let consumeCpuSeconds = 0;
        const output = path.join(workDir, 'consumed.txt');
        for (let runIndex = 0; runIndex < consumeRuns; runIndex++) {
          const cpuBefore = await brokerCpuSeconds(broker.child.pid);
          const consumed = await run('/usr/bin/kcat', ['-C', '-b', bootstrap, '-t', readBack, '-o', 'beginning', '-e', '-q'], { stdoutFile: output });
          consumeCpuSeconds += (await brokerCpuSeconds(broker.child.pid)) - cpuBefore;
          const lines = await countLines(output);
          if (lines !== count) throw new Error(`kcat consumed ${lines} of ${count}`);
          consumeSeconds.push(consumed.seconds);
        }
        await rm(output);
        await admin.deleteTopics({ topics: [readBack] });
        const typicalConsume = median(consumeSeconds);
        console.log(
          `kcat consume ${format(count)} × ${size} B: ${format(count / typicalConsume)} msg/s, ` +
            `${format(mb / typicalConsume, 1)} MB/s (median of ${consumeRuns}: ${format(typicalConsume, 2)} s, range ${range(consumeSeconds)})` +
            cpuNote(consumeCpuSeconds, consumeRuns),
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
}

async function benchKafkajs(broker) {
  const kafka = new kafkajs.Kafka({ brokers: [`127.0.0.1:${broker.kafka}`], clientId: 'bench', logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  for (const size of [100, 1024]) {
    const count = Math.round((size === 100 ? 200_000 : 100_000) * scale);
    const value = Buffer.alloc(size, 'k');
    for (const acks of [1, -1]) {
      const topic = `kafkajs-${size}-${acks === 1 ? 'acks1' : 'acksall'}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const producer = kafka.producer();
      await producer.connect();
      const latencies = [];
      const histogramBefore = await produceHistogram(broker.metrics);
      const cpuBefore = await brokerCpuSeconds(broker.child.pid);
      const started = process.hrtime.bigint();
      for (let sent = 0; sent < count; sent += 1000) {
        const messages = Array.from({ length: Math.min(1000, count - sent) }, () => ({ value }));
        const t0 = process.hrtime.bigint();
        await producer.send({ topic, acks, messages });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const histogramAfter = await produceHistogram(broker.metrics);
      const cpuSeconds = (await brokerCpuSeconds(broker.child.pid)) - cpuBefore;
      await producer.disconnect();
      latencies.sort((a, b) => a - b);
      console.log(
        `kafkajs produce ${format(count)} × ${size} B acks=${acks} (1,000 per send): ${format(count / seconds)} msg/s, ` +
          `${format((count * size) / 1e6 / seconds, 1)} MB/s; send latency p50 ${format(percentile(latencies, 0.5), 1)} ms, ` +
          `p99 ${format(percentile(latencies, 0.99), 1)} ms (broker p50 ≤ ${histogramQuantile(histogramBefore, histogramAfter, 0.5)} ms, ` +
          `p99 ≤ ${histogramQuantile(histogramBefore, histogramAfter, 0.99)} ms)${cpuNote(cpuSeconds, 1)}`,
      );
      if (acks !== 1) continue;
      const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytes: 10 * 1024 * 1024, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let received = 0;
      let consumeStarted = 0n;
      await new Promise((resolve) => {
        consumer.run({
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            if (consumeStarted === 0n) consumeStarted = process.hrtime.bigint();
            received += batch.messages.length;
            if (received >= count) resolve();
          },
        });
      });
      const consumeSeconds = Number(process.hrtime.bigint() - consumeStarted) / 1e9;
      await consumer.disconnect();
      console.log(
        `kafkajs consume ${format(count)} × ${size} B: ${format(count / consumeSeconds)} msg/s, ` +
          `${format((count * size) / 1e6 / consumeSeconds, 1)} MB/s (from the first batch, after the group join)`,
      );
    }
  }
  await admin.disconnect();
}

async function benchCluster(workDir) {
  const cluster = await startCluster(workDir, kafkaFlushPolicy);
  const count = Math.round(1_000_000 * scale);
  const size = 100;
  const input = path.join(workDir, 'input-cluster.txt');
  await writeInput(input, count, size);
  const kafka = new kafkajs.Kafka({ brokers: cluster.bootstrap.split(','), clientId: 'bench-cluster', logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const share = (rate, key) => {
    const single = singleNodeRates.get(key);
    return single ? `${format(rate / single, 2)} of the single broker's ${format(single)} msg/s (${key})` : 'no single-broker row this run';
  };
  try {
    console.log(`cluster: 3 brokers, replication factor 3, min.insync.replicas 2, bootstrap ${cluster.bootstrap}`);
    for (const partitions of [1, 6]) {
      const seconds = [];
      let cpuSeconds = 0;
      for (let runIndex = 0; runIndex < kcatRuns; runIndex++) {
        const topic = `cluster-kcat-${partitions}-${runIndex}`;
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }], waitForLeaders: true });
        const cpuBefore = await clusterCpuSeconds(cluster.brokers);
        const produced = await run('/usr/bin/kcat', ['-P', '-b', cluster.bootstrap, '-t', topic, '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-X', 'acks=-1', '-l', input]);
        cpuSeconds += (await clusterCpuSeconds(cluster.brokers)) - cpuBefore;
        seconds.push(produced.seconds);
        if (runIndex > 0) await admin.deleteTopics({ topics: [topic] });
      }
      const typical = median(seconds);
      const rate = count / typical;
      console.log(
        `cluster kcat produce ${format(count)} × ${size} B acks=all, ${partitions} partition(s): ${format(rate)} msg/s ` +
          `(median of ${kcatRuns}: ${format(typical, 2)} s, range ${range(seconds)}); ${share(rate, `${count}x${size} acks=1`)}; ` +
          `${share(rate, `${count}x${size} acks=-1`)}; CPU of all three brokers ${format(cpuSeconds / kcatRuns, 2)} s per run`,
      );
      const readBack = `cluster-kcat-${partitions}-0`;
      const output = path.join(workDir, 'consumed.txt');
      const consumeSeconds = [];
      for (let runIndex = 0; runIndex < consumeRuns; runIndex++) {
        const consumed = await run('/usr/bin/kcat', ['-C', '-b', cluster.bootstrap, '-t', readBack, '-o', 'beginning', '-e', '-q'], { stdoutFile: output });
        const lines = await countLines(output);
        if (lines !== count) throw new Error(`kcat consumed ${lines} of ${count} from the cluster`);
        consumeSeconds.push(consumed.seconds);
      }
      await rm(output);
      await admin.deleteTopics({ topics: [readBack] });
      const typicalConsume = median(consumeSeconds);
      console.log(`cluster kcat consume ${format(count)} × ${size} B, ${partitions} partition(s): ${format(count / typicalConsume)} msg/s (median of ${consumeRuns}, range ${range(consumeSeconds)})`);
    }
    for (const partitions of [1, 6]) {
      const topic = `cluster-kafkajs-${partitions}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }], waitForLeaders: true });
      const producer = kafka.producer();
      await producer.connect();
      const records = Math.round(100_000 * scale);
      const value = Buffer.alloc(size, 'k');
      const started = process.hrtime.bigint();
      for (let sent = 0; sent < records; sent += 1000) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(1000, records - sent) }, () => ({ value })) });
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await producer.disconnect();
      console.log(`cluster kafkajs produce ${format(records)} × ${size} B acks=-1 (1,000 per send), ${partitions} partition(s): ${format(records / seconds)} msg/s`);
    }
  } finally {
    await admin.disconnect();
    await cluster.stop();
  }
}

// Apache Kafka, which the issue's reference figures come from, leaves flushing to the OS by
// default (log.flush.interval.ms unset): acknowledged writes are in the page cache, durable
// against a broker crash, and replication covers the machine. The comparable run starts
// klab-broker so; a last run shows the cost of its own safer default, an fsync every second.
const kafkaFlushPolicy = ['--fsync', 'interval', '--fsync-interval-ms', String(2 ** 31 - 1)];

const workDir = await mkdtemp(path.join(os.tmpdir(), 'klab-bench-'));
try {
  const broker = await startBroker(path.join(workDir, 'data'), kafkaFlushPolicy);
  try {
    console.log(
      `broker on 127.0.0.1:${broker.kafka}, flush left to the OS as in Kafka's defaults, ${os.cpus().length} cores, node ${process.version}`,
    );
    if (only === null || only === 'kcat' || only === 'cluster') {
      await benchKcat(broker, workDir, only === 'cluster' ? { cases: kcatCases.slice(0, 1), consume: false } : {});
    }
    if (only === null || only === 'kafkajs') await benchKafkajs(broker);
  } finally {
    await broker.stop();
  }
  if (only === null || only === 'cluster') await benchCluster(workDir);
  if (only === null || only === 'kcat') {
    const defaults = await startBroker(path.join(workDir, 'data-defaults'));
    try {
      console.log('broker with its default fsync=interval (every 1,000 ms):');
      await benchKcat(defaults, workDir, { cases: kcatCases.slice(0, 1), acksLevels: [1], consume: false });
    } finally {
      await defaults.stop();
    }
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}
