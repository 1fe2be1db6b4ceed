// One request's metric updates (in-flight up and down, the request counter with four labels, two
// histograms, the bytes counter twice) with two builds' registries, alternated in one process:
// ns per request and V8 heap bytes per request (young-generation growth, windows with a GC left out).
//   node bench/metrics-ab.mjs BASE/dist dist
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
const dists = process.argv.slice(2);
const OPS = ['GetObject', 'PutObject', 'HeadObject', 'ListObjectsV2', 'DeleteObject'];
const KEYS = ['AKIAONE', 'AKIATWO'];
const ups = ['rgw', 'ceph'];
function request(m, i) {
  const operation = OPS[i % 5];
  const upstream = ups[i & 1];
  m.inflight.inc();
  m.upstreamDuration.observe({ upstream }, 0.0004 + (i % 7) * 0.0001);
  m.inflight.dec();
  m.requests.inc({ operation, status: String(200 + (i % 3)), upstream, key: KEYS[i & 1] });
  m.duration.observe({ operation }, 0.0008 + (i % 11) * 0.0001);
  m.bytes.inc({ direction: 'out', upstream }, 4096);
  m.bytes.inc({ direction: 'in', upstream }, 4096);
}
const used = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
const ts = [];
for (const d of dists) { const { Metrics } = await import(pathToFileURL(path.resolve(d, 'metrics', 'metrics.js')).href); ts.push({ d, m: new Metrics(), ns: [], b: [] }); }
for (let r = 0; r < 7; r++) for (const t of ts) {
  const t0 = process.hrtime.bigint();
  let bytes = 0, n = 0;
  for (let j = 0; j < 1000; j++) { const u0 = used(); for (let i = 0; i < 200; i++) request(t.m, i); const u1 = used(); if (u1 > u0) { bytes += u1 - u0; n += 200; } }
  t.ns.push(Number(process.hrtime.bigint() - t0) / 200000); t.b.push(bytes / n);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const t of ts) console.log(t.d, med(t.ns).toFixed(0), 'ns/request', med(t.b).toFixed(0), 'B/request');
