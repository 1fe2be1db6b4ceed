// What the metrics cost per request on the hot path: the updates one small proxied request makes
// (in-flight up and down, the request counter with its four labels, two histograms, the bytes
// counter), with s3gate's own registry (dist/metrics/metrics.js) and with prom-client's, in
// alternating rounds, plus one scrape of each after a million requests over 40 series.
//   node bench/metrics-hot-path.mjs [PROM_CLIENT_DIR]
// prom-client is not a dependency: install it there (`npm i --prefix DIR prom-client@15`), or
// here with `npm i --no-save prom-client@15`.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metrics } from '../dist/metrics/metrics.js';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const from = process.argv[2] ? path.resolve(process.argv[2], 'package.json') : path.join(ROOT, 'package.json');
const prom = createRequire(from)('prom-client');
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function promMetrics() {
  const registry = new prom.Registry();
  const r = [registry];
  return {
    registry,
    inflight: new prom.Gauge({ name: 's3gate_inflight_requests', help: 'h', registers: r }),
    requests: new prom.Counter({ name: 's3gate_requests_total', help: 'h', labelNames: ['operation', 'status', 'upstream', 'key'], registers: r }),
    duration: new prom.Histogram({ name: 's3gate_request_duration_seconds', help: 'h', labelNames: ['operation'], buckets: BUCKETS, registers: r }),
    upstreamDuration: new prom.Histogram({ name: 's3gate_upstream_duration_seconds', help: 'h', labelNames: ['upstream'], buckets: BUCKETS, registers: r }),
    bytes: new prom.Counter({ name: 's3gate_bytes_total', help: 'h', labelNames: ['direction', 'upstream'], registers: r }),
  };
}

const OPS = ['GetObject', 'PutObject', 'HeadObject', 'ListObjectsV2', 'DeleteObject'];
const KEYS = ['AKIAONE', 'AKIATWO'];
function request(m, i) {
  const operation = OPS[i % 5];
  m.inflight.inc();
  m.upstreamDuration.observe({ upstream: 'rgw' }, 0.0004 + (i % 7) * 0.0001);
  m.inflight.dec();
  m.requests.inc({ operation, status: '200', upstream: 'rgw', key: KEYS[i & 1] });
  m.duration.observe({ operation }, 0.0008 + (i % 11) * 0.0001);
  m.bytes.inc({ direction: 'out', upstream: 'rgw' }, 4096);
}

function perRequestNs(m, n) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) request(m, i);
  return Number(process.hrtime.bigint() - t) / n;
}

const targets = { s3gate: new Metrics(), 'prom-client': promMetrics() };
const N = 1_000_000;
const results = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
for (let round = 0; round < 5; round++) for (const [name, m] of Object.entries(targets)) results[name].push(perRequestNs(m, N));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`node ${process.version}, prom-client ${createRequire(from)('prom-client/package.json').version}`);
for (const [name, m] of Object.entries(targets)) {
  const t = process.hrtime.bigint();
  const text = await m.registry.metrics();
  const scrapeMs = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(`${name.padEnd(12)} ${median(results[name]).toFixed(0).padStart(5)} ns per request (rounds: ${results[name].map((x) => x.toFixed(0)).join(' ')}); scrape ${scrapeMs.toFixed(2)} ms, ${text.length} bytes`);
}
