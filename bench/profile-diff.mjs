// Where C − N lives: CPU-profiles s3gate (C) and the undici floor (N) against the same nginx
// upstream, serving the same N requests at c=64, and prints sampled µs per request side by side,
// by origin (node internals, undici, each s3gate folder, GC, native) and by function.
//   node bench/profile-diff.mjs      env: METHOD (GET|PUT), N (20000), TOP (25), DIST (a build), C (64: connections)
// The absolute µs move with the machine's load; the split does not move much, and it is the
// split that says which stage to work on.
import { openSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, waitForPort, stop } from './lib/procs.mjs';
import { ROOT, scratchUpstream, startS3gate, DIST } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';
import { summarizeProfile } from './lib/profile.mjs';

installCleanup(600_000);
const N = Number(process.env.N ?? 20000);
const M = process.env.METHOD ?? 'GET';
const TOP = Number(process.env.TOP ?? 25);
const CONNS = Number(process.env.C ?? 64);
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-pd-');
const small = smallObject(bucketDir);

async function profiled(name) {
  const port = await freePort();
  const profDir = path.join(dir, `prof-${name}`);
  let t;
  if (name === 'C') {
    t = await startS3gate(dir, port, upPort, { cpuProfDir: profDir, tag: 'gwprof', dist: process.env.DIST ? path.resolve(process.env.DIST) : DIST });
  } else {
    const e = start('N', process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), 'undici', String(port), String(upPort)], { stdout: openSync(path.join(dir, 'n.log'), 'a') });
    await waitForPort(port, e);
    t = { ...e, stop: () => stop(e, 15_000) };
  }
  const reqs = await smallRequests(port, small);
  await load(port, reqs[M], { connections: CONNS, amount: 5000 });
  const r = await load(port, reqs[M], { connections: CONNS, amount: N });
  await t.stop();
  const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
  return { s: summarizeProfile(path.join(profDir, f), 400), requests: r.requests + 5000 };
}

const res = { C: await profiled('C'), N: await profiled('N') };
await upstream.stop();
const per = (side, key, name) => {
  const e = res[side].s[key].find((x) => x.name === name);
  return e ? (e.ms * 1000) / res[side].requests : 0;
};
for (const key of ['origins', 'functions']) {
  const names = new Set([...res.C.s[key], ...res.N.s[key]].map((x) => x.name));
  const rows = [...names].map((n) => ({ n, c: per('C', key, n), nn: per('N', key, n) })).sort((a, b) => Math.abs(b.c - b.nn) - Math.abs(a.c - a.nn));
  console.log(`\n${M} at c=${CONNS}, µs per request by ${key}: C, N, C − N`);
  for (const r of rows.slice(0, key === 'origins' ? 30 : TOP)) console.log(`${r.c.toFixed(2).padStart(8)} ${r.nn.toFixed(2).padStart(8)} ${(r.c - r.nn).toFixed(2).padStart(8)}  ${r.n}`);
}
const busy = (side) => (res[side].s.busyMs * 1000) / res[side].requests;
console.log(`\nbusy µs per request (sampled, includes start-up): C ${busy('C').toFixed(1)}, N ${busy('N').toFixed(1)}, C − N ${(busy('C') - busy('N')).toFixed(1)}`);
process.exit(0);
