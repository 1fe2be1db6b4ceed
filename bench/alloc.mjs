// Bytes V8 allocates and promotes per 4 KiB request, and GCs per request: counts that do not
// depend on how loaded the machine is, unlike CPU time. Each target runs with --trace-gc-nvp,
// serves a warm-up, then N requests at c=64; the GC lines of that window are summed.
//   node bench/alloc.mjs [gw[:DIST_DIR][+FLAG,...] ...] [undici]   env: N (20000), METHODS (GET,PUT; also
//   PUT-TRAILER, PUT-CHUNKED: the 4 KiB PUT aws-chunked, unsigned with a CRC32 trailer as the SDKs send it, or signed), C (connections, 64)
// The GC pauses (ms per 1000 requests, and the longest) move with the load; at C=1 they are what
// a request at one connection waits for.
import { openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort, start, waitForPort } from './lib/procs.mjs';
import { ROOT, gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { load, smallChunkedPuts, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(600_000);
const N = Number(process.env.N ?? 20000);
const METHODS = (process.env.METHODS ?? 'GET,PUT').split(',');
const C = Number(process.env.C ?? 64);
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw', 'undici'];
const { dir, bucketDir, upPort, upstream } = await scratchUpstream('s3gate-alloc-');
const small = smallObject(bucketDir);
for (const [i, name] of which.entries()) {
  const port = await freePort();
  let t;
  let logFile;
  if (name.startsWith('gw')) {
    const v = gatewayVariant(name);
    t = await startS3gate(dir, port, upPort, { ...v, tag: `gw${i}`, nodeFlags: [...(v.nodeFlags ?? []), '--trace-gc-nvp'] });
    logFile = path.join(dir, `gw${i}.log`);
  } else {
    logFile = path.join(dir, `${name}${i}.log`);
    const e = start(name, process.execPath, ['--trace-gc-nvp', path.join(ROOT, 'bench', 'lib', 'floor-server.mjs'), name, String(port), String(upPort)], { stdout: openSync(logFile, 'a') });
    await waitForPort(port, e);
    t = { ...e, stop: async () => process.kill(e.pid) };
  }
  const reqs = { ...await smallRequests(port, small), ...await smallChunkedPuts(port, small) };
  for (const m of METHODS) {
    await load(port, reqs[m], { connections: C, amount: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    const from = statSync(logFile).size;
    const r = await load(port, reqs[m], { connections: C, amount: N });
    await new Promise((r) => setTimeout(r, 300));
    const text = readFileSync(logFile).subarray(from).toString('latin1');
    let allocated = 0;
    let promoted = 0;
    let scavenges = 0;
    let marks = 0;
    let pause = 0;
    let longest = 0;
    for (const l of text.split('\n')) {
      const gc = / gc=(\w+)/.exec(l)?.[1];
      if (!gc) continue;
      // a memory-reducing GC may print a wrapped-around figure
      const a = Number(/ allocated=(\d+)/.exec(l)?.[1] ?? 0);
      if (a < 2 ** 40) allocated += a;
      promoted += Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0);
      const p = Number(/ pause=([\d.]+)/.exec(l)?.[1] ?? 0);
      pause += p;
      longest = Math.max(longest, p);
      if (gc === 's') scavenges++;
      else marks++;
    }
    console.log(`${name.padEnd(20)} ${m}: ${(allocated / r.requests / 1024).toFixed(2)} KiB allocated, ${(promoted / r.requests).toFixed(0)} B promoted per request; ` +
      `${((scavenges * 1000) / r.requests).toFixed(2)} scavenges and ${((marks * 1000) / r.requests).toFixed(3)} mark-compacts per 1000 requests; GC pauses ${((pause * 1000) / r.requests).toFixed(1)} ms per 1000 requests, longest ${longest.toFixed(2)} ms; p99 ${r.p99.toFixed(2)} ms`);
  }
  await t.stop();
}
await upstream.stop();
process.exit(0);
