// Big single-stream transfers through s3gate beside minimal streaming pass-throughs with no
// authentication (bench/lib/floor-server.mjs): without hashing, hashing PUT bodies with sha256
// on the main thread, and hashing them in a worker thread; all against the bench's nginx
// upstream. What Node's socket I/O alone allows here, and what moving the hash off the main
// thread would buy.
//   node bench/floor-big.mjs            (env MIB, default 512; REPS, default 2)
// Prints MiB/s and the proxy's CPU % for an UNSIGNED-PAYLOAD PUT and a presigned GET.
import { mkdirSync, mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { installCleanup, freePort, start, stop, waitForPort, cpuOf } from './lib/procs.mjs';
import { ROOT, BUCKET, findNginx, upstreamConf, startNginx, startS3gate } from './lib/servers.mjs';
import { bigPut, bigGet, signHeaders, presignGet } from './lib/clients.mjs';

installCleanup(500_000);
const MIB = Number(process.env.MIB ?? 512);
const REPS = Number(process.env.REPS ?? 2);
const dir = mkdtempSync(path.join('/dev/shm', 's3gate-floor-big-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
mkdirSync(path.join(dir, 'data', BUCKET), { recursive: true });
const block = randomBytes(1 << 20);
{
  const fd = openSync(path.join(dir, 'data', BUCKET, 'big'), 'w');
  for (let i = 0; i < MIB; i++) writeSync(fd, block);
  closeSync(fd);
}
const upPort = await freePort();
const upstream = await startNginx(findNginx(console.log), dir, 'upstream', upstreamConf(dir, path.join(dir, 'data'), upPort), upPort);
const targets = [];
for (const [mode, name] of [['stream', 'pass-through'], ['stream-sha256', 'pass-through, sha256'], ['stream-sha256-worker', 'pass-through, sha256 in a worker']]) {
  const port = await freePort();
  const e = start(mode, process.execPath, [path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), mode, String(port), String(upPort)]);
  await waitForPort(port, e);
  targets.push({ name, port, pid: e.pid, stop: () => stop(e) });
}
{
  const port = await freePort();
  const g = await startS3gate(dir, port, upPort);
  targets.push({ name: 's3gate', port, pid: g.pid, stop: g.stop });
}
for (let rep = 0; rep < REPS; rep++) {
  for (const t of targets) {
    const s = await signHeaders(t.port, 'PUT', 'up', 'UNSIGNED-PAYLOAD', { 'content-length': String(MIB << 20) });
    const c0 = cpuOf([t.pid]);
    const put = await bigPut(t.port, s.path, s.headers, block, MIB);
    const c1 = cpuOf([t.pid]);
    const g = await presignGet(t.port, 'big');
    const get = await bigGet(t.port, g.path, { host: g.host }, MIB << 20);
    const c2 = cpuOf([t.pid]);
    console.log(`${t.name.padEnd(34)} PUT ${MIB} MiB UNSIGNED-PAYLOAD ${(MIB / put.seconds).toFixed(0)} MiB/s (CPU ${((100 * (c1 - c0)) / put.seconds).toFixed(0)}%), GET ${(MIB / get.seconds).toFixed(0)} MiB/s (CPU ${((100 * (c2 - c1)) / get.seconds).toFixed(0)}%)`);
  }
}
for (const t of targets) await t.stop();
await upstream.stop();
process.exit(0);
