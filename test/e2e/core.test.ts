// The gateway core end to end: an unmodified SDK signs for s3gate's own domain with a key
// s3gate issued; the strict upstream verifies s3gate's re-signed request against the Host and
// URI it really received, and records it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand,
  HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { afterSigning, client, DOMAIN, GW_KEY, GW_KEY_LIMITED, portOf, startTestGateway, UP_KEY, type WireRequest } from '../helpers/gateway.js';
import { failure as errorOf } from '../helpers/gateway.js';

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
const agent = testUndiciAgent();


function storedObjects(bucket: string): string[] {
  return upstream.requests.filter((r) => r.bucket === bucket && r.operation === 'PutObject' && r.status === 200).map((r) => r.key!);
}

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'eu-test-1', dnsName: 's3.upstream.test' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] },
      { ...GW_KEY_LIMITED, allow: [{ bucket: 'media', prefix: 'public/', actions: ['read', 'list'] }] },
    ],
    upstreams: {
      strict: { provider: 'linode', endpoint: upstream.url, region: 'eu-test-1', credentials: UP_KEY },
    },
    buckets: {
      media: { upstream: 'strict', bucket: 'media-prod-2024', domains: ['files.example.test'], public: 'read' },
      '*': { upstream: 'strict' },
    },
  });
  port = portOf(gw.url);
  await upstream.store.handle({ method: 'PUT', bucket: 'media-prod-2024', query: new URLSearchParams(), headers: {}, body: (await import('node:stream')).Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const styles: [string, () => S3Client][] = [
  ['path-style on the gateway domain', () => client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true })],
  ['virtual-host on *.gateway domain', () => client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: false })],
];

describe.each(styles)('SDK through s3gate, %s', (_name, make) => {
  it('puts, gets (and ranges), heads, lists, copies and deletes objects', async () => {
    const s3 = make();
    const body = randomBytes(10_000);
    const key = `dir/obj ${Math.random().toString(36).slice(2)} ünï+~.bin`;
    await s3.send(new PutObjectCommand({ Bucket: 'media', Key: key, Body: body, ContentType: 'application/x-test', Metadata: { who: 'e2e' } }));

    const got = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(got.ContentType).toBe('application/x-test');
    expect(got.Metadata).toEqual({ who: 'e2e' });

    const range = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: key, Range: 'bytes=100-199' }));
    expect(Buffer.from(await range.Body!.transformToByteArray())).toEqual(body.subarray(100, 200));
    expect(range.ContentRange).toBe('bytes 100-199/10000');

    const head = await s3.send(new HeadObjectCommand({ Bucket: 'media', Key: key }));
    expect(head.ContentLength).toBe(10_000);

    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'dir/' }));
    expect(list.Name).toBe('media');
    expect(list.Contents?.map((c) => c.Key)).toContain(key);

    await s3.send(new CopyObjectCommand({ Bucket: 'media', Key: `${key}.copy`, CopySource: `media/${encodeURIComponent(key)}` }));
    const copy = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: `${key}.copy` }));
    expect(Buffer.from(await copy.Body!.transformToByteArray())).toEqual(body);

    await s3.send(new DeleteObjectCommand({ Bucket: 'media', Key: key }));
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: 'media', Delete: { Objects: [{ Key: `${key}.copy` }] } }));
    expect(del.Deleted?.[0]?.Key).toBe(`${key}.copy`);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'media', Key: key })))).$metadata.httpStatusCode).toBe(404);

    // What the provider saw: its own bucket name, its own Host, s3gate's key.
    const put = upstream.requests.find((r) => r.operation === 'PutObject' && r.key === key)!;
    expect(put.bucket).toBe('media-prod-2024');
    expect(put.accessKeyId).toBe(UP_KEY.accessKeyId);
    expect(put.host).toBe(new URL(upstream.url).host);
    expect(put.headers['x-amz-meta-who']).toBe('e2e');
  });

  it('uploads multipart with lib-storage and reads it back', async () => {
    const s3 = make();
    const data = randomBytes(11 * 1024 * 1024);
    const key = `multi-${Math.random().toString(36).slice(2)}`;
    const up = new Upload({ client: s3, params: { Bucket: 'media', Key: key, Body: data }, partSize: 5 * 1024 * 1024 });
    const res = await up.done();
    expect(res.Bucket).toBe('media');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });
});

