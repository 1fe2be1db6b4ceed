// The workers round of `npm run bench` (and of `node bench/workers.mjs` on its own): 4 KiB GETs
// and PUTs at c=64 against A (the nginx upstream, direct), B (nginx proxy_pass), N (the undici
// pass-through that does nothing, bench/lib/floor-server.mjs) and C (s3gate), each once with one
// worker and once with WORKERS (2): nginx `worker_processes`, N as that many processes sharing the
// port with SO_REUSEPORT, s3gate `workers:` (SO_REUSEPORT, its default). The 2-worker targets sit
// behind a 2-worker upstream, the 1-worker ones behind a 1-worker upstream.
//
// Keeping the load generator's CPU out of the target's: wrk (not autocannon, which runs in the
// bench's own Node process) is a separate process; every figure of CPU per request counts only the
// target's own processes from /proc (utime + stime: nginx's master and workers, s3gate's primary and
// workers), and wrk's own CPU is read back apart (GNU time). wrk is pinned with taskset to the last
// CPU; the targets and the upstream are left to the scheduler, as they run in production
// (BENCH_WORKERS_PIN=target pins a 1-worker target to CPU 0 and the upstream away from it: on this
// shared machine that raised s3gate's CPU per GET from 149–189 to 278–302 µs, so it is not the
// default). On 2 cores the sharing bounds the speed-up: one worker can use one core, two workers
// have two cores less what wrk and the upstream take. The round prints that ceiling beside the
// speed-up, and the CPU per request at 2 workers against 1 (the scaling that other load on the
// machine moves least).
import path from 'node:path';
import { cpuSplit, freePort, start, stop, waitForPort } from './procs.mjs';
import { ROOT, START_FLAGS, proxyConf, startNginx, startS3gate, upstreamConf } from './servers.mjs';
import { exchange, smallRequests } from './clients.mjs';
import { pin, runWrk, wrkScript } from './wrk.mjs';

export const KINDS = ['A', 'B', 'N', 'C'];
const WARM_PER_PROCESS = 6000;
export const LABELS = { A: 'A direct to the upstream', B: 'B nginx proxy_pass', N: 'N undici pass-through', C: 'C s3gate' };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function cpuOfAll(pids) {
  let t = 0;
  for (const p of pids) {
    try {
      const c = cpuSplit(p);
      t += c.user + c.sys;
    } catch {
      /* exited */
    }
  }
  return t;
}

async function startFloor(port, upPort, count, tag) {
  const procs = [];
  for (let i = 0; i < count; i++) {
    const e = start(`floor ${tag}.${i}`, process.execPath, [...START_FLAGS, path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), 'undici', String(port), String(upPort)], {
      env: { ...process.env, FLOOR_REUSEPORT: count > 1 ? '1' : '0' },
    });
    await waitForPort(port, e);
    procs.push(e);
  }
  return { cpuPids: procs.map((p) => p.pid), stop: () => Promise.all(procs.map((p) => stop(p))) };
}

/**
 * Runs the round. `small` is the 4 KiB object ({ body, sha256 }) already written as obj-4k in
 * dataDir/bench. Returns { settings, results: { [kind]: { [workers]: { GET, PUT } } }, derived }.
 */
