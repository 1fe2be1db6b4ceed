// Quick loop for optimising: CPU µs per 4 KiB request of s3gate (and, for reference, of the
// nginx proxy and of a bare Node pass-through), against the bench's nginx upstream.
//   node bench/quick.mjs [gw|nginx|node ...]   (env N=requests at c=64, N1=requests at c=1)
// Prints req/s and CPU µs/request for GET and PUT at c=64 and c=1. Not a replacement for
// `npm run bench` (no rounds, no spread): it answers "did this change move CPU per request".
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { installCleanup, freePort, cpuOf } from './lib/procs.mjs';
import { BUCKET, findNginx, upstreamConf, proxyConf, startNginx, startNodeProxy, startS3gate } from './lib/servers.mjs';
import { load, presignGet, signHeaders } from './lib/clients.mjs';

installCleanup(300_000);
const N = Number(process.env.N ?? 20000);
const N1 = Number(process.env.N1 ?? 3000);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];
const dir = mkdtempSync(path.join('/dev/shm', 's3gate-quick-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
mkdirSync(path.join(dir, 'data', BUCKET), { recursive: true });
const small = randomBytes(4096);
writeFileSync(path.join(dir, 'data', BUCKET, 'obj-4k'), small);
const sha = createHash('sha256').update(small).digest('hex');
const nginx = findNginx(console.log);
const upPort = await freePort();
const upstream = await startNginx(nginx, dir, 'upstream', upstreamConf(dir, path.join(dir, 'data'), upPort), upPort);
const targets = {};
for (const w of which) {
  const port = await freePort();
  if (w === 'gw') targets.gw = await startS3gate(dir, port, upPort);
  else if (w === 'nginx') targets.nginx = await startNginx(nginx, dir, 'proxy', proxyConf(dir, port, upPort), port);
  else if (w === 'node') targets.node = await startNodeProxy(port, upPort);
  targets[w].port = port;
}
for (const [name, t] of Object.entries(targets)) {
  const g = await presignGet(t.port, 'obj-4k');
  const get = { method: 'GET', path: g.path, headers: { host: g.host } };
  const s = await signHeaders(t.port, 'PUT', 'put-4k', sha);
  const put = { method: 'PUT', path: s.path, headers: s.headers, body: small };
  await load(t.port, get, { connections: 64, amount: 3000 });
  await load(t.port, put, { connections: 64, amount: 3000 });
  for (const [label, req, c, n] of [['GET c=64', get, 64, N], ['PUT c=64', put, 64, N], ['GET c=1', get, 1, N1], ['PUT c=1', put, 1, N1]]) {
    const c0 = cpuOf(t.cpuPids);
    const u0 = cpuOf(upstream.cpuPids);
    const r = await load(t.port, req, { connections: c, amount: n });
    const us = ((cpuOf(t.cpuPids) - c0) * 1e6) / r.requests;
    const uus = ((cpuOf(upstream.cpuPids) - u0) * 1e6) / r.requests;
    console.log(`${name.padEnd(6)} ${label}: ${Math.round(r.rps)} req/s, ${us.toFixed(1)} µs CPU/req (upstream ${uus.toFixed(1)}), p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms${r.non2xx ? ` non2xx=${r.non2xx}` : ''}`);
  }
}
for (const t of Object.values(targets)) await t.stop();
await upstream.stop();
process.exit(0);
