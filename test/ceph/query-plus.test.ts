// A '+' in a query is a space, as S3 reads it (a literal plus is %2B). fog-aws (excon's
// CGI.escape, what GitLab and CarrierWave list with) and the AWS SDK for Java v1 send a space in a
// query value as '+' and sign it as %20; libs3 sends `prefix=q+r/` for "q r/". s3gate read '+' as
// a plus: fog's listings of a prefix or marker holding a space were refused SignatureDoesNotMatch,
// and libs3's (SigV2, whose signature leaves the query out) listed the keys holding '+' instead.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, type startTestGateway } from '../helpers/gateway.js';
import { libs3, rgwAndDiskGateway } from './rgw-and-disk.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let viaGw: S3Client;
const run = randomBytes(4).toString('hex');
const rgwBucket = `plus-${run}`;
const KEYS = ['q r/1.txt', 'q+r/2.txt', 'docs/k1 final.pdf', 'docs/k2 final.pdf', 'docs/k3 final.pdf'];

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await rgwAndDiskGateway(ceph, 'query-plus');
  viaGw = client(gw.url, GW_KEY, { forcePathStyle: true });
  for (const b of [rgwBucket, 'disk']) {
    await viaGw.send(new CreateBucketCommand({ Bucket: b }));
    for (const Key of KEYS) await viaGw.send(new PutObjectCommand({ Bucket: b, Key, Body: Key }));
  }
}, 10 * 60_000);

afterAll(async () => {
  viaGw?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

const keysIn = (xml: string) => [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);

/**
 * A ListObjects signed as fog and the Java SDK v1 sign it (the canonical query spells a space
 * %20) and sent as they send it (a space as '+').
 */
async function formEncodedList(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string, query: Record<string, string>) {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const signed = await signer.sign({
    method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/${bucket}/`, query,
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const qs = Object.entries(query).map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%20/g, '+')}`).join('&');
  const r = await request(`${endpoint}/${bucket}/?${qs}`, { headers: signed.headers });
  return { status: r.statusCode, body: await r.body.text() };
}

describe("'+' in a query is a space", { timeout: 60_000 }, () => {
  it('RGW 16 itself reads it so (the reference)', async () => {
    const r = await formEncodedList(ceph.endpoint, ceph.users.a, rgwBucket, { prefix: 'q r/' });
    expect(r.status, r.body).toBe(200);
    expect(keysIn(r.body)).toEqual(['q r/1.txt']);
  });

  it.each([['through s3gate into RGW 16', rgwBucket], ['the local store', 'disk']])('%s: a prefix and a marker with a space, sent as + and signed as a space (fog, the Java SDK v1)', async (_n, bucket) => {
    const prefix = await formEncodedList(gw.url, GW_KEY, bucket, { prefix: 'q r/' });
    expect(prefix.status, prefix.body).toBe(200);
    expect(keysIn(prefix.body)).toEqual(['q r/1.txt']);
    // fog's files.each: the second page starts after a marker holding a space.
    const page = await formEncodedList(gw.url, GW_KEY, bucket, { prefix: 'docs/', marker: 'docs/k1 final.pdf', 'max-keys': '1' });
    expect(page.status, page.body).toBe(200);
    expect(keysIn(page.body)).toEqual(['docs/k2 final.pdf']);
  });

  it.each([['through s3gate into RGW 16', rgwBucket], ['the local store', 'disk']])("%s: libs3's `s3 list … prefix=q r/` (SigV2; it sends prefix=q+r/)", async (_n, bucket) => {
    const out = await libs3(gw.url, 'list', bucket, 'prefix=q r/');
    expect(out).toContain('q r/1.txt');
    expect(out).not.toContain('q+r/2.txt');
  });
});
