// What s3gate and the undici floor (N) write to the upstream's socket for one 4 KiB PUT, and with
// which socket calls: each target runs under `strace -f -e trace=network,write,writev`, serves 200
// PUTs at c=1 after a warm-up, and the syscalls on the upstream connection are counted per request.
//   node bench/strace-put.mjs [gw] [undici]     (needs strace; TRACE=trace=... to change the set;
//   C=64 for the connections, COUNT=n requests, METHOD=GET)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, waitForPort } from './lib/procs.mjs';
import { ROOT, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(300_000);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw', 'undici'];
const { dir, bucketDir, upPort } = await scratchUpstream('s3gate-strace-');
const small = smallObject(bucketDir);
const COUNT = Number(process.env.COUNT ?? 200);
const C = Number(process.env.C ?? 1);
for (const name of which) {
  const port = await freePort();
  let t;
  if (name === 'gw') t = await startS3gate(dir, port, upPort, { tag: 'gw' });
  else {
    const e = start(name, process.execPath, [path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), name, String(port), String(upPort)]);
    await waitForPort(port, e);
    t = { ...e, cpuPids: [e.pid] };
  }
  const reqs = await smallRequests(port, small);
  await load(port, reqs.PUT, { connections: 1, amount: 500 });
  const out = path.join(dir, `${name}.strace`);
  const tracer = spawn('strace', ['-f', '-qq', '-e', process.env.TRACE ?? 'trace=network,write,writev,sendmsg', '-o', out, '-p', String(t.cpuPids[0])], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  await load(port, reqs[process.env.METHOD ?? 'PUT'], { connections: C, amount: COUNT });
  tracer.kill('SIGINT');
  await new Promise((r) => tracer.on('exit', r));
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const calls = {};
  const sizes = {};
  for (const l of lines) {
    const m = /^\d+\s+(\w+)\((\d+)?.*= (-?\d+)/.exec(l);
    if (!m) continue;
    const key = m[2] !== undefined ? `${m[1]}(fd ${m[2]})` : m[1];
    calls[key] = (calls[key] ?? 0) + 1;
    if (['write', 'writev', 'sendmsg', 'sendto'].includes(m[1])) (sizes[m[1]] ??= []).push(Number(m[3]));
  }
  const per = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, (v / COUNT).toFixed(2)]));
  const sizeNote = Object.entries(sizes).map(([k, v]) => `${k}: ${[...new Set(v)].sort((a, b) => a - b).slice(0, 12).join(',')}`).join('; ');
  console.log(`${name}: per PUT ${JSON.stringify(per)}; sizes ${sizeNote}`);
  const seen = new Set();
  const examples = lines.filter((l) => {
    const k = /^\d+\s+(\w+\(\d*)/.exec(l)?.[1];
    if (!k || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  console.log(`  one of each: ${examples.map((l) => l.replace(/^\d+\s+/, '').slice(0, 150)).join('\n        ')}`);
}
process.exit(0);
