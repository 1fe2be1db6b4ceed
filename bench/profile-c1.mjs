// Profiles s3gate serving 4 KiB requests against a minimal upstream: `node bench/profile-c1.mjs`
// (C=concurrency, default 1; METHOD=GET|PUT) writes a .cpuprofile and prints the top self-time functions.
import http from 'node:http';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { presignGet, load, signHeaders } from './lib/clients.mjs';
import { startS3gate } from './lib/servers.mjs';
import { freePort, installCleanup } from './lib/procs.mjs';
import { summarizeProfile } from './lib/profile.mjs';

installCleanup(120_000);
const body = Buffer.alloc(4096, 7);
const up = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream', etag: '"x"' });
    res.end(body);
  });
});
const upPort = await freePort();
await new Promise((r) => up.listen(upPort, '127.0.0.1', r));
const dir = mkdtempSync(path.join(tmpdir(), 's3gate-prof-'));
const gwPort = await freePort();
const gw = await startS3gate(dir, gwPort, upPort, { cpuProfDir: dir });
const connections = Number(process.env.C ?? 1);
const method = process.env.METHOD ?? 'GET';
let request;
if (method === 'PUT') {
  const sha = createHash('sha256').update(body).digest('hex');
  const s = await signHeaders(gwPort, 'PUT', 'k', sha);
  request = { method: 'PUT', path: s.path, headers: s.headers, body };
} else {
  const g = await presignGet(gwPort, 'k');
  request = { method: 'GET', path: g.path, headers: { host: g.host } };
}
const r = await load(gwPort, request, { connections, duration: 5 });
console.log(`c=${connections}: ${Math.round(r.rps ?? r.requests?.average ?? 0)} req/s`, JSON.stringify(r).slice(0, 300));
await gw.stop();
up.close();
const prof = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (prof) {
  const s = summarizeProfile(path.join(dir, prof), Number(process.env.TOP ?? 25));
  writeFileSync('/tmp/prof/summary.json', JSON.stringify(s, null, 1));
  console.log(JSON.stringify(s, null, 1).slice(0, 6000));
}
process.exit(0);
