// Where C − N lives: CPU-profiles s3gate (C) and the undici floor (N) against the same nginx
// upstream, serving the same N requests at c=64, and prints sampled µs per request side by side,
// by origin (node internals, undici, each s3gate folder, GC, native) and by function.
//   node bench/profile-diff.mjs      env: METHOD (GET|PUT), N (20000), TOP (25), DIST (a build), C (64: connections),
//   KEEP (a directory: the two .cpuprofiles are copied there, C.cpuprofile and N.cpuprofile, for
//   bench/profile-callers.mjs), INTERVAL (µs between samples, node's --cpu-prof-interval; 1000),
//   WINDOW=1 (profile the N measured requests alone, in-process: without it the profile includes
//   start-up, module loading and the warm-up, charged to "node internals" per request), CAP=1 (each
//   sample's time at most three median intervals: on a loaded machine a descheduled main thread
//   otherwise charges its wait to the frame it was in)
// The absolute µs move with the machine's load; the split does not move much, and it is the
// split that says which stage to work on.
import { copyFileSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
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
const WINDOW = process.env.WINDOW === '1';
const INTERVAL = process.env.INTERVAL ? [`--cpu-prof-interval=${process.env.INTERVAL}`] : [];
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-pd-');
const small = smallObject(bucketDir);

async function profiled(name) {
  const port = await freePort();
  const profDir = path.join(dir, `prof-${name}`);
  // WINDOW=1: the profile of the measured requests alone, taken in-process (bench/lib/cpu-window.mjs)
  const windowFile = path.join(dir, `window-${name}.cpuprofile`);
  const env = { CPU_WINDOW_FILE: windowFile, CPU_WINDOW_INTERVAL: process.env.INTERVAL ?? '1000' };
  const flags = WINDOW ? ['--import', path.join(ROOT, 'bench', 'lib', 'cpu-window.mjs')] : [...INTERVAL, '--cpu-prof', '--cpu-prof-dir', profDir];
  let t;
  if (name === 'C') {
    const dist = process.env.DIST ? path.resolve(process.env.DIST) : DIST;
    t = WINDOW
      ? await startS3gate(dir, port, upPort, { tag: 'gwprof', nodeFlags: flags, env, dist })
      : await startS3gate(dir, port, upPort, { cpuProfDir: profDir, tag: 'gwprof', nodeFlags: INTERVAL, dist });
  } else {
    const e = start('N', process.execPath, [...flags, path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), 'undici', String(port), String(upPort)], { stdout: openSync(path.join(dir, 'n.log'), 'a'), env: { ...process.env, ...env } });
    await waitForPort(port, e);
    t = { ...e, stop: () => stop(e, 15_000) };
  }
  const reqs = await smallRequests(port, small);
  await load(port, reqs[M], { connections: CONNS, amount: 5000 });
  if (WINDOW) {
    process.kill(t.pid, 'SIGWINCH');
    await new Promise((r) => setTimeout(r, 200));
  }
  const r = await load(port, reqs[M], { connections: CONNS, amount: N });
  if (WINDOW) {
    process.kill(t.pid, 'SIGWINCH');
    for (let i = 0; i < 500 && !existsSync(windowFile); i++) await new Promise((res) => setTimeout(res, 20));
    await new Promise((res) => setTimeout(res, 200));
  }
  await t.stop();
  const file = WINDOW ? windowFile : path.join(profDir, readdirSync(profDir).find((x) => x.endsWith('.cpuprofile')));
  const requests = WINDOW ? r.requests : r.requests + 5000;
  if (process.env.KEEP) {
    mkdirSync(process.env.KEEP, { recursive: true });
    copyFileSync(file, path.join(process.env.KEEP, `${name}.cpuprofile`));
    console.log(`${name}: ${requests} requests, profile in ${path.join(process.env.KEEP, `${name}.cpuprofile`)}`);
  }
  return { s: summarizeProfile(file, 400, { cap: process.env.CAP === '1' }), requests };
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
console.log(`\nbusy µs per request (sampled${WINDOW ? '' : ', includes start-up'}): C ${busy('C').toFixed(1)}, N ${busy('N').toFixed(1)}, C − N ${(busy('C') - busy('N')).toFixed(1)}`);
process.exit(0);
