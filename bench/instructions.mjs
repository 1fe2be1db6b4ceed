// Instructions per 4 KiB request, counted by valgrind's callgrind, whatever else the machine is
// doing: meant for changes too small for bench/quick.mjs, whose CPU time moves by 10–20% here.
// Rounds still move while the gateway warms up under valgrind and as whole GC cycles fall in one
// window or the next (docs/performance.md#running-it has the spread measured): compare builds
// within one run, on the later rounds. Not time: a cache miss and an instruction count the same.
//   node bench/instructions.mjs [gw[:DIST_DIR][@NODE_BINARY][+NODE_FLAG,...] ...]
//   env: N (requests counted per case, 4000), WARM (requests before counting, per method, 6000;
//   not enough under valgrind: read only the later rounds, docs/performance.md#running-it),
//   ROUNDS (2), C (connections, 64), METHODS (GET,PUT), KEEP (a directory that gets a copy of each
//   dump, for callgrind_annotate)
// Each gateway runs under callgrind; counting is switched on for exactly the measured requests
// (callgrind_control --zero, then --dump), so start-up and warm-up are left out. Needs valgrind
// (Debian's package); about 20 s a case a round under valgrind.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort } from './lib/procs.mjs';
import { gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(3_600_000);
const N = Number(process.env.N ?? 4000);
const WARM = Number(process.env.WARM ?? 6000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const C = Number(process.env.C ?? 64);
const METHODS = (process.env.METHODS ?? 'GET,PUT').split(',');
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];

const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-instr-');
const small = smallObject(bucketDir);

const targets = [];
for (const [i, w] of which.entries()) {
  const port = await freePort();
  const out = path.join(dir, `cg${i}`);
  const t = await startS3gate(dir, port, upPort, {
    tag: `gw${i}`, ...gatewayVariant(w), startMs: 120_000,
    // V8 writes its own machine code: valgrind must look for changed code outside file mappings.
    wrap: ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}.%p`],
  });
  const reqs = await smallRequests(port, small);
  for (const m of METHODS) await load(port, reqs[m], { connections: C, amount: WARM });
  targets.push({ name: w, port, t, reqs, out, results: {} });
}

/** Instructions since the last zeroing, from the dump callgrind writes on request. */
function dumpTotal(x) {
  const before = new Set(readdirSync(dir));
  execFileSync('callgrind_control', ['--dump', String(x.t.pid)], { stdio: 'ignore' });
  const fresh = readdirSync(dir).filter((f) => f.startsWith(path.basename(x.out)) && !before.has(f));
  if (fresh.length !== 1) throw new Error(`expected one new callgrind dump, found ${fresh.join(', ') || 'none'}`);
  const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path.join(dir, fresh[0]), 'utf8'));
  if (!m) throw new Error(`no totals in ${fresh[0]}`);
  if (process.env.KEEP) execFileSync('cp', [path.join(dir, fresh[0]), process.env.KEEP]);
  return Number(m[1]);
}

for (let round = 0; round < ROUNDS; round++) {
  for (const m of METHODS) {
    for (const x of targets) {
      execFileSync('callgrind_control', ['--zero', String(x.t.pid)], { stdio: 'ignore' });
      const r = await load(x.port, x.reqs[m], { connections: C, amount: N });
      if (r.non2xx || r.errors) console.log(`${x.name} ${m}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      const ir = dumpTotal(x) / r.requests;
      (x.results[m] ??= []).push(ir);
      console.log(`round ${round + 1} ${x.name.padEnd(24)} ${m} c=${C}: ${(ir / 1000).toFixed(1)} k instructions/request`);
    }
  }
}
console.log(`\n${N} requests per count, after ${WARM} per method to warm up; k instructions per request (each round)`);
for (const m of METHODS) {
  for (const x of targets) {
    const rs = x.results[m];
    console.log(`${x.name.padEnd(24)} ${m} c=${C}: ${rs.map((v) => (v / 1000).toFixed(1)).join(', ')}`);
  }
}
for (const x of targets) await x.t.stop();
await upstream.stop();
process.exit(0);
