// Would hashing a signed body off the main thread speed up big PUTs? 512 MiB PUTs through a
// pass-through that hashes on the main thread, in a worker, or not at all, 3 rounds:
//   node bench/hash-offload.mjs
// (docs/performance.md: measured, not adopted.)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { installCleanup, freePort, start, stop, waitForPort, cpuOf } from './lib/procs.mjs';
import { ROOT, BUCKET, findNginx, upstreamConf, startNginx } from './lib/servers.mjs';
import { bigPut } from './lib/clients.mjs';
installCleanup(400_000);
const MIB = 512;
const dir = mkdtempSync(path.join('/dev/shm', 's3gate-hash-offload-'));
mkdirSync(path.join(dir, 'data', BUCKET), { recursive: true });
const block = randomBytes(1 << 20);
const upPort = await freePort();
const upstream = await startNginx(findNginx(console.log), dir, 'upstream', upstreamConf(dir, path.join(dir, 'data'), upPort), upPort);
const ts = [];
for (const mode of ['none', 'main', 'worker']) {
  const port = await freePort();
  const e = start(mode, process.execPath, [path.join(ROOT, 'bench', 'lib', 'hash-offload-server.mjs'), mode, String(port), String(upPort)]);
  await waitForPort(port, e);
  ts.push({ mode, port, e });
}
for (let r = 0; r < 3; r++) for (const t of ts) {
  const c0 = cpuOf([t.e.pid]);
  const x = await bigPut(t.port, `/${BUCKET}/up`, { 'content-length': String(MIB << 20) }, block, MIB);
  console.log(`${t.mode}: ${(MIB / x.seconds).toFixed(0)} MiB/s cpu ${(100 * (cpuOf([t.e.pid]) - c0) / x.seconds).toFixed(0)}%`);
}
for (const t of ts) await stop(t.e);
await upstream.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