describe('custom domain bound to a bucket', () => {
  it('an SDK pointed at files.example.test works (bucket from the Host)', async () => {
    const s3 = client(`http://files.example.test:${port}`, GW_KEY, { bucketEndpoint: true });
    await s3.send(new PutObjectCommand({ Bucket: `http://files.example.test:${port}`, Key: 'cd.txt', Body: 'custom domain' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: `http://files.example.test:${port}`, Key: 'cd.txt' }));
    expect(await got.Body!.transformToString()).toBe('custom domain');
  });

  it('anonymous GET of a public bucket works, anonymous PUT does not', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    await s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'public/hello.txt', Body: 'hi' }));
    const r = await request(`http://files.example.test:${port}/public/hello.txt`, { dispatcher: agent });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('hi');
    const w = await request(`http://files.example.test:${port}/public/x.txt`, { method: 'PUT', body: 'x', dispatcher: agent });
    expect(w.statusCode).toBe(403);
    expect(await w.body.text()).toContain('<Code>AccessDenied</Code>');
  });
});

describe('presigned URLs made with s3gate\'s key, fetched with plain HTTP', () => {
  it('GET and PUT', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'media', Key: 'presigned.txt' }), { expiresIn: 600 });
    const put = await request(putUrl, { method: 'PUT', body: 'via presigned put', dispatcher: agent });
    expect(put.statusCode).toBe(200);
    await put.body.dump();
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'presigned.txt' }), { expiresIn: 600 });
    const get = await request(getUrl, { dispatcher: agent });
    expect(get.statusCode).toBe(200);
    expect(await get.body.text()).toBe('via presigned put');
    // A presigned URL went upstream with header auth.
    const seen = upstream.requests.filter((r) => r.key === 'presigned.txt');
    expect(seen.every((r) => r.auth === 'v4-header')).toBe(true);
  });

  it('a presigned PUT that signs its x-amz-content-sha256 header (the Go SDK v1\'s, when set): the header\'s hash is the one signed, and binds the body', async () => {
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const { Sha256 } = await import('@aws-crypto/sha256-js');
    const { createHash } = await import('node:crypto');
    const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    const host = `${DOMAIN}:${port}`;
    const presign = async (key: string, hash: string) => {
      const p = await signer.presign(
        { method: 'PUT', protocol: 'http:', hostname: DOMAIN, port, path: `/media/${key}`, query: {}, headers: { host, 'x-amz-content-sha256': hash } },
        { expiresIn: 600, unhoistableHeaders: new Set(['x-amz-content-sha256']) },
      );
      expect(String(p.query!['X-Amz-SignedHeaders'])).toBe('host;x-amz-content-sha256');
      return `http://${host}/media/${key}?${new URLSearchParams(p.query as Record<string, string>)}`;
    };
    const body = 'hashed and presigned';
    const hash = createHash('sha256').update(body).digest('hex');
    const ok = await request(await presign('sha-presigned.txt', hash), { method: 'PUT', body, headers: { 'x-amz-content-sha256': hash }, dispatcher: agent });
    expect(ok.statusCode, await ok.body.text()).toBe(200);
    const other = await request(await presign('sha-presigned-other.txt', hash), { method: 'PUT', body: 'other bytes', headers: { 'x-amz-content-sha256': hash }, dispatcher: agent });
    expect(other.statusCode).toBe(400);
    expect(await other.body.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect(storedObjects('media-prod-2024')).toContain('sha-presigned.txt');
    expect(storedObjects('media-prod-2024')).not.toContain('sha-presigned-other.txt');
  });

  it('an added query parameter breaks the signature', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'presigned.txt' }), { expiresIn: 600 });
    const r = await request(`${url}&response-content-type=text/html`, { dispatcher: agent });
    expect(r.statusCode).toBe(403);
    expect(await r.body.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe('the region a client signs for', () => {
  // R2's documented SDK settings, and Bun's S3 client at any endpoint not AWS's, sign for `auto`.
  it('`auto` is taken as the gateway\'s region: header auth, presigned URLs and browser-form POSTs', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true, region: 'auto' });
    await s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'auto-region.txt', Body: 'signed for auto' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'auto-region.txt' }));
    expect(await got.Body!.transformToString()).toBe('signed for auto');
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'auto-region.txt' }), { expiresIn: 600 });
    expect(url).toContain('%2Fauto%2Fs3%2Faws4_request');
    const r = await request(url, { dispatcher: agent });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('signed for auto');
    const { createPresignedPost } = await import('@aws-sdk/s3-presigned-post');
    const post = await createPresignedPost(s3, { Bucket: 'media', Key: 'auto-post.txt', Expires: 600 });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['posted for auto']), 'f.txt');
    // Node's own fetch, as a page's: DOMAIN resolves only through the test agent, so by address.
    const p = await fetch(`http://127.0.0.1:${port}/media`, { method: 'POST', body: form, headers: { host: `${DOMAIN}:${port}` } });
    expect(p.status, await p.text()).toBe(204);
    // The provider got s3gate's own signature for its own region, as for any other request.
    const seen = upstream.requests.filter((q) => q.key === 'auto-region.txt' || q.key === 'auto-post.txt');
    expect(seen.map((q) => q.status)).toEqual([200, 200, 200, 200]);
    expect(upstream.requests.filter((q) => q.key === 'auto-post.txt' && q.operation === 'PutObject')).toHaveLength(1);
  });

  it('an empty region (a client with none: libcloud\'s MinIO driver) is taken too, header and presigned', async () => {
    const { sendSigned } = await import('../helpers/signed-raw.js');
    for (const scheme of ['v4-header', 'v4-query'] as const) {
      const put = await sendSigned(port, GW_KEY, scheme, { method: 'PUT', host: `${DOMAIN}:${port}`, path: `/media/empty-region-${scheme}.txt`, body: 'no region', region: '' });
      expect(put.status, put.body).toBe(200);
    }
    const seen = upstream.requests.filter((q) => q.key?.startsWith('empty-region-'));
    expect(seen.map((q) => [q.operation, q.status])).toEqual([['PutObject', 200], ['PutObject', 200]]);
  });

  it('acceptRegions takes the names it lists (Loki signs for `dummy` with no region set), and "*" every name', async () => {
    const other = await startTestGateway({
      domains: [DOMAIN], region: 'us-east-1', acceptRegions: ['dummy'],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list'] }] }],
      upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'eu-test-1', credentials: UP_KEY } },
      buckets: { '*': { upstream: 'strict' } },
    });
    const any = await startTestGateway({
      domains: [DOMAIN], region: 'us-east-1', acceptRegions: '*',
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list'] }] }],
      upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'eu-test-1', credentials: UP_KEY } },
      buckets: { '*': { upstream: 'strict' } },
    });
    try {
      const at = (gw: { url: string }, region: string) => client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true, region });
      await at(other, 'dummy').send(new PutObjectCommand({ Bucket: 'media-prod-2024', Key: 'dummy-region.txt', Body: 'dummy' }));
      const e = await errorOf(at(other, 'eu-west-1').send(new PutObjectCommand({ Bucket: 'media-prod-2024', Key: 'eu-region.txt', Body: 'x' })));
      expect(e.name).toBe('AuthorizationHeaderMalformed');
      await at(any, 'eu-west-1').send(new PutObjectCommand({ Bucket: 'media-prod-2024', Key: 'eu-region.txt', Body: 'eu' }));
      const got = await at(any, 'dummy').send(new GetObjectCommand({ Bucket: 'media-prod-2024', Key: 'dummy-region.txt' }));
      expect(await got.Body!.transformToString()).toBe('dummy');
      expect(storedObjects('media-prod-2024')).toEqual(expect.arrayContaining(['dummy-region.txt', 'eu-region.txt']));
    } finally {
      await other.close();
      await any.close();
    }
  });

  it('another named region is still refused, naming the gateway\'s', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true, region: 'eu-west-1' });
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'other-region.txt', Body: 'x' })));
    expect(e.name).toBe('AuthorizationHeaderMalformed');
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect((e as unknown as { Region?: string }).Region).toBe('us-east-1');
    expect(upstream.requests.some((q) => q.key === 'other-region.txt')).toBe(false);
  });
});

