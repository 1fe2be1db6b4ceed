// The same client scenarios against a real Ceph RGW 16 (Pacific, what Linode runs), started by
// test/ceph/rgw.sh. Directly, RGW 16 refuses the SDKs' default uploads and any signature made
// for another Host; through s3gate both work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { testLookup, testUndiciAgent } from '../upstream/resolve.js';
import { afterSigning, client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls.js';
import { runPython } from '../helpers/python.js';
import { failure } from '../helpers/gateway.js';

let ceph: CephInfo;
let direct: S3Client;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
let httpsPort: number;
const agent = testUndiciAgent();
const cert = selfSignedCert([DOMAIN, `*.${DOMAIN}`, 'files.example.test']);
const run = Math.random().toString(36).slice(2, 8);
const B = { media: `media-prod-${run}`, any: `anyb-${run}`, legacy: `legacy-v2-${run}`, vh: `vhost-${run}` };


async function existsUpstream(bucket: string, key: string): Promise<boolean> {
  try {
    await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (e) {
    if ((e as S3ServiceException).$metadata?.httpStatusCode === 404) return false;
    throw e;
  }
}

beforeAll(async () => {
  ceph = await ensureCeph();
  direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: ceph.users.a, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
  for (const b of Object.values(B)) await direct.send(new CreateBucketCommand({ Bucket: b }));
  const creds = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  const epPort = new URL(ceph.endpoint).port;
  gw = await startTestGateway({
    listen: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0', tls: { cert: cert.cert, key: cert.key } }],
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds },
      rgwv2: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds, signing: { default: 'v2' } },
      disk: { provider: 'local', path: tmpDir('s3gate-local-e2e-') },
      rgwchunk: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds, payload: { outbound: 'signed-chunked' } },
      rgwvhost: {
        provider: 'linode', endpoint: `http://${ceph.dnsName}:${epPort}`, connectAddress: '127.0.0.1', region: 'us-east-1', credentials: creds,
        addressing: 'virtual',
      },
    },
    buckets: {
      media: { upstream: 'rgw', bucket: B.media, domains: ['files.example.test'], public: 'read' },
      legacy: { upstream: 'rgwv2', bucket: B.legacy },
      vh: { upstream: 'rgwvhost', bucket: B.vh },
      chunk: { upstream: 'rgwchunk', bucket: B.any },
      lmedia: { upstream: 'disk' },
      '*': { upstream: 'rgw' },
    },
  });
  port = portOf(gw.urls[0]!);
  httpsPort = portOf(gw.urls[1]!);
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

function sdkHttps(): S3Client {
  return client(`https://${DOMAIN}:${httpsPort}`, GW_KEY, {
    forcePathStyle: true,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: cert.pem, lookup: testLookup as never, keepAlive: true }) }),
  });
}

describe('Ceph RGW 16 directly (the problem)', () => {
  it('refuses a request signed for the custom domain', async () => {
    const s3 = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: ceph.users.a, maxAttempts: 1 });
    afterSigning(s3, (r) => {
      r.headers.host = 'files.example.test';
    });
    const e = await failure(s3.send(new ListObjectsV2Command({ Bucket: B.media })));
    expect(e.$metadata.httpStatusCode).toBeGreaterThanOrEqual(400);
  });
});

