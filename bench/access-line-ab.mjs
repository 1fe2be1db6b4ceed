// The access line of one GET, built and encoded into a Buffer as the log does, with two builds
// alternated in one process: ns per line and V8 heap bytes per line (young-generation growth,
// windows with a GC left out).
//   node bench/access-line-ab.mjs BASE/dist dist
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
const used = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
const ts = [];
for (const d of process.argv.slice(2)) ts.push({ d, f: (await import(pathToFileURL(path.resolve(d, 'listen', 'access-log.js')).href)).accessLine, ns: [], b: [] });
const f = { reqId: '1A2B3C4D0000ABCD', key: 'AKIAIOSFODNN7EXAMPLE', auth: 'v4-query', op: 'GetObject', method: 'GET', bucket: 'bench', status: 200, bytesIn: 0, bytesOut: 4096, ms: 0.35, upstream: 'nginx' };
const buf = Buffer.alloc(1 << 20);
let sink = 0;
for (let r = 0; r < 7; r++) for (const t of ts) {
  const t0 = process.hrtime.bigint(); let bytes = 0, n = 0;
  for (let j = 0; j < 500; j++) { const u0 = used(); for (let i = 0; i < 200; i++) { const l = t.f(f, 1733400000000 + i); sink += buf.write(l, 0, 'utf8'); } const u1 = used(); if (u1 > u0) { bytes += u1 - u0; n += 200; } }
  t.ns.push(Number(process.hrtime.bigint() - t0) / 100000); t.b.push(bytes / n);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const t of ts) console.log(t.d, med(t.ns).toFixed(0), 'ns per line (built and encoded)', med(t.b).toFixed(0), 'B');
