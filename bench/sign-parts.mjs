// Single functions of the SigV4 work, side by side for several builds: ns per call, min and
// median of R rounds of B calls, builds interleaved in each round, over 64 inputs shaped as the
// bench's clients send them (flat strings, as the HTTP parser hands them over, so that no
// constant folds). For the whole verification and re-signing, bench/sign-ab.mjs.
//   node bench/sign-parts.mjs /tmp/base/dist dist      env: R (9 rounds, the first a warm-up), B (100000), ONLY (case names, comma-separated)
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dists = process.argv.slice(2);
const R = Number(process.env.R ?? 9);
const B = Number(process.env.B ?? 100_000);
const only = process.env.ONLY?.split(',');
const flat = (s) => Buffer.from(s, 'latin1').toString('latin1');
const inputs = (f) => Array.from({ length: 64 }, (_, i) => flat(f(i)));
const hex = (i) => (i * 7919 + 1).toString(16).padStart(64, 'a');
const queries = inputs((i) => `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=MICROKEY%2F202501${10 + (i % 18)}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=202501${10 + (i % 18)}T12${10 + (i % 40)}00Z&X-Amz-Expires=3600&X-Amz-Signature=${hex(i)}&X-Amz-SignedHeaders=host&x-id=GetObject`);
const authz = inputs((i) => `AWS4-HMAC-SHA256 Credential=MICROKEY/202501${10 + (i % 18)}/us-east-1/s3/aws4_request, SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date, Signature=${hex(i)}`);
const dates = inputs((i) => `202501${10 + (i % 18)}T12${10 + (i % 40)}00Z`);
const keys = inputs((i) => `/bench/obj-${i}k`);

const targets = [];
for (const d of dists) {
  const imp = (p) => import(pathToFileURL(path.join(d, p)).href);
  const sig = await imp('signing/sigv4.js');
  const auth = await imp('authenticate/sigv4.js');
  targets.push({ d, cases: {
    canonicalQueryFromRaw: (i) => sig.canonicalQueryFromRaw(queries[i], 'X-Amz-Signature'),
    parseQuery: (i) => sig.parseQuery(queries[i]),
    // the fields every build gives (signedHeadersText is newer)
    parseAuthorizationV4: (i) => { const p = auth.parseAuthorizationV4(authz[i]); return [p.credential, p.signedHeaders, p.signature]; },
    amzDateMs: (i) => sig.amzDateMs(dates[i]),
    canonicalUri: (i) => sig.canonicalUri(keys[i]),
  } });
}
// every build answers the same
for (const name of Object.keys(targets[0].cases)) {
  for (let i = 0; i < 64; i++) {
    const a = JSON.stringify(targets[0].cases[name](i));
    for (const t of targets) if (JSON.stringify(t.cases[name](i)) !== a) throw new Error(`${name} differs in ${t.d}`);
  }
}
const names = Object.keys(targets[0].cases).filter((n) => !only || only.includes(n));
const res = new Map();
let sink;
for (let r = 0; r < R; r++) for (const name of names) for (const t of targets) {
  const fn = t.cases[name];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < B; i++) sink = fn(i & 63);
  const ns = Number(process.hrtime.bigint() - t0) / B;
  if (r > 0) { const k = name + '|' + t.d; (res.get(k) ?? res.set(k, []).get(k)).push(ns); }
}
for (const name of names) {
  console.log(name);
  for (const t of targets) {
    const a = res.get(name + '|' + t.d).sort((x, y) => x - y);
    console.log(`  ${a[0].toFixed(0).padStart(6)} ns min, ${a[a.length >> 1].toFixed(0)} median  ${t.d}`);
  }
}
if (sink === 42) console.log();
