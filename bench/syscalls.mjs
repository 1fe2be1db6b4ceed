// The system calls s3gate and the undici floor (N) make per 4 KiB request at c=64, counted by
// `perf trace -s` (kernel tracepoints: cheap enough not to stall the traced process, unlike
// strace with `read` traced), attached to every thread of the target during COUNT requests.
//   node bench/syscalls.mjs [gw[:DIST]...] [undici]    env: METHOD (PUT), C (64), COUNT (20000)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { installCleanup, freePort, start, waitForPort, cpuSplit } from './lib/procs.mjs';
import { ROOT, gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(300_000);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw', 'undici'];
const METHOD = process.env.METHOD ?? 'PUT';
const C = Number(process.env.C ?? 64);
const COUNT = Number(process.env.COUNT ?? 20000);
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-syscalls-');
const small = smallObject(bucketDir);
for (const name of which) {
  const port = await freePort();
  let t;
  if (name.startsWith('gw')) t = await startS3gate(dir, port, upPort, { tag: 'gw', ...gatewayVariant(name) });
  else {
    const e = start(name, process.execPath, [path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), name, String(port), String(upPort)]);
    await waitForPort(port, e);
    t = { ...e, cpuPids: [e.pid], stop: async () => process.kill(e.pid) };
  }
  const reqs = await smallRequests(port, small);
  await load(port, reqs[METHOD], { connections: C, amount: 5000 });
  let err = '';
  const tracer = spawn('perf', ['trace', '-s', '-p', String(t.cpuPids[0])], { stdio: ['ignore', 'ignore', 'pipe'] });
  tracer.stderr.on('data', (d) => (err += d));
  await new Promise((r) => setTimeout(r, 1500));
  const c0 = cpuSplit(t.cpuPids[0]);
  const r = await load(port, reqs[METHOD], { connections: C, amount: COUNT });
  const c1 = cpuSplit(t.cpuPids[0]);
  tracer.kill('SIGINT');
  await new Promise((res) => tracer.on('exit', res));
  const calls = {};
  const ms = {};
  for (const l of err.split('\n')) {
    const m = /^\s+(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)/.exec(l);
    if (!m) continue;
    calls[m[1]] = (calls[m[1]] ?? 0) + Number(m[2]);
    ms[m[1]] = (ms[m[1]] ?? 0) + Number(m[4]);
  }
  const per = Object.entries(calls).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / r.requests).toFixed(2)} (${((ms[k] * 1000) / r.requests).toFixed(1)} µs)`).join(', ');
  console.log(`${name} ${METHOD} c=${C}: ${r.requests} requests; per request: ${per}; CPU ${(((c1.user + c1.sys - c0.user - c0.sys) * 1e6) / r.requests).toFixed(1)} µs (kernel ${(((c1.sys - c0.sys) * 1e6) / r.requests).toFixed(1)}) under tracing`);
  await t.stop();
}
await upstream.stop();
process.exit(0);
