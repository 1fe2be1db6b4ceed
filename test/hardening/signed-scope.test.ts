// What the signature covers is what is executed (#17, findings 6–8): a presigned URL that pins the
// body's hash pins the body; SigV2's unsigned query parameters never change the operation; a
// signed aws-chunked body under SigV2 is a client error, not ours. Real clients (boto3, the JS
// SDK's signer) against s3gate in front of the strict upstream, which records what arrived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { runPython } from '../helpers/python.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { signatureV2, stringToSignForRequestV2 } from '../../src/signing/sigv2.js';

const K_PUB = { accessKeyId: 'PUBWRITERKEY', secretAccessKey: 'pub-writer-secret-abcdefghijklmnopqrstuvw' };

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
const agent = testUndiciAgent();

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] },
      { ...K_PUB, allow: [{ bucket: 'scope', prefix: 'pub/', actions: ['read', 'write', 'list', 'delete'] }, { bucket: 'disk', prefix: 'pub/', actions: ['read', 'write'] }] },
    ],
    upstreams: {
      strict: { provider: 'minio', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY },
      // The local store takes what s3gate verified: nothing behind s3gate re-checks the hash.
      disk: { provider: 'local', path: tmpDir('s3gate-scope-') },
    },
    buckets: { disk: { upstream: 'disk' }, '*': { upstream: 'strict' } },
  });
  port = portOf(gw.url);
  await client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'disk' }));
  await upstream.store.handle({ method: 'PUT', bucket: 'scope', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const arrived = (pred: (r: StrictUpstream['requests'][number]) => boolean) => upstream.requests.filter(pred);

describe('a presigned URL that pins the body\'s hash pins the body (finding 6)', () => {
  async function presignedPut(key: string, body: string, bucket = 'scope'): Promise<string> {
    // The JS SDK's signer, as a presigner would use it: x-amz-content-sha256 is hoisted into the
    // signed query and becomes the canonical request's payload hash.
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: K_PUB, sha256: Sha256, uriEscapePath: false });
    const hash = createHash('sha256').update(body).digest('hex');
    const signed = await signer.presign({
      method: 'PUT', protocol: 'http:', hostname: DOMAIN, port, path: `/${bucket}/${key}`, query: {},
      headers: { host: `${DOMAIN}:${port}`, 'x-amz-content-sha256': hash },
    }, { expiresIn: 600 });
    const q = Object.entries(signed.query ?? {}).map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(String(v))}`).join('&');
    expect(q.toLowerCase()).toContain(`x-amz-content-sha256=${hash}`);
    return `http://${DOMAIN}:${port}${signed.path}?${q}`;
  }

  it('the pinned body is stored; another body of the same length is refused and never stored (local store)', async () => {
    const url = await presignedPut('pub/pinned.txt', 'good-content-16b', 'disk');
    const bad = await request(url, { method: 'PUT', body: 'evil-content-16b', dispatcher: agent });
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'disk', Key: 'pub/pinned.txt' }))).rejects.toMatchObject({ name: 'NoSuchKey' });

    const good = await request(url, { method: 'PUT', body: 'good-content-16b', dispatcher: agent });
    expect(good.statusCode).toBe(200);
    await good.body.dump();
    const got = await s3.send(new GetObjectCommand({ Bucket: 'disk', Key: 'pub/pinned.txt' }));
    expect(await got.Body!.transformToString()).toBe('good-content-16b');
  });

  it('an unsigned x-amz-content-sha256 header cannot replace the pinned one', async () => {
    const url = await presignedPut('pub/pinned2.txt', 'good-content-16b');
    const evil = createHash('sha256').update('evil-content-16b').digest('hex');
    const r = await request(url, { method: 'PUT', body: 'evil-content-16b', headers: { 'x-amz-content-sha256': evil }, dispatcher: agent });
    expect(r.statusCode).toBe(400);
    expect(await r.body.text()).toContain('<Code>InvalidRequest</Code>');
    expect(arrived((x) => x.key === 'pub/pinned2.txt')).toHaveLength(0);
  });
});

