// The SigV4 work of one small request, side by side for several builds: presigned GET and
// header-signed PUT verification (authenticate(), the query parsed as the pipeline does) and the
// outbound re-sign. µs per call, median and min of 6 rounds of 20,000 calls, builds interleaved in
// each round (CPU time moves with the machine's load; compare builds within one run only).
//   node bench/sign-ab.mjs /tmp/base/dist dist        env: R (7 rounds, the first a warm-up)
// With ALLOC_CASE=i (bench/sign-alloc.mjs sets it) it prints the heap bytes of one case per call.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
const dists = process.argv.slice(2);
const NOW = new Date('2025-01-15T12:00:00Z');
const KEY = { accessKeyId: 'MICROKEY', secretAccessKey: 'micro-secret-0123456789abcdefghijklmnop' };
const host = 's3.example.com';
const rawPath = '/bench/obj-4k';
const s3 = new S3Client({ endpoint: `https://${host}`, region: 'us-east-1', forcePathStyle: true, credentials: { ...KEY } });
const preUrl = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'obj-4k' }), { expiresIn: 3600, signingDate: NOW }));
const rawQuery = preUrl.search.slice(1);
const clientSigner = new SignatureV4({ credentials: { ...KEY }, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
const body = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const hdr = await clientSigner.sign({ method: 'PUT', protocol: 'http:', hostname: host, path: rawPath, query: {}, headers: { host, 'x-amz-content-sha256': body, 'content-length': '4096', 'user-agent': 'aws-sdk-js/3 micro' } }, { signingDate: NOW });
const headers = Object.fromEntries(Object.entries(hdr.headers).map(([k, v]) => [k.toLowerCase(), v]));
const targets = [];
for (const d of dists) {
  const imp = (p) => import(pathToFileURL(path.join(d, p)).href);
  const { authenticate } = await imp('authenticate/index.js');
  const { signOutbound } = await imp('resign/sign.js');
  const { buildOutbound, queryString } = await imp('resign/request.js');
  const { buildConfig } = await imp('config/load.js');
  const sig = await imp('signing/sigv4.js');
  const cfg = buildConfig({
    listen: [{ address: '127.0.0.1:0' }], keys: [{ ...KEY, allow: [{ bucket: 'bench', actions: ['read', 'write'] }] }],
    upstreams: { up: { provider: 'minio', endpoint: 'http://127.0.0.1:9000', credentials: { accessKeyId: 'UPKEY', secretAccessKey: 'up-secret-0123456789abcdefghijklmnopqrs' } } },
    buckets: { bench: { upstream: 'up' } },
  }, '/tmp');
  const up = cfg.upstreams.get('up');
  const gIn = () => ({ method: 'GET', host, rawPath, rawQuery, query: sig.parseQuery(rawQuery), now: NOW, headers: { host } });
  const pIn = () => ({ method: 'PUT', host, rawPath, rawQuery: '', query: [], now: NOW, headers });
  if (authenticate(gIn(), cfg.keys, 'us-east-1').kind !== 'v4-query') throw new Error('get');
  if (authenticate(pIn(), cfg.keys, 'us-east-1').kind !== 'v4-header') throw new Error('put');
  const outG = buildOutbound(up, { method: 'GET', upstreamBucket: 'bench', key: 'obj-4k', query: [], headers: {} });
  const outP = buildOutbound(up, { method: 'PUT', upstreamBucket: 'bench', key: 'obj-4k', query: [], headers: { 'content-length': '4096' } });
  targets.push({ d, cases: {
    'presigned GET verify (parseQuery + authenticate)': () => authenticate(gIn(), cfg.keys, 'us-east-1'),
    'header PUT verify': () => authenticate(pIn(), cfg.keys, 'us-east-1'),
    'signOutbound GET': () => signOutbound(up, 'GetObject', outG, 'UNSIGNED-PAYLOAD', NOW),
    'signOutbound PUT': () => signOutbound(up, 'PutObject', outP, body, NOW),
    // as send() and forward() do it for the bench's presigned GET, whose view keeps x-id: a new
    // outbound request, its signature and the query for the wire
    'build + sign + wire query, GET ?x-id': () => {
      const o = buildOutbound(up, { method: 'GET', upstreamBucket: 'bench', key: 'obj-4k', query: [['x-id', 'GetObject']], headers: {} });
      const h = signOutbound(up, 'GetObject', o, 'UNSIGNED-PAYLOAD', NOW);
      return [h, o.encodedQuery ?? queryString(o.query)];
    },
  } });
}
const names = Object.keys(targets[0].cases);
if (process.env.ALLOC_CASE) {
  // one dist, one case: bytes counted from --trace-gc-nvp between the markers by the parent
  const fn = targets[0].cases[names[Number(process.env.ALLOC_CASE)]];
  for (let i = 0; i < 20000; i++) fn();
  const n = 5000;
  globalThis.gc();
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) fn();
  const h1 = process.memoryUsage().heapUsed;
  console.log('BYTES', (h1 - h0) / n);
  process.exit(0);
}
const B = 20000, R = Number(process.env.R ?? 7);
const res = new Map();
for (let r = 0; r < R; r++) for (const name of names) for (const t of targets) {
  const fn = t.cases[name];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < B; i++) fn();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / B;
  if (r > 0) { const k = name + '|' + t.d; (res.get(k) ?? res.set(k, []).get(k)).push(us); }
}
for (const name of names) {
  console.log(name);
  for (const t of targets) {
    const a = res.get(name + '|' + t.d).sort((x, y) => x - y);
    console.log(`  ${a[a.length >> 1].toFixed(2)} µs (min ${a[0].toFixed(2)})  ${t.d}`);
  }
}
