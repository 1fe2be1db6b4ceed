// What each target asks of Node's own event, tick and timer machinery per small request, counted
// (not sampled, so it does not move with the machine's load): EventEmitter emits and listener
// additions and removals by event and emitter class, process.nextTick and setImmediate by
// callback, stream destroys; and for each, the first caller outside Node's own code.
//   node bench/node-calls.mjs gw gw:OTHER/dist undici      env: METHOD (PUT), N (2000), C (64), TOP (40), STACK_EVERY (1)
// Counts per request after a warm-up, side by side; then the callers of the first target.
// Wrapping adds a stack capture per call: the CPU of these processes means nothing.
import { existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, waitForPort, stop } from './lib/procs.mjs';
import { ROOT, scratchUpstream, startS3gate, gatewayVariant } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(600_000);
const N = Number(process.env.N ?? 2000);
const M = process.env.METHOD ?? 'PUT';
const CONNS = Number(process.env.C ?? 64);
const TOP = Number(process.env.TOP ?? 40);
const targets = process.argv.slice(2);
if (!targets.length) targets.push('gw', 'undici');
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-nc-');
const small = smallObject(bucketDir);
const probe = path.join(ROOT, 'bench', 'lib', 'node-calls-probe.mjs');

async function counted(name, i) {
  const port = await freePort();
  const file = path.join(dir, `calls-${i}.json`);
  const env = { NODE_CALLS_FILE: file, STACK_EVERY: process.env.STACK_EVERY ?? '1' };
  let t;
  if (name.startsWith('gw')) {
    const v = gatewayVariant(name);
    t = await startS3gate(dir, port, upPort, { ...v, tag: `nc${i}`, nodeFlags: [...(v.nodeFlags ?? []), '--import', probe], env: { ...v.env, ...env } });
  } else {
    const e = start(name, process.execPath, ['--import', probe, path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), name, String(port), String(upPort)], { stdout: openSync(path.join(dir, 'n.log'), 'a'), env: { ...process.env, ...env } });
    await waitForPort(port, e);
    t = { ...e, stop: () => stop(e, 15_000) };
  }
  const reqs = await smallRequests(port, small);
  await load(port, reqs[M], { connections: CONNS, amount: 3000 });
  process.kill(t.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 100));
  const r = await load(port, reqs[M], { connections: CONNS, amount: N });
  process.kill(t.pid, 'SIGUSR2');
  for (let k = 0; k < 200 && !existsSync(file); k++) await new Promise((res) => setTimeout(res, 20));
  await t.stop();
  const j = JSON.parse(readFileSync(file, 'utf8'));
  return { counts: new Map(j.counts), callers: j.callers, requests: r.requests };
}

const res = [];
for (let i = 0; i < targets.length; i++) res.push(await counted(targets[i], i));
await upstream.stop();
const keys = new Set(res.flatMap((r) => [...r.counts.keys()]));
const per = (r, k) => (r.counts.get(k) ?? 0) / r.requests;
const rows = [...keys].map((k) => ({ k, v: res.map((r) => per(r, k)) })).sort((a, b) => Math.abs(b.v[0] - b.v.at(-1)) - Math.abs(a.v[0] - a.v.at(-1)));
console.log(`${M} at c=${CONNS}, calls per request: ${targets.join(', ')}`);
const kinds = ['emit', 'on', 'addListener', 'once', 'prependListener', 'removeListener', 'off', 'removeAllListeners', 'nextTick', 'setImmediate', 'destroy'];
for (const kind of kinds) {
  const line = res.map((r) => [...r.counts].filter(([k]) => k.startsWith(`${kind} `)).reduce((s, [, c]) => s + c, 0) / r.requests);
  console.log(`  total ${kind.padEnd(18)} ${line.map((x) => x.toFixed(2).padStart(7)).join(' ')}`);
}
console.log('');
for (const { k, v } of rows.slice(0, TOP)) console.log(`${v.map((x) => x.toFixed(2).padStart(7)).join(' ')}  ${k}`);
for (let i = 0; i < res.length; i++) {
  console.log(`\ncallers in ${targets[i]} (calls per request; every ${process.env.STACK_EVERY ?? 1}th call's stack):`);
  const every = Number(process.env.STACK_EVERY ?? 1);
  for (const [k, c] of res[i].callers.sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${((c * every) / res[i].requests).toFixed(2).padStart(7)}  ${k}`);
}
process.exit(0);
