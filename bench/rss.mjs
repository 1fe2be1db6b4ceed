// Peak RSS of s3gate streaming big objects, each variant in a fresh process: first on its own,
// then after a burst of small requests (which grows V8's young generation). The comparison loop
// for memory, as bench/quick.mjs is for CPU; `npm run bench` gives the figures of record.
//   node bench/rss.mjs [gw[:DIST_DIR][@NODE_BINARY][+NODE_FLAG,...][%ENV=VALUE,...] ...]
//   env: MIB (object size, 1024), N (small requests of each method at c=64, 20000), GAP (seconds
//   of quiet between the small requests and the transfers after them, 0; npm run bench's workers
//   round leaves the first gateway idle for minutes there)
import { closeSync, openSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { installCleanup, freePort, memStatus, resetPeak, cpuSeconds } from './lib/procs.mjs';
import { gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { bigGet, bigPut, load, presignGet, signHeaders, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(1_200_000);
const MIB = Number(process.env.MIB ?? 1024);
const N = Number(process.env.N ?? 20000);
const GAP = Number(process.env.GAP ?? 0);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-rss-');
const block = randomBytes(2 ** 20);
const fd = openSync(path.join(bucketDir, 'big'), 'w');
for (let i = 0; i < MIB; i++) writeSync(fd, block);
closeSync(fd);
const h = createHash('sha256');
for (let i = 0; i < MIB; i++) h.update(block);
const bigHash = h.digest('hex');
// The GETs of the small-request burst read obj-4k (before the fifth round it was never written,
// so those GETs were 404s).
const small = smallObject(bucketDir);

async function peakOf(gw, run) {
  resetPeak(gw.pid);
  const before = memStatus(gw.pid).rss;
  await gw.probeRss();
  const cpu0 = cpuSeconds(gw.pid);
  const r = await run();
  const cpu = cpuSeconds(gw.pid) - cpu0;
  await gw.probeRss();
  const parts = Object.entries(gw.lastProbe.atPeak).filter(([, v]) => v >= 1).map(([k, v]) => `${k} ${v}`).join(', ');
  const rate = MIB / r.seconds;
  return `${memStatus(gw.pid).hwm.toFixed(0)} (from ${before.toFixed(0)}; ${rate.toFixed(0)} MiB/s, ${((cpu * 1024) / MIB).toFixed(2)} CPU s/GiB; at the peak: ${parts})`;
}

for (const [i, w] of which.entries()) {
  const port = await freePort();
  const opts = { tag: `gw${i}`, ...gatewayVariant(w) };
  const gw = await startS3gate(dir, port, upPort, opts);
  const put = await signHeaders(port, 'PUT', 'big-put', bigHash, { 'content-length': String(MIB * 2 ** 20) });
  const get = await presignGet(port, 'big');
  const bigs = async () => [
    await peakOf(gw, () => bigPut(port, put.path, put.headers, block, MIB)),
    await peakOf(gw, () => bigGet(port, get.path, { host: get.host }, MIB * 2 ** 20)),
  ];
  await new Promise((r) => setTimeout(r, 2000)); // past start-up
  const start = memStatus(gw.pid).rss;
  const fresh = await bigs();
  const reqs = await smallRequests(port, small);
  for (const m of ['PUT', 'GET']) {
    const r = await load(port, reqs[m], { connections: 64, amount: N });
    if (r.non2xx || r.errors) throw new Error(`${w} ${m}: ${r.non2xx} non-2xx answers, ${r.errors} errors of ${r.requests}`);
  }
  if (GAP) await new Promise((r) => setTimeout(r, GAP * 1000));
  const afterSmall = memStatus(gw.pid).rss;
  const loaded = await bigs();
  // V8's memory reducer starts 8 s after activity ends
  await new Promise((r) => setTimeout(r, 20_000));
  const idle = memStatus(gw.pid).rss;
  console.log(`${w}: RSS MiB at start ${start.toFixed(0)}; fresh: ${MIB} MiB PUT peak ${fresh[0]}, GET peak ${fresh[1]}; ` +
    `after ${N} small PUTs and GETs${GAP ? ` and ${GAP} s` : ''} ${afterSmall.toFixed(0)}: PUT peak ${loaded[0]}, GET peak ${loaded[1]}; idle 20 s later ${idle.toFixed(0)}`);
  await gw.stop();
}
await upstream.stop();
process.exit(0);