describe('refused with the right error, nothing stored upstream', () => {
  const bad = (creds: { accessKeyId: string; secretAccessKey: string }) => client(`http://${DOMAIN}:${port}`, creds, { forcePathStyle: true });

  it('wrong secret → SignatureDoesNotMatch with the string-to-sign', async () => {
    const e = await errorOf(bad({ ...GW_KEY, secretAccessKey: 'nope' }).send(new PutObjectCommand({ Bucket: 'media', Key: 'wrong-secret', Body: 'x' })));
    expect(e.name).toBe('SignatureDoesNotMatch');
    expect(e.$metadata.httpStatusCode).toBe(403);
    expect((e as unknown as { StringToSign?: string }).StringToSign).toMatch(/^AWS4-HMAC-SHA256\n/);
    expect(storedObjects('media-prod-2024')).not.toContain('wrong-secret');
  });

  it('unknown key → InvalidAccessKeyId', async () => {
    const e = await errorOf(bad({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'x' }).send(new PutObjectCommand({ Bucket: 'media', Key: 'unknown-key', Body: 'x' })));
    expect(e.name).toBe('InvalidAccessKeyId');
    expect(storedObjects('media-prod-2024')).not.toContain('unknown-key');
  });

  it('a key without a grant → AccessDenied; a prefix grant holds', async () => {
    const limited = bad(GW_KEY_LIMITED);
    const e = await errorOf(limited.send(new PutObjectCommand({ Bucket: 'media', Key: 'public/nope', Body: 'x' })));
    expect(e.name).toBe('AccessDenied');
    const e2 = await errorOf(limited.send(new GetObjectCommand({ Bucket: 'media', Key: 'private/x' })));
    expect(e2.name).toBe('AccessDenied');
    const ok = await limited.send(new GetObjectCommand({ Bucket: 'media', Key: 'public/hello.txt' }));
    expect(await ok.Body!.transformToString()).toBe('hi');
    const e3 = await errorOf(limited.send(new ListObjectsV2Command({ Bucket: 'other' })));
    expect(e3.name).toBe('AccessDenied');
  });

  it('a Host other than the one signed → SignatureDoesNotMatch', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    afterSigning(s3, (r) => {
      r.headers.host = `other.example.test:${port}`;
    });
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'host-swap', Body: 'x' })));
    expect(e.name).toBe('SignatureDoesNotMatch');
  });

  it('tampered header, query and path → SignatureDoesNotMatch', async () => {
    for (const tamper of [
      (r: WireRequest) => { r.headers['x-amz-meta-who'] = 'mallory'; },
      (r: WireRequest) => { r.path = r.path.replace('tamper', 'tamperX'); },
      (r: WireRequest) => { r.query['x-id'] = 'GetObject'; },
    ]) {
      const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
      afterSigning(s3, tamper);
      const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'tamper', Body: 'x', Metadata: { who: 'alice' } })));
      expect(e.name).toBe('SignatureDoesNotMatch');
    }
    expect(storedObjects('media-prod-2024')).not.toContain('tamper');
    expect(storedObjects('media-prod-2024')).not.toContain('tamperX');
  });

  it('a skewed clock → RequestTimeTooSkewed', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true, systemClockOffset: -3600_000, maxAttempts: 1 });
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'skewed', Body: 'x' })));
    expect(e.name).toBe('RequestTimeTooSkewed');
  });

  it('an expired presigned URL → AccessDenied', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'presigned.txt' }), { expiresIn: 60, signingDate: new Date(Date.now() - 7200_000) });
    const r = await request(url, { dispatcher: agent });
    expect(r.statusCode).toBe(403);
    const text = await r.body.text();
    expect(text).toContain('<Code>AccessDenied</Code>');
    expect(text).toContain('Request has expired');
  });

  it('a body whose sha256 differs → XAmzContentSHA256Mismatch, and the provider stores nothing', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    afterSigning(s3, (r) => {
      r.body = Buffer.from('the body that was not signed');
    });
    const e = await errorOf(s3.send(new PutObjectCommand({
      Bucket: 'media', Key: 'sha-mismatch', Body: Buffer.from('the body that was signed...!'),
      ContentSHA256: undefined,
    } as never)));
    expect(e.name).toBe('XAmzContentSHA256Mismatch');
    const stored = await upstream.store.handle({ method: 'HEAD', bucket: 'media-prod-2024', key: 'sha-mismatch', query: new URLSearchParams(), headers: {}, body: (await import('node:stream')).Readable.from([]) }).catch((x: Error) => x);
    expect(stored).toBeInstanceOf(Error);
  });
});

