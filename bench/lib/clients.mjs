// What the clients send: real SigV4 (presigned GET URLs, header-signed PUTs, the SDK's own
// uploads), the autocannon load loop with exact latencies, and single-stream big transfers.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { Readable } from 'node:stream';
import autocannon from 'autocannon';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BUCKET, GW_KEY } from './servers.mjs';
import { CHUNK, STREAMING_SIGNED, chunkSigningFrom, signedChunkedFrames, signedChunkedLength } from './chunked.mjs';

const REGION = 'us-east-1';

function sdk(port, onSigned) {
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    forcePathStyle: true,
    credentials: GW_KEY,
    maxAttempts: 1,
  });
  if (onSigned) {
    s3.middlewareStack.addRelativeTo(
      (next) => async (args) => {
        onSigned(args.request.headers);
        return next(args);
      },
      { relation: 'after', toMiddleware: 'awsAuthMiddleware', name: 'benchObserveSigned' },
    );
  }
  return s3;
}

/** The 4 KiB object of the small-request loops, written as obj-4k in the bucket's directory, with its sha256 for signed PUTs. */
export function smallObject(bucketDir) {
  const body = randomBytes(4096);
  writeFileSync(path.join(bucketDir, 'obj-4k'), body);
  return { body, sha256: createHash('sha256').update(body).digest('hex') };
}

/** The two requests of the small-request loops, signed for the server on `port`: a presigned GET of obj-4k and a header-signed PUT of put-4k. */
export async function smallRequests(port, small) {
  const g = await presignGet(port, 'obj-4k');
  const s = await signHeaders(port, 'PUT', 'put-4k', small.sha256);
  return {
    GET: { method: 'GET', path: g.path, headers: { host: g.host } },
    PUT: { method: 'PUT', path: s.path, headers: s.headers, body: small.body },
  };
}

/**
 * The 4 KiB PUT in the two aws-chunked forms: `PUT-TRAILER` (STREAMING-UNSIGNED-PAYLOAD-TRAILER
 * with a CRC32 trailer, what the AWS SDKs send by default) and `PUT-CHUNKED` (signed chunks).
 * Content-Length is signed but left to the load generator to send.
 */
export async function smallChunkedPuts(port, small) {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(small.body));
  const wire = Buffer.concat([Buffer.from(`${small.body.length.toString(16)}\r\n`), small.body, Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${crc.toString('base64')}\r\n\r\n`)]);
  const t = await signHeaders(port, 'PUT', 'put-4k-trailer', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', {
    'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(small.body.length), 'x-amz-trailer': 'x-amz-checksum-crc32',
    'content-length': String(wire.length),
  });
  const c = await signChunkedPut(port, 'put-4k-chunked', small.body.length);
  const frames = Buffer.concat([...signedChunkedFrames([{ data: small.body }], c.signing)]);
  const unsent = (h) => Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== 'content-length'));
  return {
    'PUT-TRAILER': { method: 'PUT', path: t.path, headers: unsent(t.headers), body: wire },
    'PUT-CHUNKED': { method: 'PUT', path: c.path, headers: unsent(c.headers), body: frames },
  };
}

/** Path + query of a presigned GET for s3gate's host (valid 1 h). */
export async function presignGet(gwPort, key) {
  const url = new URL(await getSignedUrl(sdk(gwPort), new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 3600 }));
  return { path: url.pathname + url.search, host: url.host };
}

const signer = new SignatureV4({ credentials: GW_KEY, region: REGION, service: 's3', sha256: Sha256, uriEscapePath: false });

/** Header-signed request headers (Authorization, x-amz-date, x-amz-content-sha256, host). */
export async function signHeaders(gwPort, method, key, payloadHash, extra = {}) {
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: gwPort,
    path: `/${BUCKET}/${key}`,
    query: {},
    headers: { host: `127.0.0.1:${gwPort}`, 'x-amz-content-sha256': payloadHash, ...extra },
  });
  return { path: `/${BUCKET}/${key}`, headers: signed.headers };
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * One autocannon run against 127.0.0.1:port. Latencies are taken from autocannon's per-response
 * event (float ms), not its histogram, which keeps whole milliseconds only.
 * `amount` bounds the run by count instead of time; both are bounded.
 */
export function load(port, req, { connections, duration, amount }) {
  return new Promise((resolve, reject) => {
    let lat = new Float64Array(1 << 16);
    let n = 0;
    let ok = 0;
    let bad = 0;
    const opts = {
      url: `http://127.0.0.1:${port}`,
      connections,
      pipelining: 1,
      requests: [{ method: req.method, path: req.path, headers: req.headers, ...(req.body ? { body: req.body } : {}) }],
      timeout: 10,
      ...(amount ? { amount, duration: 120 } : { duration }),
    };
    const t0 = process.hrtime.bigint();
    const inst = autocannon(opts, (err, res) => {
      if (err) return reject(err);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const sorted = lat.subarray(0, n).sort();
      resolve({
        requests: n,
        ok,
        non2xx: bad,
        errors: res.errors,
        timeouts: res.timeouts,
        seconds: secs,
        rps: ok / secs,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        mean: sorted.reduce((a, b) => a + b, 0) / (n || 1),
      });
    });
    inst.on('response', (_client, status, _bytes, ms) => {
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = ms;
      if (status >= 200 && status < 300) ok++;
      else bad++;
    });
  });
}

