// A bucket whose CORS s3gate does not hold (no `cors:` in its route) keeps the provider's: the
// rules a client set with PutBucketCors decide the preflight as they decide the actual answer's
// Access-Control-* headers. s3gate used to answer every such preflight 403 itself, so a browser
// app whose bucket CORS was set through the S3 API could GET but never PUT or DELETE (ceph's
// s3-tests test_cors_origin_response and test_cors_header_option, through s3gate into RGW 16).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let viaGw: S3Client;
let direct: S3Client;
const run = randomBytes(4).toString('hex');
const withRules = `cors-rules-${run}`;
const noRules = `cors-none-${run}`;
const ownRules = `cors-own-${run}`;
const APP = 'https://app.example.test';

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await startTestGateway({
    domains: ['127.0.0.1'],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      disk: { provider: 'local', path: tmpDir('s3gate-cors-local-') },
    },
    buckets: {
      [ownRules]: { upstream: 'rgw', cors: [{ allowedOrigins: ['https://own.example.test'], allowedMethods: ['PUT'], allowedHeaders: [], exposeHeaders: [] }] },
      'disk-bucket': { upstream: 'disk' },
      '*': { upstream: 'rgw' },
    },
  });
  viaGw = client(gw.url, GW_KEY, { forcePathStyle: true });
  direct = client(ceph.endpoint, ceph.users.a, { forcePathStyle: true });
  for (const b of [withRules, noRules, ownRules, 'disk-bucket']) await viaGw.send(new CreateBucketCommand({ Bucket: b }));
  await viaGw.send(new PutBucketCorsCommand({
    Bucket: withRules,
    CORSConfiguration: { CORSRules: [{ AllowedOrigins: [APP], AllowedMethods: ['PUT', 'DELETE'], AllowedHeaders: ['content-type', 'x-amz-*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 300 }] },
  }));
}, 10 * 60_000);

afterAll(async () => {
  viaGw?.destroy();
  direct?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

async function preflight(base: string, path: string, origin: string, method: string, headers?: string): Promise<{ status: number; cors: Record<string, string> }> {
  const h: Record<string, string> = { origin, 'access-control-request-method': method };
  if (headers) h['access-control-request-headers'] = headers;
  const r = await fetch(`${base}${path}`, { method: 'OPTIONS', headers: h });
  await r.arrayBuffer();
  const cors: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (k.startsWith('access-control-')) cors[k] = v;
  });
  return { status: r.status, cors };
}

describe('CORS preflight for a bucket whose rules are the provider\'s (RGW 16)', { timeout: 120_000 }, () => {
  it('answers as RGW answers: the rules set with PutBucketCors allow the PUT, and refuse another origin, method or header', async () => {
    const cases: [string, string, string, string?][] = [
      [`/${withRules}/photo.png`, APP, 'PUT', 'content-type,x-amz-meta-owner'],
      [`/${withRules}/photo.png`, APP, 'DELETE'],
      [`/${withRules}/photo.png`, 'https://evil.example.test', 'PUT'],
      [`/${withRules}/photo.png`, APP, 'POST'],
      [`/${withRules}/photo.png`, APP, 'PUT', 'authorization'],
      [`/${noRules}/photo.png`, APP, 'PUT'],
    ];
    const through = await Promise.all(cases.map(([p, o, m, h]) => preflight(gw.url, p, o, m, h)));
    const atRgw = await Promise.all(cases.map(([p, o, m, h]) => preflight(ceph.endpoint, p, o, m, h)));
    expect(through.map((r) => r.status)).toEqual([200, 200, 403, 403, 403, 403]);
    expect(through).toEqual(atRgw);
    expect(through[0]!.cors).toMatchObject({ 'access-control-allow-origin': APP, 'access-control-allow-methods': 'PUT', 'access-control-max-age': '300' });
  });

  it('the actual request\'s answer carries the same rules\' headers', async () => {
    const r = await fetch(await presignedPut(withRules, 'actual.txt'), { method: 'PUT', body: 'x', headers: { origin: APP } });
    expect([r.status, r.headers.get('access-control-allow-origin'), r.headers.get('access-control-expose-headers')]).toEqual([200, APP, 'ETag']);
  });

  it('an error s3gate answers itself carries the headers the provider\'s rules give: a page reads the 403, not a network error', async () => {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const corsOf = async (r: Response) => {
      await r.arrayBuffer();
      const cors: Record<string, string> = {};
      r.headers.forEach((v, k) => {
        if (k.startsWith('access-control-') || k === 'vary') cors[k] = v;
      });
      return { status: r.status, cors };
    };
    // An anonymous write, which s3gate refuses itself: the same headers as RGW's own refusal.
    const anon = (base: string, origin: string) => fetch(`${base}/${withRules}/anon.txt`, { method: 'PUT', body: 'x', headers: { origin } }).then(corsOf);
    const through = await anon(gw.url, APP);
    expect(through).toEqual(await anon(ceph.endpoint, APP));
    expect(through.cors).toMatchObject({ 'access-control-allow-origin': APP, 'access-control-expose-headers': 'ETag' });
    expect(await anon(gw.url, 'https://evil.example.test')).toEqual({ status: 403, cors: {} });
    // An expired presigned PUT (RGW 16 checks the signature before its CORS rules, and answers without them).
    const expired = await getSignedUrl(viaGw, new PutObjectCommand({ Bucket: withRules, Key: 'late.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) });
    const r = await fetch(expired, { method: 'PUT', body: 'x', headers: { origin: APP } });
    expect((await r.clone().text()).match(/<Code>([^<]*)/)?.[1]).toBe('AccessDenied');
    expect(await corsOf(r)).toMatchObject({ status: 403, cors: { 'access-control-allow-origin': APP, 'access-control-expose-headers': 'ETag' } });
    // A method the rules do not allow, or a bucket with no rules at the provider: nothing to give.
    const get = await getSignedUrl(viaGw, new GetObjectCommand({ Bucket: withRules, Key: 'late.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) });
    expect(await fetch(get, { headers: { origin: APP } }).then(corsOf)).toEqual({ status: 403, cors: {} });
    expect(await fetch(`${gw.url}/${noRules}/anon.txt`, { method: 'PUT', body: 'x', headers: { origin: APP } }).then(corsOf)).toEqual({ status: 403, cors: {} });
  });

  it('a bucket with `cors:` in s3gate\'s config is answered from it, the provider unasked; the local store has no rules of its own', async () => {
    // RGW holds no rules for this bucket and would refuse: s3gate's own allow it.
    expect((await preflight(ceph.endpoint, `/${ownRules}/k`, 'https://own.example.test', 'PUT')).status).toBe(403);
    const own = await preflight(gw.url, `/${ownRules}/k`, 'https://own.example.test', 'PUT');
    expect([own.status, own.cors['access-control-allow-origin']]).toEqual([200, 'https://own.example.test']);
    expect((await preflight(gw.url, `/${ownRules}/k`, APP, 'PUT')).status).toBe(403);
    expect((await preflight(gw.url, '/disk-bucket/k', APP, 'PUT')).status).toBe(403);
  });
});

async function presignedPut(bucket: string, key: string): Promise<string> {
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  return getSignedUrl(viaGw, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
}