describe('ListBuckets', () => {
  it('is filtered to the key\'s buckets, under client names', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY_LIMITED, { forcePathStyle: true });
    const r = await s3.send(new ListBucketsCommand({}));
    expect(r.Buckets?.map((b) => b.Name)).toEqual(['media']);
  });

  it('with a "*" route, lists the provider\'s other buckets too, and a routed provider bucket only under its client name', async () => {
    await upstream.store.handle({ method: 'PUT', bucket: 'extra-bucket', query: new URLSearchParams(), headers: {}, body: (await import('node:stream')).Readable.from([]) });
    const r = await client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true }).send(new ListBucketsCommand({}));
    const names = r.Buckets?.map((b) => b.Name) ?? [];
    expect(names).toContain('extra-bucket');
    expect(names).toContain('media');
    expect(names).not.toContain('media-prod-2024');
    expect(r.Buckets?.find((b) => b.Name === 'extra-bucket')?.CreationDate?.getTime()).toBeGreaterThan(0);
  });
});

describe('admin', () => {
  it('CreateBucket through the "*" route needs the admin action', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'made-by-admin' }));
    const limited = client(`http://${DOMAIN}:${port}`, GW_KEY_LIMITED, { forcePathStyle: true });
    const e = await errorOf(limited.send(new CreateBucketCommand({ Bucket: 'made-by-limited' })));
    expect(e.name).toBe('AccessDenied');
    expect(upstream.requests.some((r) => r.operation === 'CreateBucket' && r.bucket === 'made-by-admin' && r.status === 200)).toBe(true);
  });
});
