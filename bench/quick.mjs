// Quick loop for optimising: CPU µs per 4 KiB request of s3gate against the bench's nginx
// upstream, beside reference points with no authentication: the nginx proxy (nginx), the
// http-proxy-3 pass-through (node), a minimal undici pass-through (undici) and a Node server
// that answers by itself (bare; see bench/lib/floor-server.mjs).
//   node bench/quick.mjs [gw[:DIST_DIR][@NODE_BINARY][+NODE_FLAG,...][%ENV=VALUE,...] | nginx | node | undici | undici-pool | nodehttp | rawclient | bare ...]
//   env: N (requests per measurement at c=64, 20000, 0 = skip), N1 (at c=1, 0 = skip), ROUNDS (3),
//   METHODS (GET,PUT: the cases to measure)
// Each line also gives the part of the CPU spent in the kernel and the minor page faults per request.
// Targets are measured in turn within each round and the median per target is printed, so two
// builds (gw and gw:other/dist) can be compared on this noisy machine in one run. Not a
// replacement for `npm run bench` (no spread, no baseline ratios): it answers "did this change
// move CPU per request". A DIST_DIR copy needs `config` beside it (a symlink will do).
import path from 'node:path';
import { installCleanup, freePort, cpuSplit, memStatus, start, stop, waitForPort } from './lib/procs.mjs';
import { ROOT, gatewayVariant, proxyConf, scratchUpstream, startNginx, startNodeProxy, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(580_000);
const N = Number(process.env.N ?? 20000);
const N1 = Number(process.env.N1 ?? 0);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];
const { dir, bucketDir, nginx, upPort, upstream } = await scratchUpstream('s3gate-quick-');
const small = smallObject(bucketDir);
const targets = [];
const FLOORS = ['undici', 'undici-pool', 'nodehttp', 'rawclient', 'bare'];
for (const [i, w] of which.entries()) {
  const port = await freePort();
  let t;
  if (w.startsWith('gw')) t = await startS3gate(dir, port, upPort, { tag: `gw${i}`, ...gatewayVariant(w) });
  else if (w === 'nginx') t = await startNginx(nginx, dir, `proxy${i}`, proxyConf(dir, port, upPort), port);
  else if (w === 'node') t = await startNodeProxy(port, upPort);
  else if (FLOORS.includes(w)) {
    const e = start(w, process.execPath, [path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), w, String(port), String(upPort)]);
    await waitForPort(port, e);
    t = { ...e, cpuPids: [e.pid], stop: () => stop(e) };
  }
  else throw new Error(`unknown target ${w}`);
  t.reqs = await smallRequests(port, small);
  await load(port, t.reqs.GET, { connections: 64, amount: 3000 });
  await load(port, t.reqs.PUT, { connections: 64, amount: 3000 });
  targets.push({ name: w, port, t, results: {} });
}
const METHODS = (process.env.METHODS ?? 'GET,PUT').split(',');
const cases = [['GET', 64, N], ['PUT', 64, N], ...(N1 ? [['GET', 1, N1], ['PUT', 1, N1]] : [])].filter(([m, , n]) => n > 0 && METHODS.includes(m));
for (let round = 0; round < ROUNDS; round++) {
  for (const [method, c, n] of cases) {
    for (const x of targets) {
      const c0 = sysUser(x.t.cpuPids);
      const r = await load(x.port, x.t.reqs[method], { connections: c, amount: n });
      const c1 = sysUser(x.t.cpuPids);
      const us = ((c1.user + c1.sys - c0.user - c0.sys) * 1e6) / r.requests;
      const sys = ((c1.sys - c0.sys) * 1e6) / r.requests;
      const flt = (c1.minflt - c0.minflt) / r.requests;
      if (r.non2xx) console.log(`${x.name} ${method}: ${r.non2xx} non-2xx answers`);
      (x.results[`${method} c=${c}`] ??= []).push({ us, sys, flt, p99: r.p99 });
    }
  }
}
function sysUser(pids) {
  const t = { user: 0, sys: 0, minflt: 0 };
  for (const p of pids) {
    try {
      const c = cpuSplit(p);
      t.user += c.user;
      t.sys += c.sys;
      t.minflt += c.minflt;
    } catch {
      /* exited */
    }
  }
  return t;
}
const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
for (const [method, c] of cases) {
  for (const x of targets) {
    const rs = x.results[`${method} c=${c}`];
    const us = rs.map((r) => r.us);
    console.log(`${x.name.padEnd(24)} ${method} c=${c}: ${med(us).toFixed(1)} µs CPU/req (${Math.min(...us).toFixed(0)}–${Math.max(...us).toFixed(0)}; in the kernel ${med(rs.map((r) => r.sys)).toFixed(1)}; ${med(rs.map((r) => r.flt)).toFixed(2)} page faults), p99 ${med(rs.map((r) => r.p99)).toFixed(2)} ms`);
  }
}
for (const x of targets) {
  const m = memStatus(x.t.pid);
  console.log(`${x.name.padEnd(24)} RSS now ${m.rss.toFixed(0)} MiB, peak ${m.hwm.toFixed(0)} MiB`);
}
for (const x of targets) await x.t.stop();
await upstream.stop();
process.exit(0);
