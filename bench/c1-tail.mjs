// The bench's one-connection round on its own, to see where a gateway's p99 at c=1 comes from:
// each trial starts a fresh gateway, warms it with WARM s at c=1, runs DISCARD rounds that are
// dropped, then ROUNDS rounds of DURATION s, the nginx proxy (B) and the gateway (C) taking turns
// as in `npm run bench`, and prints each round's p99 and the median's C − B.
//   node bench/c1-tail.mjs [gw-variant ...]     (gw[:DIST][@NODE][+FLAG,...][%ENV=V,...], as quick.mjs)
//   env: TRIALS (3), ROUNDS (3), DURATION (5), WARM (2), DISCARD (0), METHOD (GET or PUT),
//   SPLIT=1 (C's rounds in 1 s loads, p99 by second), KEEP=DIR (copy each gateway's log there,
//   with --trace-gc or --trace-deopt among its flags)
// Session 13 found with it that the first measured round after the bench's 2 s warm-up carried
// V8's warm-up and a burst of deoptimisation (p99 0.7–3 ms for a second or two) and the later
// rounds did not; docs/performance.md, "Session 13".
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { installCleanup, freePort } from './lib/procs.mjs';
import { gatewayVariant, proxyConf, scratchUpstream, startNginx, startS3gate } from './lib/servers.mjs';
import { load, smallObject, smallRequests } from './lib/clients.mjs';

installCleanup(3_600_000);
const num = (n, d) => Number(process.env[n] ?? d);
const TRIALS = num('TRIALS', 3);
const ROUNDS = num('ROUNDS', 3);
const DURATION = num('DURATION', 5);
const WARM = num('WARM', 2);
const DISCARD = num('DISCARD', 0);
const METHOD = process.env.METHOD ?? 'GET';
const variants = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];
const { dir, bucketDir, nginx, upPort, upstream } = await scratchUpstream('s3gate-c1-');
const small = smallObject(bucketDir);
const bPort = await freePort();
const B = await startNginx(nginx, dir, 'proxyB', proxyConf(dir, bPort, upPort), bPort);
const bReq = (await smallRequests(bPort, small))[METHOD];
const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const f2 = (x) => x.toFixed(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One of C's rounds: one load, or with SPLIT one load per second (its p99 the median of theirs). */
async function roundOfC(port, req) {
  if (!process.env.SPLIT) return load(port, req, { connections: 1, duration: DURATION });
  const rs = [];
  for (let k = 0; k < DURATION; k++) rs.push(await load(port, req, { connections: 1, duration: 1 }));
  console.log(`  C p99 by second: ${rs.map((r) => f2(r.p99)).join(' ')}`);
  return { p99: med(rs.map((r) => r.p99)), p50: med(rs.map((r) => r.p50)), rps: med(rs.map((r) => r.rps)) };
}

const out = {};
for (let trial = 0; trial < TRIALS; trial++) {
  for (const [i, v] of variants.entries()) {
    const port = await freePort();
    const tag = `gw${trial}-${i}`;
    const C = await startS3gate(dir, port, upPort, { tag, ...gatewayVariant(v) });
    const cReq = (await smallRequests(port, small))[METHOD];
    await load(bPort, bReq, { connections: 1, duration: WARM });
    await load(port, cReq, { connections: 1, duration: WARM });
    const rs = { B: [], C: [] };
    for (let r = -DISCARD; r < ROUNDS; r++) {
      const b = await load(bPort, bReq, { connections: 1, duration: DURATION });
      await sleep(200);
      const c = await roundOfC(port, cReq);
      await sleep(200);
      if (r < 0) continue; // a dropped round
      rs.B.push(b);
      rs.C.push(c);
    }
    if (process.env.KEEP) copyFileSync(path.join(dir, `${tag}.log`), path.join(process.env.KEEP, `${tag}.log`));
    await C.stop();
    const d = med(rs.C.map((r) => r.p99)) - med(rs.B.map((r) => r.p99));
    (out[v] ??= []).push(d);
    console.log(`trial ${trial} ${v}: p99 B ${rs.B.map((r) => f2(r.p99)).join('/')} C ${rs.C.map((r) => f2(r.p99)).join('/')} → C − B ${f2(d)} ms; p50 C ${med(rs.C.map((r) => r.p50)).toFixed(3)} B ${med(rs.B.map((r) => r.p50)).toFixed(3)}; C ${med(rs.C.map((r) => r.rps)).toFixed(0)} req/s`);
  }
}
for (const [v, xs] of Object.entries(out)) console.log(`${v}: C − B p99 by trial ${xs.map(f2).join(' / ')}, median ${f2(med(xs))} ms`);
await B.stop();
await upstream.stop();
process.exit(0);