// The same client scenario against both upstream kinds: RGW 16 over HTTP, and the local store.
describe.each([
  ['RGW 16', 'path-style', true, 'media'],
  ['RGW 16', 'virtual-host', false, 'media'],
  ['the local store', 'path-style', true, 'lmedia'],
  ['the local store', 'virtual-host', false, 'lmedia'],
] as const)('SDK through s3gate into %s, %s', (_u, _n, forcePathStyle, bucket) => {
  beforeAll(async () => {
    if (bucket === 'lmedia') await client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'lmedia' })).catch(() => undefined);
  });

  async function exists(key: string): Promise<boolean> {
    if (bucket === 'media') return existsUpstream(B.media, key);
    try {
      await client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true }).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch {
      return false;
    }
  }

  it('put, get, range, head, list, copy, delete, DeleteObjects, multipart', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle });
    const key = `e2e/${forcePathStyle ? 'p' : 'v'} ü+~ ${run}.bin`;
    const body = randomBytes(20_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'image/png', Metadata: { a: 'b' } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.Metadata).toEqual({ a: 'b' });
    const range = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=5-14' }));
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(body.subarray(5, 15))).toBe(true);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentType).toBe('image/png');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'e2e/' }));
    expect(list.Name).toBe(bucket);
    expect(list.Contents?.map((c) => c.Key)).toContain(key);
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: `${key}.copy`, CopySource: `${bucket}/${encodeURIComponent(key)}` }));
    expect(await exists(`${key}.copy`)).toBe(true);
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: `${key}.copy` }] } }));
    expect(del.Deleted?.length).toBe(1);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect(await exists(key)).toBe(false);

    const big = randomBytes(11 * 1024 * 1024);
    const res = await new Upload({ client: s3, params: { Bucket: bucket, Key: `${key}.multi`, Body: big }, partSize: 5 * 1024 * 1024 }).done();
    expect(res.Bucket).toBe(bucket);
    expect(res.Location).not.toContain(B.media);
    const back = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${key}.multi` }));
    expect(Buffer.from(await back.Body!.transformToByteArray()).equals(big)).toBe(true);
  });
});

describe('custom domain, presigned URLs and public reads through s3gate into RGW 16', () => {
  it('presigned PUT and GET on s3gate\'s domain, fetched with plain HTTP', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'media', Key: 'pre.txt' }), { expiresIn: 300 });
    const r = await request(put, { method: 'PUT', body: 'presigned into ceph', dispatcher: agent });
    expect(r.statusCode).toBe(200);
    await r.body.dump();
    const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'pre.txt' }), { expiresIn: 300 });
    const g = await request(get, { dispatcher: agent });
    expect(await g.body.text()).toBe('presigned into ceph');
  });

  it('the bucket\'s custom domain serves anonymous GETs', async () => {
    const r = await request(`http://files.example.test:${port}/pre.txt`, { dispatcher: agent });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('presigned into ceph');
  });

  it('a wrong secret or a sha256 mismatch stores nothing in Ceph', async () => {
    const bad = client(`http://${DOMAIN}:${port}`, { ...GW_KEY, secretAccessKey: 'wrong' }, { forcePathStyle: true });
    expect((await failure(bad.send(new PutObjectCommand({ Bucket: 'media', Key: 'nope-1', Body: 'x' })))).name).toBe('SignatureDoesNotMatch');
    const swapped = afterSigning(client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true }), (r) => {
      r.body = Buffer.from('not what was hashed!!'); // same length: only the hash differs
    });
    const e = await failure(swapped.send(new PutObjectCommand({ Bucket: 'media', Key: 'nope-2', Body: Buffer.from('what was hashed here!') })));
    expect(e.name).toBe('XAmzContentSHA256Mismatch');
    expect(await existsUpstream(B.media, 'nope-1')).toBe(false);
    expect(await existsUpstream(B.media, 'nope-2')).toBe(false);
  });

  it('a virtual-host upstream (bucket.s3.ceph.test) works too', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    await s3.send(new PutObjectCommand({ Bucket: 'vh', Key: 'k', Body: 'vhost' }));
    expect(await existsUpstream(B.vh, 'k')).toBe(true);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: 'vh' }));
    expect(l.Name).toBe('vh');
  });
});

describe('default-config SDK uploads into RGW 16 over s3gate\'s HTTPS listener', () => {
  it('directly, RGW 16 refuses the SDK\'s default stream upload', async () => {
    const s3 = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: ceph.users.a, maxAttempts: 1 });
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: B.any, Key: 'direct.bin', Body: Readable.from([Buffer.alloc(1000)]), ContentLength: 1000 })));
    expect(e.$metadata.httpStatusCode).toBeGreaterThanOrEqual(400);
  });

  it('stream body (unsigned trailer), Buffer body (checksum header), 50 MiB lib-storage, GetObject with checksum mode', async () => {
    const s3 = sdkHttps();
    const data = randomBytes(2 * 1024 * 1024 + 7);
    await s3.send(new PutObjectCommand({ Bucket: B.any, Key: 'stream.bin', Body: Readable.from([data]), ContentLength: data.length }));
    await s3.send(new PutObjectCommand({ Bucket: B.any, Key: 'buffer.bin', Body: data }));
    const chunks = Array.from({ length: 50 }, () => randomBytes(1024 * 1024));
    await new Upload({ client: s3, params: { Bucket: B.any, Key: 'big.bin', Body: Readable.from(chunks) }, partSize: 8 * 1024 * 1024, queueSize: 2 }).done();
    for (const k of ['stream.bin', 'buffer.bin']) {
      const got = await s3.send(new GetObjectCommand({ Bucket: B.any, Key: k, ChecksumMode: 'ENABLED' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: B.any, Key: 'big.bin', ChecksumMode: 'ENABLED' }));
    const h = createHash('sha256');
    for await (const c of got.Body as Readable) h.update(c as Buffer);
    expect(h.digest('hex')).toBe(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'));
  });

  it('a wrong trailer CRC → BadDigest and no object in Ceph', async () => {
    const data = Buffer.alloc(1000, 7);
    const s3 = afterSigning(sdkHttps(), (r) => {
      r.body = Buffer.concat([Buffer.from('3e8\r\n'), data, Buffer.from('\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n')]);
      delete r.headers['content-length'];
    });
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: B.any, Key: 'badcrc.bin', Body: Readable.from([data]), ContentLength: 1000 })));
    expect(e.name).toBe('BadDigest');
    expect(await existsUpstream(B.any, 'badcrc.bin')).toBe(false);
  });
});

