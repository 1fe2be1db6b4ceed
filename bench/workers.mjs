// The workers round: 4 KiB GETs and PUTs at c=64 through s3gate with one worker and with two
// (the kernel spreading connections over SO_REUSEPORT sockets, and node:cluster's primary handing
// them out), beside nginx with one and two worker processes, against the bench's nginx upstream.
//   node bench/workers.mjs [target ...]     targets: gw1 gw2 gw2-primary nginx1 nginx2 (all by default)
//   env: DURATION (seconds per measurement, 5), ROUNDS (3), BENCH_CHART (write the SVG chart there)
// Targets are measured in turn within each round; each line gives the median of the rounds:
// requests per second, CPU µs per request of the target's own processes (a primary and its
// workers, nginx's master and workers), and the load generator's CPU per request, which runs in
// this process on the same cores: what it takes is what the targets cannot have.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, cpuSplit, freePort } from './lib/procs.mjs';
import { proxyConf, scratchUpstream, startNginx, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';
import { workersChart } from './lib/chart.mjs';
import { writeFileSync } from 'node:fs';

installCleanup(1_500_000);
// A duration, not a request count: autocannon ends a counted run on its next 1 s tick, which
// rounds the rate to whole seconds.
const DURATION = Number(process.env.DURATION ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ALL = ['gw1', 'gw2', 'gw2-primary', 'nginx1', 'nginx2'];
const which = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
const { dir, bucketDir, nginx, upPort } = await scratchUpstream('s3gate-workers-');
const small = smallObject(bucketDir);

async function startTarget(name, port) {
  if (name === 'gw1') return startS3gate(dir, port, upPort, { tag: name });
  if (name === 'gw2') return startS3gate(dir, port, upPort, { tag: name, env: { S3GATE_WORKERS: '2' } });
  if (name === 'gw2-primary') return startS3gate(dir, port, upPort, { tag: name, env: { S3GATE_WORKERS: '2', S3GATE_ACCEPT: 'primary' } });
  const m = /^nginx(\d)$/.exec(name);
  if (m) return startNginx(nginx, dir, `proxy-${name}`, proxyConf(dir, port, upPort, Number(m[1])).replace(/proxy-access\.log/, `proxy-${name}-access.log`), port, Number(m[1]));
  throw new Error(`unknown target ${name}`);
}

const targets = [];
for (const name of which) {
  const port = await freePort();
  const t = await startTarget(name, port);
  const reqs = await smallRequests(port, small);
  await load(port, reqs.GET, { connections: 64, amount: 3000 });
  await load(port, reqs.PUT, { connections: 64, amount: 3000 });
  targets.push({ name, port, t, reqs, results: {} });
}

const cpu = (pids) => pids.reduce((sum, p) => {
  try {
    const c = cpuSplit(p);
    return sum + c.user + c.sys;
  } catch {
    return sum;
  }
}, 0);

for (let round = 0; round < ROUNDS; round++) {
  for (const method of ['GET', 'PUT']) {
    for (const x of targets) {
      const pids = x.t.cpuPids;
      const c0 = cpu(pids);
      const me0 = process.cpuUsage();
      const r = await load(x.port, x.reqs[method], { connections: 64, duration: DURATION });
      const me = process.cpuUsage(me0);
      const us = ((cpu(pids) - c0) * 1e6) / r.requests;
      if (r.non2xx) console.log(`${x.name} ${method}: ${r.non2xx} non-2xx answers`);
      (x.results[method] ??= []).push({ rps: r.rps, us, client: (me.user + me.system) / r.requests, p99: r.p99 });
    }
  }
}

const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const summary = {};
for (const method of ['GET', 'PUT']) {
  for (const x of targets) {
    const rs = x.results[method];
    const s = { rps: med(rs.map((r) => r.rps)), us: med(rs.map((r) => r.us)), client: med(rs.map((r) => r.client)), p99: med(rs.map((r) => r.p99)) };
    (summary[x.name] ??= {})[method] = s;
    console.log(`${x.name.padEnd(12)} ${method} c=64: ${s.rps.toFixed(0).padStart(6)} req/s (${rs.map((r) => r.rps.toFixed(0)).join(' ')}), ${s.us.toFixed(1)} µs CPU/req, load generator ${s.client.toFixed(1)} µs/req, p99 ${s.p99.toFixed(2)} ms`);
  }
}
for (const method of ['GET', 'PUT']) {
  const r = (a, b) => (summary[a]?.[method] && summary[b]?.[method] ? (summary[a][method].rps / summary[b][method].rps).toFixed(2) : '-');
  console.log(`${method}: gw2/gw1 ${r('gw2', 'gw1')}×, gw2-primary/gw1 ${r('gw2-primary', 'gw1')}×, nginx2/nginx1 ${r('nginx2', 'nginx1')}×; C/B rate at 2 workers ${r('gw2', 'nginx2')}, at 1 ${r('gw1', 'nginx1')}`);
}
// How the connections' requests fell on the workers, from the access log: each worker logs its
// request-id prefix when it starts.
for (const x of targets.filter((t) => t.name.startsWith('gw2'))) {
  const lines = readFileSync(path.join(dir, `${x.name}.log`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const byPrefix = new Map(lines.filter((l) => l.msg === 'worker started').map((l) => [l.reqIdPrefix, l.worker]));
  const counts = {};
  for (const l of lines) if (l.msg === 'request') counts[byPrefix.get(l.reqId.slice(0, 8))] = (counts[byPrefix.get(l.reqId.slice(0, 8))] ?? 0) + 1;
  console.log(`${x.name}: requests per worker ${JSON.stringify(counts)}`);
  summary[x.name].perWorker = counts;
}
console.log(`JSON ${JSON.stringify(summary)}`);
if (process.env.BENCH_CHART) writeFileSync(process.env.BENCH_CHART, workersChart(summary, `s3gate workers round (bench/workers.mjs, ${new Date().toISOString().slice(0, 10)}): 4 KiB at c=64`));
process.exit(0);
