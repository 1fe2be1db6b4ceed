// Microbenchmarks of the per-request signing work, in µs per operation, on compiled dist/.
//   npm run build && node bench/micro.mjs        (or: npm run bench -- --micro)
// The clock is pinned: every figure is for the same fixed request.
import { createHash, createHmac } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.S3GATE_DIST ?? path.join(here, '..', 'dist');
const imp = (p) => import(pathToFileURL(path.join(dist, p)).href);

const NOW = new Date('2025-01-15T12:00:00Z');
const KEY = { accessKeyId: 'MICROKEY', secretAccessKey: 'micro-secret-0123456789abcdefghijklmnop' };

// What nginx answers a 4 KiB GET with, as undici hands it over.
const UPSTREAM_HEADERS = {
  server: 'nginx/1.22.1', date: 'Sat, 21 Nov 2026 00:00:00 GMT', 'content-type': 'application/octet-stream', 'content-length': '4096',
  'last-modified': 'Sat, 21 Nov 2026 00:00:00 GMT', connection: 'keep-alive', etag: '"673f5e80-1000"', 'accept-ranges': 'bytes',
};

/** A node:crypto sha256 in smithy's Checksum shape, to show what the JS hash costs in signOutbound. */
class NodeSha256 {
  constructor(secret) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(d) {
    this.h.update(d);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

/** µs/op: median of `reps` timed batches after a warm-up batch. */
async function time(fn, { batch = 20_000, reps = 5 } = {}) {
  for (let i = 0; i < batch; i++) await fn();
  const per = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await fn();
    per.push(Number(process.hrtime.bigint() - t0) / 1e3 / batch);
  }
  per.sort((a, b) => a - b);
  return { us: per[Math.floor(reps / 2)], min: per[0], max: per[reps - 1] };
}

/** `batch` and `reps` shrink it for test/bench/micro.test.ts, which only checks that every case still runs. */
export async function runMicro(log = console.log, { batch = 20_000, reps = 5 } = {}) {
  const { authenticate } = await imp('authenticate/index.js');
  const { signOutbound } = await imp('resign/sign.js');
  const { buildOutbound } = await imp('resign/request.js');
  const { buildConfig } = await imp('config/load.js');
  const sig = await imp('signing/sigv4.js');
  const { classify, QueryView } = await imp('authorize/operation.js');
  const { answerHeaders, headerListOf } = await imp('rewrite/response.js');

  const cfg = buildConfig({
    listen: [{ address: '127.0.0.1:0' }],
    keys: [{ ...KEY, allow: [{ bucket: 'bench', actions: ['read', 'write'] }] }],
    upstreams: {
      up: { provider: 'minio', endpoint: 'http://127.0.0.1:9000', credentials: { accessKeyId: 'UPKEY', secretAccessKey: 'up-secret-0123456789abcdefghijklmnopqrs' } },
      // Dell ECS: SigV2 for data operations.
      ecs: { provider: 'dell-ecs', endpoint: 'http://127.0.0.1:9020', credentials: { accessKeyId: 'UPKEY', secretAccessKey: 'up-secret-0123456789abcdefghijklmnopqrs' } },
    },
    buckets: { bench: { upstream: 'up' } },
  }, here);
  const up = cfg.upstreams.get('up');
  const ecs = cfg.upstreams.get('ecs');

  // The fixed request: a header-signed GET and a presigned GET, as the SDK would send them.
  const host = 's3.example.com';
  const rawPath = '/bench/photos/2025/01/cat%20picture.jpg';
  const clientSigner = new SignatureV4({ credentials: KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const base = { method: 'GET', protocol: 'https:', hostname: host, path: rawPath, query: {} };
  const hdr = await clientSigner.sign({
    ...base,
    headers: { host, 'x-amz-content-sha256': sig.EMPTY_SHA256, 'user-agent': 'aws-sdk-js/3 micro', 'amz-sdk-invocation-id': '5e1c2a70-6a6b-4b4c-9a1f-1d2e3f4a5b6c', 'amz-sdk-request': 'attempt=1; max=3' },
  }, { signingDate: NOW });
  const headerInput = {
    method: 'GET', host, rawPath, rawQuery: '', now: NOW,
    headers: Object.fromEntries(Object.entries(hdr.headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const s3 = new S3Client({ endpoint: `https://${host}`, region: 'us-east-1', forcePathStyle: true, credentials: KEY });
  const preUrl = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'photos/2025/01/cat picture.jpg' }), { expiresIn: 3600, signingDate: NOW }));
  const rawQuery = preUrl.search.slice(1);
  const queryInput = { method: 'GET', host, rawPath, rawQuery, now: NOW, headers: { host } };
  if (authenticate(headerInput, cfg.keys, 'us-east-1').kind !== 'v4-header') throw new Error('header request did not verify');
  if (authenticate(queryInput, cfg.keys, 'us-east-1').kind !== 'v4-query') throw new Error('presigned request did not verify');

  const outbound = buildOutbound(up, {
    method: 'GET', upstreamBucket: 'bench', key: 'photos/2025/01/cat picture.jpg', query: [],
    headers: headerInput.headers, queryAuth: false,
  });
  const outboundEcs = buildOutbound(ecs, {
    method: 'GET', upstreamBucket: 'bench', key: 'photos/2025/01/cat picture.jpg', query: [],
    headers: headerInput.headers, queryAuth: false,
  });
  if (!signOutbound(ecs, 'GetObject', outboundEcs, sig.EMPTY_SHA256, NOW).authorization?.startsWith('AWS ')) throw new Error('dell-ecs GetObject was not signed with SigV2');
  const nodeSigner = new SignatureV4({ credentials: up.credentials, region: up.region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
  const smithyReq = {
    method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: outbound.path, query: {},
    headers: { ...outbound.headers, host: outbound.host, 'x-amz-content-sha256': sig.EMPTY_SHA256 },
  };
  const creqParts = () => ({
    method: 'GET',
    canonicalUri: sig.canonicalUri(rawPath),
    canonicalQuery: sig.canonicalQuery(sig.parseQuery(rawQuery), 'X-Amz-Signature'),
    headers: headerInput.headers,
    signedHeaders: ['amz-sdk-invocation-id', 'amz-sdk-request', 'host', 'x-amz-content-sha256', 'x-amz-date'],
    payloadHash: sig.EMPTY_SHA256,
  });

  // The provider's answer as the exchange keeps it (a flat list), made once: the undici floor reads it too.
  const upstreamList = headerListOf(UPSTREAM_HEADERS);
  const OWN_HEADERS = { 'x-amz-request-id': '0A1B2C3D00000001' };
  const cases = [
    ['authenticate() — SigV4 header auth, verify one GET', () => authenticate(headerInput, cfg.keys, 'us-east-1')],
    ['authenticate() — SigV4 presigned GET (query auth)', () => authenticate(queryInput, cfg.keys, 'us-east-1')],
    ['canonical request build (canonicalUri + canonicalQuery + canonicalRequest)', () => sig.canonicalRequest(creqParts())],
    ['signOutbound() — re-sign for the upstream (s3gate signer, node:crypto)', () => signOutbound(up, 'GetObject', outbound, sig.EMPTY_SHA256, NOW)],
    ['signOutbound() — re-sign with SigV2 (Dell ECS data operations)', () => signOutbound(ecs, 'GetObject', outboundEcs, sig.EMPTY_SHA256, NOW)],
    ['reference: smithy SignatureV4.sign with a node:crypto sha256', () => nodeSigner.sign(smithyReq, { signingDate: NOW })],
    ['parse the query, classify the operation, copy the answer\'s headers (presigned GET)', () => {
      classify('GET', 'bench', 'photos/2025/01/cat picture.jpg', new QueryView(sig.parseQuery(rawQuery)), queryInput.headers);
      return answerHeaders(upstreamList, OWN_HEADERS, false, 'bench', 'bench');
    }],
    ['buildOutbound() — outbound request shape', () => buildOutbound(up, { method: 'GET', upstreamBucket: 'bench', key: 'photos/2025/01/cat picture.jpg', query: [], headers: headerInput.headers, queryAuth: false })],
  ];
  const out = [];
  log(`node ${process.version}; µs per operation, median of ${reps} batches of ${batch} (min–max)\n`);
  log('| operation | µs/op | min–max |\n| --- | --- | --- |');
  for (const [name, fn] of cases) {
    const r = await time(fn, { batch, reps });
    out.push({ name, ...r });
    log(`| ${name} | ${r.us.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} |`);
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runMicro();
}
