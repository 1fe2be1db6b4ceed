// Default-config SDK uploads (aws-chunked, trailers, checksum headers) through s3gate into an
// upstream that, like Ceph RGW 16, refuses aws-chunked and demands Content-Length. Corrupted
// uploads get AWS's error and leave nothing upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testLookup } from '../upstream/resolve.js';
import { afterSigning, client, DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls.js';
import { failure } from '../helpers/gateway.js';

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let httpsPort: number;
const cert = selfSignedCert([DOMAIN, `*.${DOMAIN}`]);

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    listen: [{ address: '127.0.0.1:0', tls: { cert: cert.cert, key: cert.key } }],
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { rgw16: { provider: 'linode', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'rgw16' } },
  });
  httpsPort = portOf(gw.url);
  await upstream.store.handle({ method: 'PUT', bucket: 'uploads', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

/** The SDK exactly as users have it: default checksum settings, over HTTPS. */
function sdk() {
  return client(`https://${DOMAIN}:${httpsPort}`, GW_KEY, {
    forcePathStyle: true,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: cert.pem, lookup: testLookup as never, keepAlive: true }) }),
  });
}

/** A CRC32 as S3 writes it: the big-endian value in base64. */
function crc32Of(data: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(zlib.crc32(data));
  return b.toString('base64');
}

async function exists(key: string): Promise<boolean> {
  try {
    await upstream.store.handle({ method: 'HEAD', bucket: 'uploads', key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    return true;
  } catch {
    return false;
  }
}


describe('default-config SDK uploads through s3gate', () => {
  it('a stream body arrives as STREAMING-UNSIGNED-PAYLOAD-TRAILER and is stored decoded', async () => {
    const data = randomBytes(300_000);
    const out = await sdk().send(new PutObjectCommand({ Bucket: 'uploads', Key: 'stream.bin', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
    // The trailer's CRC32, verified by s3gate, comes back as S3 gives it; the provider knew none.
    expect([out.ChecksumCRC32, out.ChecksumType]).toEqual([crc32Of(data), 'FULL_OBJECT']);
    const seen = gw.sink.lines.find((l) => l.op === 'PutObject' && l.status === 200);
    expect(seen).toBeDefined();
    const put = upstream.requests.find((r) => r.key === 'stream.bin' && r.operation === 'PutObject')!;
    expect(put.headers['content-encoding']).toBeUndefined();
    expect(put.headers['content-length']).toBe(String(data.length));
    expect(put.headers['x-amz-trailer']).toBeUndefined();
    expect(put.payloadHash).toBe('UNSIGNED-PAYLOAD');
    const got = await sdk().send(new GetObjectCommand({ Bucket: 'uploads', Key: 'stream.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });

  it('a Buffer body with its CRC32 header is verified and the header dropped for a provider that refuses it', async () => {
    const data = randomBytes(5000);
    const out = await sdk().send(new PutObjectCommand({ Bucket: 'uploads', Key: 'buffer.bin', Body: data }));
    expect([out.ChecksumCRC32, out.ChecksumType]).toEqual([crc32Of(data), 'FULL_OBJECT']);
    const put = upstream.requests.find((r) => r.key === 'buffer.bin' && r.operation === 'PutObject')!;
    expect(put.headers['x-amz-checksum-crc32']).toBeUndefined();
    expect(put.headers['x-amz-sdk-checksum-algorithm']).toBeUndefined();
    expect(await exists('buffer.bin')).toBe(true);
  });

  it('lib-storage Upload of a 50 MiB stream (multipart with trailers) reads back equal', async () => {
    const part = randomBytes(1024 * 1024);
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.concat([Buffer.from([i]), part.subarray(1)]));
    const up = new Upload({ client: sdk(), params: { Bucket: 'uploads', Key: 'big.bin', Body: Readable.from(chunks) }, partSize: 8 * 1024 * 1024, queueSize: 2 });
    await up.done();
    const got = await sdk().send(new GetObjectCommand({ Bucket: 'uploads', Key: 'big.bin', ChecksumMode: 'ENABLED' }));
    const back = Buffer.from(await got.Body!.transformToByteArray());
    expect(back.length).toBe(50 * 1024 * 1024);
    expect(back.equals(Buffer.concat(chunks))).toBe(true);
    expect(upstream.requests.filter((r) => r.operation === 'UploadPart' && r.status === 200).length).toBeGreaterThanOrEqual(7);
  });
});

describe('corrupted uploads: the AWS error, nothing stored upstream', () => {
  const framed = (data: Buffer, trailer: string) =>
    Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from(`\r\n0\r\n${trailer}\r\n\r\n`)]);

  it('wrong trailer CRC → BadDigest', async () => {
    const data = Buffer.from('x'.repeat(1000));
    const s3 = afterSigning(sdk(), (r) => {
      r.body = framed(data, 'x-amz-checksum-crc32:AAAAAA==');
      delete r.headers['content-length'];
    });
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'bad-crc', Body: Readable.from([data]), ContentLength: 1000 })));
    expect(e.name).toBe('BadDigest');
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(await exists('bad-crc')).toBe(false);
  });

  it('wrong checksum header → BadDigest; wrong Content-MD5 → BadDigest', async () => {
    const e = await failure(sdk().send(new PutObjectCommand({ Bucket: 'uploads', Key: 'bad-header', Body: Buffer.from('hello'), ChecksumCRC32: 'AAAAAA==' })));
    expect(e.name).toBe('BadDigest');
    const e2 = await failure(sdk().send(new PutObjectCommand({ Bucket: 'uploads', Key: 'bad-md5', Body: Buffer.from('hello'), ContentMD5: '1B2M2Y8AsgTpgAmY7PhCfg==' })));
    expect(e2.name).toBe('BadDigest');
    expect(await exists('bad-header')).toBe(false);
    expect(await exists('bad-md5')).toBe(false);
  });

  it('truncated framing and bad framing → the AWS error', async () => {
    const data = Buffer.from('y'.repeat(1000));
    const truncated = afterSigning(sdk(), (r) => {
      r.body = framed(data, 'x-amz-checksum-crc32:AAAAAA==').subarray(0, 500);
      delete r.headers['content-length'];
    });
    const e = await failure(truncated.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'truncated', Body: Readable.from([data]), ContentLength: 1000 })));
    expect(e.name).toBe('IncompleteBody');
    const badHex = afterSigning(sdk(), (r) => {
      r.body = Buffer.concat([Buffer.from('zz\r\n'), data, Buffer.from('\r\n0\r\n\r\n')]);
      delete r.headers['content-length'];
    });
    const e2 = await failure(badHex.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'bad-hex', Body: Readable.from([data]), ContentLength: 1000 })));
    expect(e2.name).toBe('InvalidRequest');
    expect(await exists('truncated')).toBe(false);
    expect(await exists('bad-hex')).toBe(false);
  });

  it('decoded length mismatch → IncompleteBody', async () => {
    const data = Buffer.from('z'.repeat(900));
    const s3 = afterSigning(sdk(), (r) => {
      r.body = framed(data, `x-amz-checksum-crc32:${Buffer.alloc(4).toString('base64')}`);
      delete r.headers['content-length'];
    });
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'short', Body: Readable.from([Buffer.alloc(1000)]), ContentLength: 1000 })));
    expect(e.name).toBe('IncompleteBody');
    expect(await exists('short')).toBe(false);
  });

  it('HEAD of a never-stored key is 404 (control)', async () => {
    const e = await failure(sdk().send(new HeadObjectCommand({ Bucket: 'uploads', Key: 'bad-crc' })));
    expect(e.$metadata.httpStatusCode).toBe(404);
  });
});
