// Throughput of the payload checksums and of the aws-chunked decoder.
//   npm run build && node --expose-gc bench/hashing.mjs [MiB-for-hashes=256] [MiB-for-decoder=1024]
// Reads the compiled module from dist/ (S3GATE_DIST overrides, e.g. a scratch outDir).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.S3GATE_DIST ?? path.join(here, '..', 'dist');
const { createChecksum } = await import(pathToFileURL(path.join(dist, 'payload', 'checksums.js')).href);
const { AwsChunkedDecoder } = await import(pathToFileURL(path.join(dist, 'payload', 'aws-chunked.js')).href);
const require = createRequire(import.meta.url);
const { AwsCrc32c } = require('@aws-crypto/crc32c');
const { Crc64Nvme } = require('@aws-sdk/crc64-nvme');
const { Sha256 } = require('@aws-crypto/sha256-js');

const hashMiB = Number(process.argv[2] ?? 256);
const decodeMiB = Number(process.argv[3] ?? 1024);
const MiB = 1 << 20;
const block = randomBytes(MiB);

async function measure(name, make) {
  const h = make();
  await h.update(block.subarray(0, 4096)); // warm-up outside the clock
  const t0 = process.hrtime.bigint();
  const h2 = make();
  for (let i = 0; i < hashMiB; i++) await h2.update(block);
  await h2.digest();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = hashMiB / s;
  console.log(`| ${name} | ${rate.toFixed(0)} |`);
  return rate;
}

const ours = (alg) => () => createChecksum(alg);
const wrap = (Ctor) => () => {
  const h = new Ctor();
  return { update: (b) => h.update(b), digest: () => h.digest() };
};

console.log(`node ${process.version}, ${process.arch}, ${hashMiB} MiB per algorithm in 1 MiB updates\n`);
console.log('| implementation | MiB/s |\n| --- | --- |');
await measure('crc32 — node zlib.crc32 (s3gate)', ours('crc32'));
await measure('crc32c — slice-by-8 (s3gate)', ours('crc32c'));
await measure('crc32c — @aws-crypto/crc32c', wrap(AwsCrc32c));
await measure('crc64nvme — slice-by-8 (s3gate)', ours('crc64nvme'));
await measure('crc64nvme — @aws-sdk/crc64-nvme (JS)', wrap(Crc64Nvme));
await measure('sha1 — node:crypto (s3gate)', ours('sha1'));
await measure('sha256 — node:crypto (s3gate)', ours('sha256'));
await measure('sha256 — @aws-crypto/sha256-js', wrap(Sha256));
await measure('md5 — node:crypto (s3gate)', ours('md5'));

// ---- aws-chunked decoder, flat memory -------------------------------------------------
const EMPTY = createHash('sha256').digest('hex');
const CHUNK = 64 * 1024;
const data = block.subarray(0, CHUNK);
const dataHash = createHash('sha256').update(data).digest('hex');
const key = createHmac('sha256', 'k').update('x').digest();
const datetime = '20130524T000000Z';
const scope = '20130524/us-east-1/s3/aws4_request';
const chunks = (decodeMiB * MiB) / CHUNK;

function* frames(mode, trailer) {
  let prev = 'a'.repeat(64);
  const sign = (h) =>
    (prev = createHmac('sha256', key).update(`AWS4-HMAC-SHA256-PAYLOAD\n${datetime}\n${scope}\n${prev}\n${EMPTY}\n${h}`).digest('hex'));
  const crlf = Buffer.from('\r\n');
  for (let i = 0; i < chunks; i++) {
    const ext = mode === 'signed' ? `;chunk-signature=${sign(dataHash)}` : '';
    yield Buffer.from(`${CHUNK.toString(16)}${ext}\r\n`);
    yield data;
    yield crlf;
  }
  yield Buffer.from(mode === 'signed' ? `0;chunk-signature=${sign(EMPTY)}\r\n\r\n` : `0\r\nx-amz-checksum-crc32:${trailer}\r\n\r\n`);
}

async function decode(mode) {
  let trailer;
  if (mode !== 'signed') {
    const c = createChecksum('crc32');
    for (let i = 0; i < chunks; i++) c.update(data);
    trailer = c.digest();
  }
  globalThis.gc?.();
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const d = new AwsChunkedDecoder({
    mode,
    decodedLength: decodeMiB * MiB,
    trailerNames: mode === 'signed' ? [] : ['x-amz-checksum-crc32'],
    signing: mode === 'signed' ? { signingKey: key, datetime, scope, seedSignature: 'a'.repeat(64) } : undefined,
  });
  let out = 0;
  const t0 = process.hrtime.bigint();
  await pipeline(
    Readable.from(frames(mode, trailer), { objectMode: false }),
    d,
    new Writable({
      write(c, _e, cb) {
        out += c.length;
        peak = Math.max(peak, process.memoryUsage.rss());
        cb();
      },
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  if (out !== decodeMiB * MiB) throw new Error(`decoded ${out}`);
  console.log(`| ${mode} | ${decodeMiB} MiB | ${(decodeMiB / s).toFixed(0)} | ${(rss0 / MiB).toFixed(0)} | ${(peak / MiB).toFixed(0)} |`);
}

console.log(`\n| aws-chunked mode (64 KiB chunks) | decoded | MiB/s | RSS before (MiB) | peak RSS (MiB) |\n| --- | --- | --- | --- | --- |`);
await decode('signed');
await decode('unsigned-trailer');
