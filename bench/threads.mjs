// CPU per request by thread (main, V8's GC helpers, libuv's pool) for s3gate and the undici
// floor: the bench's CPU figures are the whole process's, a sampled profile sees the main thread.
//   node bench/threads.mjs [gw[:DIST][+FLAGS] ...] [undici]   env: N (20000), METHODS (GET,PUT)
import { openSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, waitForPort, stop, CLK_TCK } from './lib/procs.mjs';
import { ROOT, gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(600_000);
const N = Number(process.env.N ?? 20000);
const METHODS = (process.env.METHODS ?? 'GET,PUT').split(',');
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw', 'undici'];
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-thr-');
const small = smallObject(bucketDir);
function threads(pid) {
  const out = new Map();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
    const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
    out.set(`${t} ${comm}`, { comm, user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK });
  }
  return out;
}
for (const [i, name] of which.entries()) {
  const port = await freePort();
  let t;
  if (name.startsWith('gw')) t = await startS3gate(dir, port, upPort, { ...gatewayVariant(name), tag: `gw${i}` });
  else {
    const e = start(name, process.execPath, [path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), name, String(port), String(upPort)], { stdout: openSync(path.join(dir, `n${i}.log`), 'a') });
    await waitForPort(port, e);
    t = { ...e, stop: () => stop(e, 15_000) };
  }
  const reqs = await smallRequests(port, small);
  for (const m of METHODS) {
    await load(port, reqs[m], { connections: 64, amount: 5000 });
    const a = threads(t.pid);
    const r = await load(port, reqs[m], { connections: 64, amount: N });
    const b = threads(t.pid);
    const by = new Map();
    let total = 0;
    for (const [k, v] of b) {
      const p = a.get(k) ?? { user: 0, sys: 0 };
      const kind = k.endsWith(String(t.pid) + ' ' + v.comm) && k.startsWith(String(t.pid) + ' ') ? 'main' : v.comm.replace(/\d+$/, '').trim();
      const us = ((v.user - p.user + v.sys - p.sys) * 1e6) / r.requests;
      const sys = ((v.sys - p.sys) * 1e6) / r.requests;
      const e = by.get(kind) ?? { us: 0, sys: 0 };
      e.us += us; e.sys += sys; by.set(kind, e);
      total += us;
    }
    console.log(`${name.padEnd(16)} ${m}: ${total.toFixed(1)} µs/request; ` + [...by].filter(([, v]) => v.us > 0.05).map(([k, v]) => `${k} ${v.us.toFixed(1)} (sys ${v.sys.toFixed(1)})`).join(', '));
  }
  await t.stop();
}
await upstream.stop();
process.exit(0);