function* blocks(block, count) {
  for (let i = 0; i < count; i++) yield block;
}

function finish(req, t0, resolve, reject, expectBytes) {
  req.on('response', (res) => {
    let bytes = 0;
    res.on('data', (c) => {
      bytes += c.length;
    });
    res.on('end', () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (res.statusCode < 200 || res.statusCode >= 300) return reject(new Error(`HTTP ${res.statusCode}`));
      if (expectBytes !== undefined && bytes !== expectBytes) return reject(new Error(`got ${bytes} bytes, expected ${expectBytes}`));
      resolve({ seconds, status: res.statusCode, bytes });
    });
    res.on('error', reject);
  });
  req.on('error', reject);
  req.setTimeout(300_000, () => req.destroy(new Error('timed out')));
}

/** Single-stream PUT of `count` × block with the given (signed) headers. */
export function bigPut(port, path, headers, block, count) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path, headers, agent: false });
    finish(req, t0, resolve, reject);
    Readable.from(blocks(block, count), { objectMode: false }).pipe(req);
  });
}

/**
 * Headers for a signed aws-chunked PUT (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) of `decodedLength`
 * bytes in `chunkSize` chunks: Content-Encoding, x-amz-decoded-content-length and the framed
 * Content-Length are among the signed headers. Returns the chunk signing parameters too
 * (seed = the Authorization header's signature).
 */
export async function signChunkedPut(gwPort, key, decodedLength, chunkSize = CHUNK) {
  const wireLength = signedChunkedLength(decodedLength, chunkSize);
  const { path, headers } = await signHeaders(gwPort, 'PUT', key, STREAMING_SIGNED, {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(decodedLength),
    'content-length': String(wireLength),
  });
  return { path, headers, wireLength, signing: chunkSigningFrom(headers, GW_KEY.secretAccessKey) };
}

/** Signed aws-chunked body of `chunks` ({ data, hash? } pieces) as a Buffer (small sanity uploads). */
export function chunkedBody(chunks, signing) {
  return Buffer.concat([...signedChunkedFrames(chunks, signing)]);
}

/** Single-stream PUT whose body is the given iterable of Buffers (already framed). */
export function streamPut(port, path, headers, frames) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path, headers, agent: false });
    finish(req, t0, resolve, reject);
    Readable.from(frames, { objectMode: false }).pipe(req);
  });
}

/** Single-stream GET, body counted and discarded. */
export function bigGet(port, path, headers, expectBytes) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path, headers, agent: false });
    finish(req, t0, resolve, reject, expectBytes);
    req.end();
  });
}

/** PutObject with the JS SDK's defaults and a stream body: what the SDK sends is recorded. */
export async function sdkPut(port, key, block, count) {
  let sent;
  const s3 = sdk(port, (h) => {
    sent = { 'x-amz-content-sha256': h['x-amz-content-sha256'], 'content-encoding': h['content-encoding'], 'x-amz-trailer': h['x-amz-trailer'] };
  });
  const t0 = process.hrtime.bigint();
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Readable.from(blocks(block, count)), ContentLength: block.length * count }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  s3.destroy();
  return { seconds, sent };
}

/** A raw HTTP exchange for the sanity checks. */
export function exchange(port, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}
