import kafkajs from 'kafkajs';
const kafka = new kafkajs.Kafka({ brokers: [process.argv[2]], logLevel: kafkajs.logLevel.NOTHING });
const p = kafka.producer(); await p.connect();
const value = Buffer.alloc(100, 'k'); const lat = [];
const t = process.hrtime.bigint();
for (let i = 0; i < 200; i++) { const t0 = process.hrtime.bigint(); await p.send({ topic: 'lat', acks: 1, messages: Array.from({ length: 1000 }, () => ({ value })) }); lat.push(Number(process.hrtime.bigint() - t0) / 1e6); }
const s = Number(process.hrtime.bigint() - t) / 1e9;
lat.sort((a, b) => a - b);
console.log('msg/s', Math.round(200000 / s), 'p50', lat[100].toFixed(1), 'p90', lat[180].toFixed(1), 'p99', lat[198].toFixed(1));
await p.disconnect();
