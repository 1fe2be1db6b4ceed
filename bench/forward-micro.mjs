// CPU per exchange of s3gate's forward stage alone (undici dispatch, the handler, the answer read
// whole), two builds alternated in one process against one upstream process answering 4 KiB:
//   node bench/forward-micro.mjs DIST_A DIST_B     env: N (requests per round, 20000), ROUNDS (7), C (16)
// What the two builds' forward.js cost beside each other, with the client's side of the gateway
// (pipeline, signing, the client connection) out of the picture. Also the bytes V8 allocates per
// exchange (young-generation growth between looks every 256 exchanges, windows with a
// scavenge left out), which does not move with the machine's load.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';

const N = Number(process.env.N ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const C = Number(process.env.C ?? 16);
const dists = process.argv.slice(2);
const up = spawn(process.execPath, ['-e', `
  const body = Buffer.alloc(4096, 7);
  const s = require('node:http').createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream', etag: '"x"', 'x-amz-request-id': 'R1', 'last-modified': new Date(0).toUTCString() });
      res.end(body);
    });
  });
  s.keepAliveTimeout = 60000;
  s.listen(0, '127.0.0.1', () => console.log(s.address().port));`], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((r) => up.stdout.once('data', (d) => r(Number(String(d)))));
const origin = `http://127.0.0.1:${port}`;
const targets = [];
for (const d of dists) {
  const mod = await import(pathToFileURL(path.resolve(d, 'forward', 'forward.js')).href);
  const { RequestCancel } = await import(pathToFileURL(path.resolve(d, 'forward', 'cancel.js')).href);
  // a fresh Upstream object per build: each gets its own dispatcher
  const upstream = { name: 'u', retries: 0, timeouts: { headers: 30000, body: 30000, connect: 5000 }, profile: {}, endpoint: { host: `127.0.0.1:${port}` } };
  targets.push({ d, mod, RequestCancel, upstream, us: [], bytes: 0, counted: 0 });
}
const headers = { host: `127.0.0.1:${port}`, 'x-amz-date': '20261205T000000Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', authorization: 'AWS4-HMAC-SHA256 Credential=x' };
function newSpaceUsed() {
  for (const sp of getHeapSpaceStatistics()) if (sp.space_name === 'new_space') return sp.space_used_size;
  return 0;
}
async function run(t, n) {
  let next = 0;
  const observer = { duration() {}, error() {}, retry() {} };
  let done = 0;
  let last = newSpaceUsed();
  const worker = async () => {
    while (next++ < n) {
      if (++done % 256 === 0) {
        const now = newSpaceUsed();
        if (now > last) {
          t.bytes += now - last;
          t.counted += 256;
        }
        last = newSpaceUsed();
      }
      const r = await t.mod.forward(t.upstream, { origin, path: '/b/k', method: 'GET', query: [] }, headers, null, new t.RequestCancel(), observer);
      if (r.status !== 200 || r.buffer?.length !== 4096) throw new Error(`answer ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
}
for (const t of targets) await run(t, 3000);
for (const t of targets) t.bytes = t.counted = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const t of targets) {
    const c0 = process.cpuUsage();
    await run(t, N);
    const c = process.cpuUsage(c0);
    t.us.push((c.user + c.system) / N);
  }
}
const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
for (const t of targets) console.log(`${t.d.padEnd(30)} ${med(t.us).toFixed(2)} µs CPU per exchange (${Math.min(...t.us).toFixed(1)}–${Math.max(...t.us).toFixed(1)}), ${(t.bytes / t.counted).toFixed(0)} B allocated`);
up.kill();
process.exit(0);