describe('outbound signed aws-chunked (payload.outbound: signed-chunked), verified by RGW 16 itself', () => {
  it('stream, Buffer and multi-chunk bodies arrive intact with s3gate\'s own chunk signatures', async () => {
    const s3 = sdkHttps();
    const sizes = (process.env.SIZES ?? '0,1,65536,65537,300000').split(',').map(Number);
    for (const n of sizes) {
      const data = randomBytes(n);
      await s3.send(new PutObjectCommand({ Bucket: 'chunk', Key: `c-${n}`, Body: Readable.from([data]), ContentLength: n }));
      const got = await direct.send(new GetObjectCommand({ Bucket: B.any, Key: `c-${n}` }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    }
    await s3.send(new PutObjectCommand({ Bucket: 'chunk', Key: 'c-buffer', Body: Buffer.from('buffer body') }));
    expect(await existsUpstream(B.any, 'c-buffer')).toBe(true);
    const line = gw.sink.lines.filter((l) => l.upstream === 'rgwchunk' && l.op === 'PutObject');
    expect(line.every((l) => l.status === 200)).toBe(true);
  });

  it('a corrupted trailer still stores nothing', async () => {
    const data = Buffer.alloc(1000, 9);
    const s3 = afterSigning(sdkHttps(), (r) => {
      r.body = Buffer.concat([Buffer.from('3e8\r\n'), data, Buffer.from('\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n')]);
      delete r.headers['content-length'];
    });
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: 'chunk', Key: 'c-bad', Body: Readable.from([data]), ContentLength: 1000 })));
    expect(e.name).toBe('BadDigest');
    expect(await existsUpstream(B.any, 'c-bad')).toBe(false);
  });
});

describe('SigV2 with RGW 16', () => {
  it.each(['path', 'virtual'])('a SigV2 boto3 client (%s-style) through s3gate', async (style) => {
    const out = await runPython(`
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'], region_name='us-east-1',
    config=Config(signature_version='s3', s3={'addressing_style': '${style}'}))
b = os.environ['B']
s3.put_object(Bucket=b, Key='v2/obj.txt', Body=b'sigv2 into ceph')
body = s3.get_object(Bucket=b, Key='v2/obj.txt')['Body'].read().decode()
keys = [o['Key'] for o in s3.list_objects(Bucket=b, Prefix='v2/').get('Contents', [])]
s3.head_bucket(Bucket=b)
s3.delete_object(Bucket=b, Key='v2/obj.txt')
print(json.dumps({'body': body, 'keys': keys}))
`, { AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey, EP: `http://${DOMAIN}:${port}`, B: B.any });
    expect(out).toEqual({ body: 'sigv2 into ceph', keys: ['v2/obj.txt'] });
  });

  it('a SigV4 client through s3gate, with the upstream profile set to SigV2', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: false });
    await s3.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'a.txt', Body: 'v4 in, v2 out' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'legacy', Key: 'a.txt' }));
    expect(await got.Body!.transformToString()).toBe('v4 in, v2 out');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'legacy' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(['a.txt']);
    await s3.send(new DeleteObjectCommand({ Bucket: 'legacy', Key: 'a.txt' }));
    expect(await existsUpstream(B.legacy, 'a.txt')).toBe(false);
  });
});
