// What a gateway's RSS is made of: at start (median of RUNS fresh starts), after a burst of small
// requests, and WAIT seconds later, by kind of mapping, beside V8's heap by space. The loop for
// "what does s3gate hold, and where" (bench/rss.mjs gives the peaks of big transfers).
//   node bench/idle-rss.mjs [gw[:DIST_DIR][@NODE_BINARY][+NODE_FLAG,...][%ENV=VALUE,...] ...]
//   env: RUNS (fresh starts per variant, 3), N (4 KiB PUTs, then GETs, at c=64 after the last
//   start, 10000; 0 for none), METHODS (PUT,GET: which, in order), WAIT (seconds after the burst
//   for a second look, 0 for none)
// Kinds of mapping (/proc/PID/smaps): the node binary (its pages that were touched: code and
// data read from the file), glibc's main malloc arena ([heap]), glibc's per-thread arenas (an
// rw-p mapping followed by the ---p rest of its 64 MiB reservation), other anonymous memory
// (V8's heap pages, code, stacks), and the rest (shared libraries).
import { readFileSync } from 'node:fs';
import { installCleanup, freePort, memStatus } from './lib/procs.mjs';
import { gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(1_200_000);
const RUNS = Number(process.env.RUNS ?? 3);
const N = Number(process.env.N ?? 10000);
const WAIT = Number(process.env.WAIT ?? 0);
const METHODS = process.env.METHODS ?? 'PUT,GET';
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-idle-rss-');
const small = smallObject(bucketDir);

function byKind(pid) {
  const maps = [];
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(l);
    if (m) maps.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perm: m[3], name: m[4], kib: 0 });
    else if (l.startsWith('Rss:')) maps[maps.length - 1].kib = Number(l.split(/\s+/)[1]);
  }
  const out = { binary: 0, 'main arena': 0, 'thread arenas': 0, 'other anonymous': 0, rest: 0 };
  const ARENA = 64 * 2 ** 20;
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    if (/\/node$/.test(m.name)) out.binary += m.kib;
    else if (m.name === '[heap]') out['main arena'] += m.kib;
    else if (!m.name && m.perm === 'rw-p' && m.start % ARENA === 0 && next && !next.name && next.perm === '---p' && next.start === m.end && next.end - m.start === ARENA) out['thread arenas'] += m.kib;
    else if (!m.name || m.name.startsWith('[anon')) out['other anonymous'] += m.kib;
    else out.rest += m.kib;
  });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v / 1024]));
}

// V8's heap by space, from bench/lib/rss-probe.mjs inside the gateway (a window of one sample).
async function heap(gw) {
  await gw.probeRss();
  await gw.probeRss();
  const a = gw.lastProbe.atPeak;
  return `V8 heap ${a.heapTotal} committed (${a.heapUsed} used): new space ${a.new_space}, old ${a.old_space}, code ${a.code_space}; external ${a.external}`;
}

const f1 = (x) => x.toFixed(1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const line = (rss, kinds) => `RSS ${f1(rss)} MiB: ${Object.entries(kinds).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}`;

for (const w of which) {
  const starts = [];
  let gw;
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    gw = await startS3gate(dir, port, upPort, { tag: `idle${i}`, ...gatewayVariant(w) });
    await new Promise((r) => setTimeout(r, 3000)); // past start-up
    starts.push({ rss: memStatus(gw.pid).rss, kinds: byKind(gw.pid) });
    if (i < RUNS - 1) await gw.stop();
  }
  const mid = starts.find((s) => s.rss === median(starts.map((x) => x.rss)));
  console.log(`${w}\n  at start (median of ${RUNS}; all: ${starts.map((s) => f1(s.rss)).join(', ')}): ${line(mid.rss, mid.kinds)}; ${await heap(gw)}`);
  if (N) {
    const reqs = await smallRequests(gw.port, small);
    const methods = METHODS.split(',');
    for (const m of methods) {
      const r = await load(gw.port, reqs[m], { connections: 64, amount: N });
      if (r.non2xx || r.errors) throw new Error(`${w} ${m}: ${r.non2xx} non-2xx answers, ${r.errors} errors of ${r.requests}`);
    }
    const s = memStatus(gw.pid);
    console.log(`  after ${methods.map((m) => `${N} ${m}s`).join(' and ')} at c=64 (peak ${f1(s.hwm)}): ${line(s.rss, byKind(gw.pid))}; ${await heap(gw)}`);
    if (WAIT) {
      await new Promise((r) => setTimeout(r, WAIT * 1000));
      console.log(`  ${WAIT} s later: ${line(memStatus(gw.pid).rss, byKind(gw.pid))}; ${await heap(gw)}`);
    }
  }
  await gw.stop();
}
await upstream.stop();
process.exit(0);
