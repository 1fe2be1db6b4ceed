// s3gate is never the reason a call fails (#19 part 3): what S3 and RGW 16 accept or answer
// directly, the same request gets through s3gate: Expect values S3 ignores, presigned expiry
// codes, and an error document whose RequestId is the one in x-amz-request-id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import http from 'node:http';
import { Readable } from 'node:stream';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

const run = Math.random().toString(36).slice(2, 8);
const RGW_BUCKET = `edges-tr-${run}`;
let up: StrictUpstream;
let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;

beforeAll(async () => {
  ceph = await ensureCeph();
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  await up.store.handle({ method: 'PUT', bucket: 'strict', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  const direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: ceph.users.a, maxAttempts: 1 });
  await direct.send(new CreateBucketCommand({ Bucket: RGW_BUCKET }));
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      u: { provider: 'minio', endpoint: up.url, credentials: UP_KEY },
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey } },
      disk: { provider: 'local', path: tmpDir('s3gate-transparency-') },
    },
    buckets: { strict: { upstream: 'u' }, rgw: { upstream: 'rgw', bucket: RGW_BUCKET }, disk: { upstream: 'disk' } },
  });
  port = portOf(gw.url);
  const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'disk' }));
  for (const b of ['strict', 'rgw', 'disk']) await s3.send(new PutObjectCommand({ Bucket: b, Key: 'here.txt', Body: 'hello' }));
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await up?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

/** A SigV4-signed request sent with node:http, so the Expect header goes out as given. */
async function signedRequest(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const h: Record<string, string> = { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers };
  if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
  const signed = await signer.sign({ method, protocol: 'http:', hostname: '127.0.0.1', port, path, query: {}, headers: h });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: signed.headers as Record<string, string> }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Expect values S3 ignores', () => {
  it.each([['empty', ''], ['unknown', 'something-else'], ['a token with parameters', 'foo=bar']])('%s Expect: the request proceeds, as against S3', async (_n, value) => {
    const put = await signedRequest('PUT', '/strict/expect.txt', { expect: value }, 'body');
    expect(put.status).toBe(200);
    const get = await signedRequest('GET', '/strict/expect.txt', { expect: value });
    expect(get).toMatchObject({ status: 200, body: 'body' });
  });
});

/** Fetches a URL without an SDK, as a browser or curl would. */
async function fetchText(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe('presigned URLs out of their time', () => {
  const presign = async (endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, path: string, expiresIn: number, signingDate = new Date()) => {
    const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const u = new URL(endpoint);
    const signed = await signer.presign({ method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path, query: {}, headers: { host: u.host } }, { expiresIn, signingDate });
    const qs = new URLSearchParams(signed.query as Record<string, string>).toString();
    return `${endpoint}${path}?${qs}`;
  };

  it('expired: 403 AccessDenied, as RGW 16 answers directly', async () => {
    const past = new Date(Date.now() - 2 * 3600_000);
    const viaGw = await fetchText(await presign(gw.url, GW_KEY, '/rgw/here.txt', 3600, past));
    const direct = await fetchText(await presign(ceph.endpoint, ceph.users.a, `/${RGW_BUCKET}/here.txt`, 3600, past));
    expect({ status: direct.status, code: code(direct.body) }).toEqual({ status: 403, code: 'AccessDenied' });
    expect({ status: viaGw.status, code: code(viaGw.body) }).toEqual({ status: 403, code: 'AccessDenied' });
    expect(viaGw.body).toContain('<Message>Request has expired</Message>');
  });

  it("X-Amz-Expires out of range (boto3's generate_presigned_url): 403 AuthorizationQueryParametersError with S3's message; RGW 16 also answers 403", async () => {
    const attempt = (endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string) => runPython(`
s3 = boto3.client('s3', endpoint_url='${endpoint}', region_name='us-east-1', aws_access_key_id='${creds.accessKeyId}',
  aws_secret_access_key='${creds.secretAccessKey}', config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}))
import urllib.request, urllib.error
res = []
for e in (-1, 604801):
    url = s3.generate_presigned_url('get_object', Params={'Bucket': '${bucket}', 'Key': 'here.txt'}, ExpiresIn=e)
    try:
        r = urllib.request.urlopen(url); res.append([r.status, ''])
    except urllib.error.HTTPError as err:
        res.append([err.code, err.read().decode()])
print(json.dumps(res))
`, {}, MODERN_PYTHON) as Promise<[number, string][]>;
    const direct = await attempt(ceph.endpoint, ceph.users.a, RGW_BUCKET);
    expect(direct.map(([s]) => s)).toEqual([403, 403]);
    const out = await attempt(gw.url, GW_KEY, 'rgw');
    expect(out.map(([s, b]) => [s, code(b)])).toEqual([[403, 'AuthorizationQueryParametersError'], [403, 'AuthorizationQueryParametersError']]);
    expect(out[0]![1]).toContain('X-Amz-Expires must be non-negative');
    expect(out[1]![1]).toContain('X-Amz-Expires must be less than a week (in seconds) that is 604800');
  });
});

describe("the error document's RequestId is the x-amz-request-id header", () => {
  const requestIdOf = (xml: string) => /<RequestId>([^<]*)<\/RequestId>/.exec(xml)?.[1];

  it.each([['the strict upstream', 'strict'], ['RGW 16', 'rgw'], ['the local store', 'disk']])('on an error from %s', async (_n, bucket) => {
    const r = await signedRequest('GET', `/${bucket}/no-such-key`, {});
    expect(r.status).toBe(404);
    expect(code(r.body)).toBe('NoSuchKey');
    expect(requestIdOf(r.body)).toBe(r.headers['x-amz-request-id']);
    expect(r.body).not.toContain('LOCAL');
  });

  it("the provider's own id and error code stay in the access line (`error` is s3gate's own)", async () => {
    const r = await signedRequest('GET', '/rgw/no-such-key-2', {});
    const line = gw.sink.lines.find((l) => l.reqId === r.headers['x-amz-request-id']);
    expect(String(line?.upstreamId)).toMatch(/^tx/);
    expect([line?.upstreamError, line?.error]).toEqual(['NoSuchKey', undefined]);
  });
});

describe('the access log', () => {
  it("counts an error's XML body in bytesOut", async () => {
    const r = await signedRequest('GET', '/disk/no-such-key-3', {});
    const line = gw.sink.lines.find((l) => l.reqId === r.headers['x-amz-request-id']);
    expect(line?.bytesOut).toBe(Buffer.byteLength(r.body));
    const refused = await fetchText(`${gw.url}/disk/here.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256`);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const last = gw.sink.lines.filter((l) => l.msg === 'request').at(-1);
    expect(last?.bytesOut).toBe(Buffer.byteLength(refused.body));
  });
});
