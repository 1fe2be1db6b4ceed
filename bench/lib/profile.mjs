// Self time per function from a V8 .cpuprofile (node --cpu-prof), and per origin
// (s3gate's dist/, a package in node_modules, node's internals, GC, idle).
import { readFileSync } from 'node:fs';

function origin(url, fn) {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const d = url.indexOf('/dist/');
  if (d >= 0) return `s3gate ${url.slice(d + 6).split('/').slice(0, -1).join('/') || '.'}`;
  return url;
}

/**
 * `cap`: each sample's time at most three times the median interval. A sample's time is the wall
 * time since the one before, so on a loaded machine a main thread taken off the CPU charges its
 * wait to whatever frame it was in (milliseconds on one sample); capped, the split is closer to CPU.
 */
export function summarizeProfile(file, top = 15, { cap = false } = {}) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const limit = cap ? 3 * [...prof.timeDeltas].sort((a, b) => a - b)[prof.timeDeltas.length >> 1] : Infinity;
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    self.set(id, (self.get(id) ?? 0) + Math.min(prof.timeDeltas[i] ?? 0, limit));
  }
  let total = 0;
  const fns = new Map();
  const origins = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    const short = cf.url ? cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/') : '';
    const key = cf.url ? `${name} ${short}:${cf.lineNumber + 1}` : name;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const o = origin(cf.url, name);
    origins.set(o, (origins.get(o) ?? 0) + us);
    total += us;
  }
  const busy = total - (fns.get('(idle)') ?? 0);
  // Who caused the time: each sample goes to the nearest frame on its stack that is s3gate's own
  // code or a package, so node's internals (sockets, streams, HTTP) are charged to their caller.
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map();
  // Inclusive time of s3gate's own functions (each counted once per sample it is on the stack of).
  const inclusive = new Map();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let cur = byId.get(id); cur; cur = byId.get(parent.get(cur.id))) {
      const cf = cur.callFrame;
      if (!cf.url.includes('/dist/')) continue;
      const k = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/dist\//, '')}:${cf.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  for (const [id, us] of self) {
    let n = byId.get(id);
    if (n.callFrame.functionName === '(idle)') continue;
    let who = '(no caller: node internals, GC)';
    for (let cur = n; cur; cur = byId.get(parent.get(cur.id))) {
      const o = origin(cur.callFrame.url, cur.callFrame.functionName || '');
      if (o.startsWith('s3gate') || (!o.startsWith('(') && o !== 'node internals')) {
        who = o.startsWith('s3gate') ? `${cur.callFrame.functionName || '(anonymous)'} ${cur.callFrame.url.replace(/^.*\/dist\//, '')}` : o;
        break;
      }
    }
    callers.set(who, (callers.get(who) ?? 0) + us);
  }
  const rank = (m) => [...m.entries()].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => ({ name: k, ms: Math.round(us / 1000), pctOfBusy: Math.round((1000 * us) / busy) / 10 }));
  return { totalMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), functions: rank(fns), origins: rank(origins), callers: rank(callers), inclusive: rank(inclusive) };
}
