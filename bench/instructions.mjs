// Instructions per 4 KiB request, s3gate (C) and the undici floor (N), counted by valgrind's
// callgrind over every thread of the target during the measured requests alone (collection is
// switched on after the warm-up and the counts dumped after the last request). A CPU figure
// moves by 10–20 µs from run to run on this shared machine; an instruction count does not move
// with a moderate load, so it tells a 1% change apart (under a heavy one, work on a clock falls on
// more or fewer requests: ±10% at load average 6–8, docs/performance.md, session 20). It is not
// time: a cache miss or a system call counts as what its instructions are (the kernel's are not
// counted at all).
//   node bench/instructions.mjs [gw[:DIST][+FLAGS] ...] [undici]   env: METHOD (GET), N (3000: measured
//   requests), WARM (20000, before valgrind instruments anything), WARM2 (1000, instrumented, not
//   counted), C (8: connections), REPS (1: runs per target, alternated), IR_KEEP (a path prefix:
//   the measured window's callgrind file is copied to PREFIX-TARGET.out, for callgrind_annotate),
//   JS=N (also print the N JavaScript functions with the most instructions, by name: the target
//   runs with --perf-basic-prof, and the addresses callgrind cannot name are looked up in the
//   map V8 writes)
// About 1.5 minutes per target. Repeated runs agree within 0.1% (342.3 and 342.6 k per GET).
// valgrind has no SHA-NI, so OpenSSL's sha256 runs its AVX2 code here: hashing counts several
// times what it costs natively, so weigh a change to hashing by time, not by this count.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, stop, waitForPort } from './lib/procs.mjs';
import { ROOT, gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(3_600_000);
const METHOD = process.env.METHOD ?? 'GET';
const N = Number(process.env.N ?? 3000);
const WARM = Number(process.env.WARM ?? 20000);
const WARM2 = Number(process.env.WARM2 ?? 1000);
const C = Number(process.env.C ?? 8);
const REPS = Number(process.env.REPS ?? 1);
const JS = Number(process.env.JS ?? 0);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw', 'undici'];
if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.log('instructions: needs valgrind (Debian: apt-get install valgrind)');
  process.exit(0);
}
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-ir-');
const small = smallObject(bucketDir);

/** A node that runs under callgrind, collection off until callgrind_control switches it on. */
function wrapper(node, out) {
  const file = path.join(dir, `vg-${path.basename(out)}.sh`);
  const flags = ['--tool=callgrind', `--callgrind-out-file=${out}`, '--instr-atstart=no', '--smc-check=all-non-file', '--dump-instr=no', '--collect-jumps=no'];
  writeFileSync(file, `#!/bin/sh\nexec valgrind ${flags.join(' ')} ${node} "$@"\n`, { mode: 0o755 });
  return file;
}

// V8's optimising compilers still run now and then after the warm-up (under valgrind's slower
// clock a few functions tier up or re-optimise late); natively that work is done within the first
// 30 000 requests (--trace-opt). Their instructions are counted apart, so that one late
// compilation does not move the request's figure.
const COMPILER = /compiler::|maglev|Maglev|turboshaft|Turboshaft|baseline::/;
function totals(file, jitMap) {
  const out = execFileSync('callgrind_annotate', ['--threshold=100', file], { maxBuffer: 256 << 20 }).toString();
  let total = NaN;
  let compiler = 0;
  const js = new Map();
  for (const line of out.split('\n')) {
    const m = /^\s*([\d,]+) (?:\(\s*[\d.]+%\)\s+)?(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1].replaceAll(',', ''));
    if (m[2].startsWith('PROGRAM TOTALS')) total = n;
    else if (COMPILER.test(m[2])) compiler += n;
    else if (jitMap) {
      const a = /^\?\?\?:0x([0-9a-f]+) /.exec(m[2]);
      const name = a ? jitMap(BigInt('0x' + a[1])) : /^[^:]*:(Builtins_\w+)/.exec(m[2])?.[1];
      if (name) js.set(name, (js.get(name) ?? 0) + n);
    }
  }
  return { total, compiler, js };
}

