// Where s3gate's per-request allocations come from: V8's sampling heap profiler inside the
// gateway (objects later collected by minor and major GCs included), over N 4 KiB requests at
// c=64 after a warm-up; bytes per request by allocating function, and by the nearest s3gate frame.
//   node bench/alloc-profile.mjs      env: METHOD (GET|PUT), N (5000), TOP (30), SURVIVORS (1: only
//   objects no scavenge collected, i.e. what was promoted to the old generation), FRAME (a function
//   name: also the bytes whose nearest s3gate frame is that function, by allocating function)
// bench/alloc.mjs gives the totals; this says where they come from.
import { readFileSync, existsSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort } from './lib/procs.mjs';
import { ROOT, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';
installCleanup(400_000);
const N = Number(process.env.N ?? 5000);
const M = process.env.METHOD ?? 'GET';
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-hp-');
const small = smallObject(bucketDir);
const port = await freePort();
const out = path.join(dir, `heap-${M}.json`);
if (existsSync(out)) unlinkSync(out);
const t = await startS3gate(dir, port, upPort, { tag: 'gw', nodeFlags: ['--import', path.join(ROOT, 'bench', 'lib', 'heap-sampler.mjs')], env: { HEAP_OUT: out, HEAP_SURVIVORS: process.env.SURVIVORS ?? '' } });
const reqs = await smallRequests(port, small);
await load(port, reqs[M], { connections: 64, amount: 5000 });
process.kill(t.pid, 'SIGWINCH');
await new Promise((r) => setTimeout(r, 500));
const r = await load(port, reqs[M], { connections: 64, amount: N });
process.kill(t.pid, 'SIGWINCH');
for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
await new Promise((r) => setTimeout(r, 500));
const prof = JSON.parse(readFileSync(out, 'utf8'));
// self bytes by function+url, and by nearest s3gate frame
const self = new Map();
const bySrc = new Map();
const inFrame = new Map();
const FRAME = process.env.FRAME;
let total = 0;
function walk(node, stack) {
  const cf = node.callFrame;
  const name = `${cf.functionName || '(anon)'} ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
  const st = [...stack, name];
  const bytes = node.selfSize;
  if (bytes) {
    total += bytes;
    self.set(name, (self.get(name) ?? 0) + bytes);
    const own = [...st].reverse().find((f) => f.includes('dist/')) ?? '(no s3gate frame)';
    bySrc.set(own, (bySrc.get(own) ?? 0) + bytes);
    if (FRAME && own.startsWith(`${FRAME} `)) inFrame.set(name, (inFrame.get(name) ?? 0) + bytes);
  }
  for (const c of node.children) walk(c, st);
}
walk(prof.head, []);
const fmt = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 30)).map(([k, v]) => `${(v / r.requests).toFixed(0).padStart(6)} B  ${k}`).join('\n');
console.log(`${M}: ${(total / r.requests / 1024).toFixed(2)} KiB sampled per request\n-- self:\n${fmt(self)}\n-- by nearest s3gate frame:\n${fmt(bySrc)}`);
if (FRAME) console.log(`-- under ${FRAME}, by allocating function:\n${fmt(inFrame)}`);
await t.stop();
await upstream.stop();
process.exit(0);
