// Who makes Node's own frames run: for each frame of a .cpuprofile whose name matches one of the
// arguments (a node-internal function such as `emit`, `_addListener`, `setImmediate`), sampled
// self time (its own and its callees' inside Node) charged to the chain of frames above it, up to
// and including the nearest s3gate frame (dist/) or package frame; µs per request with REQUESTS.
//   node bench/profile-callers.mjs FILE.cpuprofile NAME [NAME …]   env: REQUESTS, DEPTH (6), TOP (12)
//   node bench/profile-callers.mjs FILE.cpuprofile                  all of Node's own frames, by caller
// profile-diff.mjs keeps its profiles with KEEP=DIR.
import { readFileSync } from 'node:fs';

const [file, ...names] = process.argv.slice(2);
const REQUESTS = Number(process.env.REQUESTS ?? 1);
const DEPTH = Number(process.env.DEPTH ?? 6);
const TOP = Number(process.env.TOP ?? 12);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));

const label = (n) => {
  const cf = n.callFrame;
  const url = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/');
  return `${cf.functionName || '(anonymous)'}${url ? ` ${url}:${cf.lineNumber + 1}` : ''}`;
};
const ours = (n) => n.callFrame.url !== '' && !n.callFrame.url.startsWith('node:');

// Without names: all of Node's own self time (node: frames), by the nearest frame above it that
// is not Node's (an s3gate function, a package, the floor's own code) or "(Node alone)" when
// there is none (the event loop, ticks, the HTTP parser's callbacks into Node's server).
if (!names.length) {
  const by = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n.callFrame.url.startsWith('node:')) continue;
    let who = '(Node alone)';
    for (let cur = n; cur; cur = byId.get(parent.get(cur.id))) {
      if (/^node:internal\/(modules|bootstrap)\//.test(cur.callFrame.url)) {
        who = '(loading and compiling modules: start-up, or a module loaded lazily)';
        break;
      }
      if (ours(cur)) {
        who = label(cur);
        if (/\/node_modules\//.test(cur.callFrame.url)) who = `package ${cur.callFrame.url.replace(/^.*\/node_modules\//, '').split('/')[0]}`;
        break;
      }
    }
    by.set(who, (by.get(who) ?? 0) + us);
    total += us;
  }
  console.log(`Node's own frames: ${(total / REQUESTS).toFixed(2)} µs per request, by the nearest caller outside Node`);
  for (const [k, us] of [...by].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${(us / REQUESTS).toFixed(2).padStart(7)}  ${k}`);
}

for (const name of names) {
  const chains = new Map();
  let total = 0;
  for (const [id, us] of self) {
    // the sample's stack, leaf first; the frame counts if it is on it (inclusive of node callees
    // below it, but not of s3gate code it calls back into)
    const stack = [];
    for (let cur = byId.get(id); cur; cur = byId.get(parent.get(cur.id))) stack.push(cur);
    const at = stack.findIndex((n) => n.callFrame.functionName === name && !ours(n));
    if (at < 0) continue;
    if (stack.slice(0, at).some(ours)) continue;
    const chain = [];
    for (let i = at; i < stack.length && chain.length < DEPTH; i++) {
      chain.push(label(stack[i]));
      if (ours(stack[i])) break;
    }
    const k = chain.join(' < ');
    chains.set(k, (chains.get(k) ?? 0) + us);
    total += us;
  }
  console.log(`\n${name}: ${(total / REQUESTS).toFixed(2)} µs per request`);
  for (const [k, us] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${(us / REQUESTS).toFixed(2).padStart(7)}  ${k}`);
}
