// Provider profiles applied per request: Content-MD5 added where a provider demands it,
// checksum fields kept consistent for multipart, full-object checksums kept off ranged answers,
// and the JS SDK's presigned-PUT query checksum tolerated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testRequestHandler, testUndiciAgent } from '../upstream/resolve.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
const agent = testUndiciAgent();

beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1', checksumOnRange: true });
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      // MinIO (older releases), OVH and GCS demand Content-MD5 on DeleteObjects.
      md5: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
      rgw16: { provider: 'linode', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
    },
    buckets: { strictmd5: { upstream: 'md5', bucket: 'bkt1' }, plain: { upstream: 'rgw16', bucket: 'bkt1' } },
  });
  port = portOf(gw.url);
  await up.store.handle({ method: 'PUT', bucket: 'bkt1', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
});

const s3 = () => client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });

describe('provider quirks applied per operation', () => {
  it('DeleteObjects gets the Content-MD5 the provider demands (the SDK now sends a CRC32 instead)', async () => {
    await s3().send(new PutObjectCommand({ Bucket: 'strictmd5', Key: 'd1', Body: 'x' }));
    const r = await s3().send(new DeleteObjectsCommand({ Bucket: 'strictmd5', Delete: { Objects: [{ Key: 'd1' }] } }));
    expect(r.Deleted?.map((d) => d.Key)).toEqual(['d1']);
    const seen = up.requests.filter((q) => q.operation === 'DeleteObjects').at(-1)!;
    expect(seen.headers['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(seen.status).toBe(200);
  });

  it('multipart into a provider without checksum support: no checksum algorithm announced, none expected', async () => {
    const data = randomBytes(6 * 1024 * 1024);
    await new Upload({ client: s3(), params: { Bucket: 'plain', Key: 'mp', Body: Readable.from([data]) }, partSize: 5 * 1024 * 1024 }).done();
    const create = up.requests.filter((q) => q.operation === 'CreateMultipartUpload').at(-1)!;
    expect(create.headers['x-amz-checksum-algorithm']).toBeUndefined();
    const parts = up.requests.filter((q) => q.operation === 'UploadPart' && q.key === 'mp');
    expect(parts.every((p) => Object.keys(p.headers).every((h) => !h.startsWith('x-amz-checksum')))).toBe(true);
    const complete = up.requests.filter((q) => q.operation === 'CompleteMultipartUpload').at(-1)!;
    expect(complete.status).toBe(200);
    const got = await s3().send(new GetObjectCommand({ Bucket: 'plain', Key: 'mp' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });

  it('a ranged GET with checksum mode does not carry the full-object checksum (direct, the SDK fails)', async () => {
    await s3().send(new PutObjectCommand({ Bucket: 'plain', Key: 'ranged', Body: 'abcdefghijklmnopqrstuvwxyz' }));
    const direct = new S3Client({ endpoint: up.url, region: 'us-east-1', forcePathStyle: true, credentials: UP_KEY, requestHandler: testRequestHandler(), maxAttempts: 1 });
    const d = await direct.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'ranged', Range: 'bytes=0-4', ChecksumMode: 'ENABLED' }));
    const directFailure = await d.Body!.transformToString().then(() => undefined, (e: Error) => e);
    expect(directFailure?.message ?? '').toMatch(/checksum/i);
    const r = await s3().send(new GetObjectCommand({ Bucket: 'plain', Key: 'ranged', Range: 'bytes=0-4', ChecksumMode: 'ENABLED' }));
    expect(await r.Body!.transformToString()).toBe('abcde');
    expect(r.ChecksumCRC32).toBeUndefined();
  });

  it('a presigned PUT from the latest JS SDK (with its empty-body CRC32 in the query) still uploads', async () => {
    const url = await getSignedUrl(s3(), new PutObjectCommand({ Bucket: 'plain', Key: 'presigned-crc' }), { expiresIn: 300 });
    const body = Buffer.from('not an empty body');
    const r = await request(url, { method: 'PUT', body, dispatcher: agent });
    expect(r.statusCode).toBe(200);
    await r.body.dump();
    const got = await s3().send(new GetObjectCommand({ Bucket: 'plain', Key: 'presigned-crc' }));
    expect(await got.Body!.transformToString()).toBe('not an empty body');
    const seen = up.requests.filter((q) => q.key === 'presigned-crc' && q.operation === 'PutObject').at(-1)!;
    expect(seen.url).not.toMatch(/x-amz-checksum/i);
    expect(url).toMatch(/x-amz-checksum-crc32=AAAAAA%3D%3D/i);
    expect(seen.headers['x-amz-sdk-checksum-algorithm']).toBeUndefined();
  });

  it('a wrong Content-MD5 from the client is still refused before the provider sees it', async () => {
    const e = await s3().send(new PutObjectCommand({ Bucket: 'strictmd5', Key: 'md5bad', Body: 'hello', ContentMD5: 'AAAAAAAAAAAAAAAAAAAAAA==' })).catch((x: S3ServiceException) => x);
    expect((e as S3ServiceException).name).toBe('BadDigest');
    expect(up.requests.some((q) => q.key === 'md5bad')).toBe(false);
  });
});
