// Profiles s3gate serving 4 KiB presigned GETs at concurrency 1 against a minimal upstream:
// `node bench/profile-c1.mjs` writes a .cpuprofile and prints the top self-time functions.
import http from 'node:http';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { presignGet, load } from './lib/clients.mjs';
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
const req = await presignGet(gwPort, 'k');
const connections = Number(process.env.C ?? 1);
const r = await load(gwPort, { method: 'GET', path: req.path, headers: { host: req.host } }, { connections, duration: 5 });
console.log(`c=${connections}: ${Math.round(r.rps ?? r.requests?.average ?? 0)} req/s`, JSON.stringify(r).slice(0, 300));
await gw.stop();
up.close();
const prof = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (prof) {
  const s = summarizeProfile(path.join(dir, prof), 25);
  writeFileSync('/tmp/prof/summary.json', JSON.stringify(s, null, 1));
  console.log(JSON.stringify(s, null, 1).slice(0, 6000));
}
process.exit(0);
