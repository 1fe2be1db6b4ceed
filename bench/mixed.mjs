// Mixed load: 4 KiB GETs at c=64 for 4 s while one 1 GiB PUT (UNSIGNED-PAYLOAD) streams, per
// gateway variant in alternating rounds: GETs served, gateway CPU seconds for the whole, and peak
// RSS. What the streaming-memory collections (src/listen/memory.ts) cost the requests beside them.
//   node bench/mixed.mjs gw gw:OTHER/dist ...   (variants as in bench/quick.mjs; env ROUNDS, 3)
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { installCleanup, freePort, cpuSeconds, memStatus } from './lib/procs.mjs';
import { gatewayVariant, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { bigPut, load, presignGet, signHeaders } from './lib/clients.mjs';
installCleanup(900_000);
const MIB = 1024;
const { dir, bucketDir, upPort, upstream: up } = await scratchUpstream('s3gate-mixed-', () => {});
writeFileSync(path.join(bucketDir, 'obj-4k'), randomBytes(4096));
const block = randomBytes(2 ** 20);
const gws = [];
for (const [i, w] of process.argv.slice(2).entries()) {
  const port = await freePort();
  gws.push({ w, port, gw: await startS3gate(dir, port, upPort, { tag: `g${i}`, ...gatewayVariant(w) }), res: [] });
}
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  for (const g of gws) {
    const get = await presignGet(g.port, 'obj-4k');
    const put = await signHeaders(g.port, 'PUT', 'big-put', 'UNSIGNED-PAYLOAD', { 'content-length': String(MIB * 2 ** 20) });
    const c0 = cpuSeconds(g.gw.pid);
    const [r] = await Promise.all([
      load(g.port, { method: 'GET', path: get.path, headers: { host: get.host } }, { connections: 64, duration: 4 }),
      bigPut(g.port, put.path, put.headers, block, MIB),
    ]);
    const cpu = cpuSeconds(g.gw.pid) - c0;
    g.res.push({ cpu, gets: r.requests, rss: memStatus(g.gw.pid).hwm });
  }
}
for (const g of gws) console.log(g.w.padEnd(30), g.res.map((x) => `${x.cpu.toFixed(2)} s CPU, ${x.gets} GETs, ${((x.cpu * 1e6) / x.gets).toFixed(0)} µs/GET incl. the PUT, peak ${x.rss.toFixed(0)} MiB`).join(' | '));
for (const g of gws) await g.gw.stop();
await up.stop();
process.exit(0);