/** The function V8's --perf-basic-prof map names at an address (the last code written there wins). */
function perfMap(pid) {
  let text;
  try {
    text = readFileSync(`/tmp/perf-${pid}.map`, 'utf8');
  } catch {
    return undefined;
  }
  const ranges = [];
  for (const l of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(l);
    if (m) ranges.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[1]) + BigInt('0x' + m[2]), name: m[3].replace(/file:\/\/\S*?\/(dist|node_modules)\//, '$1/') });
  }
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
  return (addr) => {
    for (let i = ranges.length - 1; i >= 0; i--) if (addr >= ranges[i].start && addr < ranges[i].end) return ranges[i].name;
    return '(JIT code not in the map)';
  };
}

async function measure(name, rep) {
  const port = await freePort();
  const out = path.join(dir, `cg-${rep}-${name.replace(/[^\w.-]/g, '_')}.out`);
  let t;
  if (name.startsWith('gw')) {
    const v = gatewayVariant(name);
    const nodeFlags = [...(v.nodeFlags ?? []), ...(JS ? ['--perf-basic-prof'] : [])];
    t = await startS3gate(dir, port, upPort, { ...v, nodeFlags, node: wrapper(v.node ?? process.execPath, out), tag: `ir${rep}`, listenTimeoutMs: 180_000 });
  } else {
    const e = start(name, wrapper(process.execPath, out), [...(JS ? ['--perf-basic-prof'] : []), path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), name, String(port), String(upPort)], { stdout: openSync(path.join(dir, `n${rep}.log`), 'a') });
    await waitForPort(port, e, 180_000);
    t = { ...e, stop: () => stop(e, 60_000) };
  }
  const reqs = await smallRequests(port, small);
  await load(port, reqs[METHOD], { connections: C, amount: WARM });
  // Instrumented from here: the first requests under valgrind still cost more (its own start on
  // the JIT's code, V8 tiering again under the slower clock), so a second warm-up is counted and
  // thrown away (the first dump), and the measured requests are the second dump's.
  execFileSync('callgrind_control', ['-i', 'on', String(t.pid)], { stdio: 'ignore' });
  await load(port, reqs[METHOD], { connections: C, amount: WARM2 });
  execFileSync('callgrind_control', ['-d', String(t.pid)], { stdio: 'ignore' });
  const r = await load(port, reqs[METHOD], { connections: C, amount: N });
  execFileSync('callgrind_control', ['-d', String(t.pid)], { stdio: 'ignore' });
  if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  await t.stop();
  // Dumps on request are the base name with a suffix, .1 and .2; the one at exit has no suffix.
  const dumped = readdirSync(dir).filter((f) => f.startsWith(path.basename(out) + '.')).sort();
  const ir = totals(path.join(dir, dumped[1]), JS ? perfMap(t.pid) : undefined);
  ir.requests = r.requests;
  if (process.env.IR_KEEP) execFileSync('cp', [path.join(dir, dumped[1]), `${process.env.IR_KEEP}-${name.replace(/[^\w.-]/g, '_')}.out`]);
  for (const f of readdirSync(dir)) if (f.startsWith(path.basename(out))) rmSync(path.join(dir, f));
  return ir;
}

const results = new Map(which.map((w) => [w, []]));
for (let rep = 0; rep < REPS; rep++) {
  for (const w of which) {
    const ir = await measure(w, rep);
    const perReq = (ir.total - ir.compiler) / ir.requests;
    results.get(w).push(perReq);
    console.log(`${w.padEnd(24)} ${METHOD}: ${(perReq / 1000).toFixed(1)} k instructions per request (run ${rep + 1}; and ${(ir.compiler / ir.requests / 1000).toFixed(1)} k in V8's compilers)`);
    if (JS) {
      console.log(`  JavaScript functions and V8 builtins (self), k instructions per request:`);
      for (const [f, n] of [...ir.js].sort((a, b) => b[1] - a[1]).slice(0, JS)) console.log(`  ${(n / ir.requests / 1000).toFixed(2).padStart(7)}  ${f.slice(0, 140)}`);
    }
  }
}
if (results.has('undici')) {
  const n = Math.min(...results.get('undici'));
  for (const [w, v] of results) if (w !== 'undici') console.log(`${w.padEnd(24)} ${METHOD}: C − N ${((Math.min(...v) - n) / 1000).toFixed(1)} k instructions per request`);
}
await upstream.stop();
process.exit(0);
