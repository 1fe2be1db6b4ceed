// Why s3gate's CPU per request grows from one worker to two while the floor's (N) does not
// (issue #21, the workers round): per 4 KiB request at c=64, for s3gate and N at 1 and 2
// workers, the CPU (user and kernel), the context switches (voluntary and not, from
// /proc/PID/task/*/status: no tracer attached), and, unless CALLS=0, the system calls by name
// (`perf trace -s` on every process of the target, in a second pass so its cost stays out of the
// first). Targets take turns, ROUNDS times; medians are printed.
//   node bench/workers-calls.mjs      env: METHOD (GET), COUNT (20000), ROUNDS (3), CALLS (1), ONLY (N,C), GW (gw)
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, stop, waitForPort, cpuSplit } from './lib/procs.mjs';
import { ROOT, gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(900_000);
const METHOD = process.env.METHOD ?? 'GET';
const COUNT = Number(process.env.COUNT ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CALLS = process.env.CALLS !== '0';
// GW: the gateway target as bench/quick.mjs names it (gw:DIST_DIR for another build)
const GW = process.env.GW ?? 'gw';
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-wcalls-');
const small = smallObject(bucketDir);

async function floor(workers) {
  const port = await freePort();
  const procs = [];
  for (let i = 0; i < workers; i++) {
    const e = start(`undici${i}`, process.execPath, [path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), 'undici', String(port), String(upPort)], { env: { ...process.env, FLOOR_REUSEPORT: '1' } });
    procs.push(e);
  }
  await waitForPort(port, procs[0]);
  // Every process must be listening before the load, or the kernel gives all to the first.
  await new Promise((r) => setTimeout(r, 500));
  return { port, cpuPids: procs.map((p) => p.pid), stop: async () => { for (const p of procs) await stop(p); } };
}

async function gateway(workers) {
  const port = await freePort();
  const t = await startS3gate(dir, port, upPort, { tag: `gw${workers}`, ...gatewayVariant(workers > 1 ? `${GW}%S3GATE_WORKERS=${workers}` : GW) });
  return { port, get cpuPids() { return t.cpuPids; }, stop: () => t.stop() };
}

function switches(pids) {
  let vol = 0, invol = 0;
  for (const pid of pids) {
    let tasks = [];
    try { tasks = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tasks) {
      try {
        const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        vol += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)[1]);
        invol += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)[1]);
      } catch { /* thread gone */ }
    }
  }
  return { vol, invol };
}

function cpu(pids) {
  let user = 0, sys = 0;
  for (const p of pids) {
    try {
      const c = cpuSplit(p);
      user += c.user;
      sys += c.sys;
    } catch { /* exited */ }
  }
  return { user, sys };
}

const targets = [];
const ONLY = process.env.ONLY ? process.env.ONLY.split(',') : undefined;
for (const [name, make] of [['N 1 worker', () => floor(1)], ['N 2 workers', () => floor(2)], ['C 1 worker', () => gateway(1)], ['C 2 workers', () => gateway(2)]]) {
  if (ONLY && !ONLY.some((o) => name.startsWith(o))) continue;
  const t = await make();
  t.reqs = await smallRequests(t.port, small);
  await load(t.port, t.reqs[METHOD], { connections: 64, amount: 6000 * t.cpuPids.length });
  targets.push({ name, t, rows: [] });
}

/** Per process and thread name: CPU seconds and context switches, to say where a difference sits. */
function byThread(pids) {
  const out = {};
  for (const [i, pid] of pids.entries()) {
    let tasks = [];
    try { tasks = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tasks) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/[0-9]+$/, 'N');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        const k = `p${i}:${name}`;
        const o = (out[k] ??= { cpu: 0, vol: 0, invol: 0 });
        o.cpu += (Number(f[11]) + Number(f[12])) / 100;
        o.vol += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)[1]);
        o.invol += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)[1]);
      } catch { /* thread gone */ }
    }
  }
  return out;
}

for (let round = 0; round < ROUNDS; round++) {
  for (const x of targets) {
    const pids = x.t.cpuPids;
    const c0 = cpu(pids), s0 = switches(pids);
    const r = await load(x.t.port, x.t.reqs[METHOD], { connections: 64, amount: COUNT });
    const c1 = cpu(pids), s1 = switches(pids);
    const n = r.requests;
    if (r.non2xx || r.errors || !n) console.log(`${x.name}: ${n} requests, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
    x.rows.push({
      us: ((c1.user + c1.sys - c0.user - c0.sys) * 1e6) / n, sys: ((c1.sys - c0.sys) * 1e6) / n,
      vol: (s1.vol - s0.vol) / n, invol: (s1.invol - s0.invol) / n, rps: r.rps ?? n / (r.duration ?? 1),
    });
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${METHOD} 4 KiB at c=64, ${COUNT} requests a round, ${ROUNDS} rounds, medians per request:`);
for (const x of targets) {
  const m = (k) => med(x.rows.map((r) => r[k]));
  console.log(`  ${x.name.padEnd(12)} CPU ${m('us').toFixed(1)} µs (kernel ${m('sys').toFixed(1)}); context switches ${m('vol').toFixed(3)} voluntary, ${m('invol').toFixed(3)} not`);
}

for (const x of targets) {
  const pids = x.t.cpuPids;
  const a = byThread(pids);
  const r = await load(x.t.port, x.t.reqs[METHOD], { connections: 64, amount: COUNT });
  const b = byThread(pids);
  const rows = Object.keys(b).map((k) => {
    const d = { cpu: b[k].cpu - (a[k]?.cpu ?? 0), vol: b[k].vol - (a[k]?.vol ?? 0), invol: b[k].invol - (a[k]?.invol ?? 0) };
    return [k, d];
  }).filter(([, d]) => d.cpu > 0 || d.vol + d.invol > 0).sort((p, q) => q[1].cpu - p[1].cpu);
  console.log(`  ${x.name.padEnd(12)} by process (p0 first) and thread, per request: ` + rows.map(([k, d]) => `${k} ${(d.cpu * 1e6 / r.requests).toFixed(1)} µs ${(d.vol / r.requests).toFixed(3)}/${(d.invol / r.requests).toFixed(3)} cs`).join('; '));
}

if (CALLS) {
  for (const x of targets) {
    const pids = x.t.cpuPids;
    let err = '';
    const tracer = spawn('perf', ['trace', '-s', '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
    tracer.stderr.on('data', (d) => (err += d));
    await new Promise((r) => setTimeout(r, 1500));
    const r = await load(x.t.port, x.t.reqs[METHOD], { connections: 64, amount: COUNT });
    tracer.kill('SIGINT');
    await new Promise((res) => tracer.on('exit', res));
    const calls = {};
    for (const l of err.split('\n')) {
      const m = /^\s+(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)/.exec(l);
      if (m) calls[m[1]] = (calls[m[1]] ?? 0) + Number(m[2]);
    }
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    const per = Object.entries(calls).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${(v / r.requests).toFixed(2)}`).join(', ');
    console.log(`  ${x.name.padEnd(12)} system calls per request ${(total / r.requests).toFixed(2)}: ${per}`);
  }
}
for (const x of targets) await x.t.stop();
await upstream.stop();
process.exit(0);
