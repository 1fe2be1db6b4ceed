// Preloaded (--import) by bench/node-calls.mjs: counts calls into Node's own event, tick and
// timer machinery (EventEmitter emit / on / once / removeListener, process.nextTick,
// setImmediate, stream destroy), keyed by what they are about (the event, the emitter's class)
// and, for every STACK_EVERY-th call, by the first frame of the caller outside Node's own code.
// SIGUSR2 starts a window (counts reset); the next SIGUSR2 writes the counts to NODE_CALLS_FILE.
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';

const FILE = process.env.NODE_CALLS_FILE;
const EVERY = Number(process.env.STACK_EVERY ?? 1);
let on = false;
let counts = new Map();
let callers = new Map();
let n = 0;

function caller() {
  const o = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 14;
  Error.captureStackTrace(o, caller);
  Error.stackTraceLimit = limit;
  const lines = o.stack.split('\n').slice(2);
  const outside = lines.find((l) => !l.includes('node:') && !l.includes('node-calls-probe'));
  const inner = lines.filter((l) => l.includes('node:')).slice(0, 3).map((l) => l.trim().replace(/^at /, '').replace(/ \(node:/, '(').replace(/\)$/, ''));
  return `${(outside ?? '(none)').trim().replace(/^at /, '').replace(/file:\/\/\S*?\/(dist|node_modules)\//, '$1/')}  via ${inner.join(' < ')}`;
}

function count(kind, what) {
  if (!on) return;
  const k = `${kind} ${what}`;
  counts.set(k, (counts.get(k) ?? 0) + 1);
  if (++n % EVERY === 0) {
    const c = `${k}  <=  ${caller()}`;
    callers.set(c, (callers.get(c) ?? 0) + 1);
  }
}

const cls = (x) => x?.constructor?.name ?? typeof x;
const proto = EventEmitter.prototype;
const emit = proto.emit;
proto.emit = function (ev, ...a) {
  count('emit', `${cls(this)}.${String(ev)}`);
  return emit.call(this, ev, ...a);
};
for (const m of ['on', 'addListener', 'once', 'prependListener', 'removeListener', 'off', 'removeAllListeners']) {
  const f = proto[m];
  proto[m] = function (ev, ...a) {
    count(m, `${cls(this)}.${String(ev)}`);
    return f.call(this, ev, ...a);
  };
}
// Readable's own on/removeListener call these through Stream.prototype at call time: wrapping
// EventEmitter's alone counts each call once.
const tick = process.nextTick;
process.nextTick = function (fn, ...a) {
  count('nextTick', fn?.name || '(anonymous)');
  return tick.call(this, fn, ...a);
};
const imm = globalThis.setImmediate;
globalThis.setImmediate = function (fn, ...a) {
  count('setImmediate', fn?.name || '(anonymous)');
  return imm(fn, ...a);
};
for (const P of [Readable.prototype, Writable.prototype]) {
  const d = P.destroy;
  P.destroy = function (...a) {
    count('destroy', cls(this));
    return d.apply(this, a);
  };
}

process.on('SIGUSR2', () => {
  if (!on) {
    counts = new Map();
    callers = new Map();
    n = 0;
    on = true;
    return;
  }
  on = false;
  writeFileSync(FILE, JSON.stringify({ counts: [...counts], callers: [...callers] }));
});