export async function workersRound({ nginx, wrk, dir, dataDir, small, log = console.log, duration = 4, rounds = 3, workers = 2, cpuCount, pinTarget = process.env.BENCH_WORKERS_PIN === 'target' }) {
  const nproc = cpuCount;
  const all = `0-${nproc - 1}`;
  const rest = nproc > 1 ? `1-${nproc - 1}` : '0';
  const counts = [1, workers];
  const ups = {};
  const targets = [];
  try {
    for (const w of counts) {
      const upPort = await freePort();
      ups[w] = await startNginx(nginx, dir, `wr-up${w}`, upstreamConf(dir, dataDir, upPort, { name: `wr-up${w}`, workers: w }), upPort, w);
      ups[w].port = upPort;
    }
    for (const w of counts) {
      const up = ups[w];
      for (const kind of KINDS) {
        let t;
        let port = up.port;
        if (kind === 'A') t = up;
        else {
          port = await freePort();
          if (kind === 'B') t = await startNginx(nginx, dir, `wr-proxy${w}`, proxyConf(dir, port, up.port, w, `wr-proxy${w}`), port, w);
          if (kind === 'N') t = await startFloor(port, up.port, w, `wr${w}`);
          if (kind === 'C') t = await startS3gate(dir, port, up.port, { tag: `wr-gw${w}`, env: { S3GATE_WORKERS: String(w) } });
        }
        // Signed for this port's host: s3gate checks it, the others ignore it.
        const reqs = await smallRequests(port, small);
        for (const m of ['GET', 'PUT']) {
          const r = await exchange(port, reqs[m].method, reqs[m].path, reqs[m].headers, reqs[m].body);
          if (r.status < 200 || r.status >= 300) throw new Error(`workers round ${kind}${w} ${m}: ${r.status} ${r.body.toString().slice(0, 200)}`);
        }
        const scripts = { GET: wrkScript(dir, `wr-${kind}${w}-GET`, reqs.GET), PUT: wrkScript(dir, `wr-${kind}${w}-PUT`, reqs.PUT) };
        targets.push({ kind, w, port, t, up, scripts, runs: { GET: [], PUT: [] } });
      }
    }
    const last = String(nproc - 1);
    const placement = (x) => {
      if (pinTarget && x.w === 1 && nproc > 1) {
        pin(x.up.cpuPids, rest);
        pin(x.t.cpuPids, '0'); // for A, the target is the upstream
        return rest;
      }
      pin([...x.t.cpuPids, ...x.up.cpuPids], all);
      return last;
    };
    log(`workers round: ${KINDS.join(', ')} × ${counts.join(' and ')} workers, 4 KiB GET and PUT at c=64, wrk -t1, ${rounds} rounds × ${duration} s; ${pinTarget ? `1 worker pinned to CPU 0 (wrk, upstream on ${rest}), ${workers} workers on ${all} with wrk and the upstream` : `wrk pinned to CPU ${last}, targets and upstreams on ${all}`}`);
    for (const x of targets) {
      const cpus = placement(x);
      // Warm-up by count: each Node process (two workers warm up apart) needs some thousands of
      // requests before its CPU per request settles. On the loaded machine a 2-worker s3gate took
      // 603 µs per GET over its first 4 400 requests and 223 over the next 14 000.
      for (const m of ['GET', 'PUT']) {
        let n = 0;
        for (let i = 0; i < 8 && n < WARM_PER_PROCESS * x.w; i++) n += (await runWrk(wrk, { port: x.port, script: x.scripts[m], connections: 64, duration: 2, cpus })).requests;
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const m of ['GET', 'PUT']) {
        for (const x of targets) {
          const cpus = placement(x);
          const c0 = cpuOfAll(x.t.cpuPids);
          const u0 = x.kind === 'A' ? 0 : cpuOfAll(x.up.cpuPids);
          const r = await runWrk(wrk, { port: x.port, script: x.scripts[m], connections: 64, duration, cpus });
          const own = cpuOfAll(x.t.cpuPids) - c0;
          const upCpu = x.kind === 'A' ? 0 : cpuOfAll(x.up.cpuPids) - u0;
          if (r.non2xx + r.errors > r.requests * 0.001) throw new Error(`workers round ${x.kind}${x.w} ${m}: ${r.non2xx} non-2xx, ${r.errors} socket errors of ${r.requests}`);
          x.runs[m].push({ rps: r.rps, p99: r.p99, us: (own * 1e6) / r.requests, upstreamUs: (upCpu * 1e6) / r.requests, wrkUs: (r.cpuSeconds * 1e6) / r.requests, busyCores: (own + upCpu + r.cpuSeconds) / r.seconds });
        }
      }
    }
  } finally {
    pin(targets.flatMap((x) => x.t.cpuPids), all);
    for (const x of targets) if (x.kind !== 'A') await x.t.stop();
    for (const u of Object.values(ups)) await u.stop();
  }

  const results = {};
  for (const x of targets) {
    const row = ((results[x.kind] ??= {})[x.w] = {});
    for (const m of ['GET', 'PUT']) {
      const rs = x.runs[m];
      row[m] = Object.fromEntries(['rps', 'p99', 'us', 'upstreamUs', 'wrkUs', 'busyCores'].map((f) => [f, median(rs.map((r) => r[f]))]));
      row[m].rpsRange = [Math.min(...rs.map((r) => r.rps)), Math.max(...rs.map((r) => r.rps))];
    }
  }
  // Per method: C − N at each worker count; each kind's speed-up; the CPU per request at W workers
  // over 1 (1.00 = the second worker adds no work per request); and the ceiling on the speed-up
  // that sharing the cores with wrk and the upstream leaves: W cores over (the target's + wrk's +
  // the upstream's CPU per request) at W workers, against one worker on a core of its own
  // (1 / its CPU per request), W·g₁ / (g_W + w + u) (docs/performance.md#workers).
  const derived = {};
  for (const m of ['GET', 'PUT']) {
    const d = (derived[m] = { cMinusN: {}, speedup: {}, cpuScaling: {}, ceiling: {} });
    for (const w of counts) d.cMinusN[w] = results.C[w][m].us - results.N[w][m].us;
    for (const k of KINDS) {
      const one = results[k][1][m];
      const many = results[k][workers][m];
      d.speedup[k] = many.rps / one.rps;
      d.cpuScaling[k] = many.us / one.us;
      d.ceiling[k] = (workers * one.us) / (many.us + many.wrkUs + many.upstreamUs);
    }
  }
  return { settings: { duration, rounds, workers, connections: 64, nproc, pinTarget, loadGenerator: `wrk -t1 (separate process, taskset to CPU ${pinTarget ? rest : nproc - 1})` }, results, derived };
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');

/** The round as markdown lines: one table, then the C − N and speed-up lines. */
export function workersReport(round) {
  const { results, derived, settings } = round;
  const W = settings.workers;
  const out = [];
  out.push(`workers round: 4 KiB at c=${settings.connections}, ${settings.loadGenerator}; ${settings.rounds} rounds × ${settings.duration} s, medians; CPU µs per request of the target's own processes (/proc), of wrk, and of the upstream behind B, N, C; ${settings.pinTarget ? `1 worker pinned to CPU 0, ${W} workers sharing all ${settings.nproc} CPUs with wrk and the upstream` : `targets and upstreams on all ${settings.nproc} CPUs, wrk pinned to the last`}; cores busy: what the target, wrk and the upstream used together, of ${settings.nproc}`);
  out.push('');
  out.push('| target | workers | GET req/s | GET µs CPU/req | PUT req/s | PUT µs CPU/req | wrk µs/req GET / PUT | upstream µs/req GET / PUT | cores busy GET / PUT | p99 ms GET / PUT |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const k of KINDS) {
    for (const w of [1, W]) {
      const g = results[k][w].GET;
      const p = results[k][w].PUT;
      out.push(`| ${LABELS[k]} | ${w} | ${f0(g.rps)} (${f0(g.rpsRange[0])}–${f0(g.rpsRange[1])}) | ${f1(g.us)} | ${f0(p.rps)} (${f0(p.rpsRange[0])}–${f0(p.rpsRange[1])}) | ${f1(p.us)} | ${f1(g.wrkUs)} / ${f1(p.wrkUs)} | ${k === 'A' ? '–' : `${f1(g.upstreamUs)} / ${f1(p.upstreamUs)}`} | ${f2(g.busyCores)} / ${f2(p.busyCores)} | ${f2(g.p99)} / ${f2(p.p99)} |`);
    }
  }
  out.push('');
  for (const m of ['GET', 'PUT']) {
    const d = derived[m];
    out.push(`${m}: C − N ${f1(d.cMinusN[1])} µs at 1 worker, ${f1(d.cMinusN[W])} µs at ${W}; ${W} workers / 1: ${KINDS.map((k) => `${k} ${f2(d.speedup[k])}×`).join(', ')} (ceiling with wrk and the upstream on the same cores: ${KINDS.map((k) => `${k} ${f2(d.ceiling[k])}×`).join(', ')}); CPU per request ${W} workers / 1: ${KINDS.map((k) => `${k} ${f2(d.cpuScaling[k])}`).join(', ')}; C/B rate ${f2(results.C[1][m].rps / results.B[1][m].rps)} at 1 worker, ${f2(results.C[W][m].rps / results.B[W][m].rps)} at ${W}`);
  }
  return out;
}