describe('SigV2: parameters its signature does not cover never change the operation (finding 7)', () => {
  const boto = `
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    endpoint_url=os.environ['EP'], region_name='us-east-1', config=Config(signature_version='s3'))
`;

  it('a SigV2 presigned upload URL with &retention or &legal-hold appended is refused, and nothing arrives', async () => {
    const out = (await runPython(`${boto}
put = s3.generate_presigned_url('put_object', Params={'Bucket': 'scope', 'Key': 'pub/v2.txt'}, ExpiresIn=600)
print(json.dumps({'put': put}))
`, { AK: K_PUB.accessKeyId, SK: K_PUB.secretAccessKey, EP: `http://${DOMAIN}:${port}` })) as { put: string };
    expect(out.put).toContain('AWSAccessKeyId=');
    const before = upstream.requests.length;
    for (const extra of ['retention', 'legal-hold', 'attributes', 'tagging=', 'acl']) {
      const body = '<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>';
      const r = await request(`${out.put}&${extra}`, { method: 'PUT', body, dispatcher: agent });
      const text = await r.body.text();
      expect(r.statusCode, `${extra}: ${text}`).toBe(403);
    }
    expect(upstream.requests.length).toBe(before);
    // The URL as signed still works.
    const ok = await request(out.put, { method: 'PUT', body: 'v2 upload', dispatcher: agent });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  it('a SigV2 header-signed DeleteBucket replayed with &encryption or &publicAccessBlock is refused', async () => {
    const date = new Date().toUTCString();
    const sts = stringToSignForRequestV2({ method: 'DELETE', query: '', headers: { date }, path: '/scope' }, 'header');
    const authorization = `AWS ${GW_KEY.accessKeyId}:${signatureV2(GW_KEY.secretAccessKey, sts)}`;
    const before = upstream.requests.length;
    for (const extra of ['encryption', 'publicAccessBlock', 'ownershipControls']) {
      const r = await request(`http://${DOMAIN}:${port}/scope?${extra}`, { method: 'DELETE', headers: { date, authorization }, dispatcher: agent });
      const text = await r.body.text();
      expect(r.statusCode, `${extra}: ${text}`).toBe(403);
      expect(text).toContain('must be signed');
    }
    expect(upstream.requests.length).toBe(before);
  });

  it('a SigV2 ListObjectsV2 (list-type=2 is not on the V2 list) and boto3\'s SigV2 ListObjects still work', async () => {
    const date = new Date().toUTCString();
    const query = 'list-type=2&prefix=pub%2F';
    const sts = stringToSignForRequestV2({ method: 'GET', query, headers: { date }, path: '/scope/' }, 'header');
    const authorization = `AWS ${K_PUB.accessKeyId}:${signatureV2(K_PUB.secretAccessKey, sts)}`;
    const r = await request(`http://${DOMAIN}:${port}/scope/?${query}`, { headers: { date, authorization }, dispatcher: agent });
    const text = await r.body.text();
    expect(r.statusCode, text).toBe(200);
    expect(text).toContain('<ListBucketResult');
    const out = (await runPython(`${boto}
r = s3.list_objects(Bucket='scope', Prefix='pub/')
print(json.dumps({'keys': [o['Key'] for o in r.get('Contents', [])]}))
`, { AK: K_PUB.accessKeyId, SK: K_PUB.secretAccessKey, EP: `http://${DOMAIN}:${port}` })) as { keys: string[] };
    expect(out.keys.every((k) => k.startsWith('pub/'))).toBe(true);
  });
});

describe('protocol refusals are 4xx (finding 8)', () => {
  it('a SigV2 request declaring a signed aws-chunked body gets 400, not 500', async () => {
    const date = new Date().toUTCString();
    const headers = {
      date, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': '5',
      'content-encoding': 'aws-chunked',
    };
    const sts = stringToSignForRequestV2({ method: 'PUT', query: '', headers, path: '/scope/pub/chunked.txt' }, 'header');
    const authorization = `AWS ${K_PUB.accessKeyId}:${signatureV2(K_PUB.secretAccessKey, sts)}`;
    const r = await request(`http://${DOMAIN}:${port}/scope/pub/chunked.txt`, {
      method: 'PUT', headers: { ...headers, authorization }, body: '5;chunk-signature=00\r\nhello\r\n0;chunk-signature=00\r\n\r\n', dispatcher: agent,
    });
    const text = await r.body.text();
    expect(r.statusCode, text).toBe(400);
    expect(text).toContain('<Code>InvalidRequest</Code>');
    expect(arrived((x) => x.key === 'pub/chunked.txt')).toHaveLength(0);
  });
});

describe('nothing falls through to the provider as a default', () => {
  async function signedRaw(method: string, path: string, query: Record<string, string>): Promise<{ status: number; text: string }> {
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: GW_KEY, sha256: Sha256, uriEscapePath: false });
    const signed = await signer.sign({
      method, protocol: 'http:', hostname: DOMAIN, port, path, query,
      headers: { host: `${DOMAIN}:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '1' },
    });
    const qs = Object.entries(query).map(([n, v]) => (v === '' ? encodeURIComponent(n) : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)).join('&');
    const r = await request(`http://${DOMAIN}:${port}${path}${qs ? `?${qs}` : ''}`, { method, headers: signed.headers, body: 'x', dispatcher: agent });
    return { status: r.statusCode, text: await r.body.text() };
  }

  it('an object-level POST naming no operation gets 501, an unknown method 405, and neither reaches the upstream', async () => {
    const before = upstream.requests.length;
    const post = await signedRaw('POST', '/scope/pub/x.txt', {});
    expect(post.status, post.text).toBe(501);
    expect(post.text).toContain('<Code>NotImplemented</Code>');
    const odd = await signedRaw('POST', '/scope/pub/x.txt', { frobnicate: '' });
    expect(odd.status, odd.text).toBe(501);
    const patch = await signedRaw('PATCH', '/scope/pub/x.txt', {});
    expect(patch.status, patch.text).toBe(405);
    expect(patch.text).toContain('<Code>MethodNotAllowed</Code>');
    expect(upstream.requests.length).toBe(before);
  });
});
