// A CopyObject's source conditions (x-amz-copy-source-if-*) make a copy of exactly the object the
// client saw, or none. Ceph RGW reads them only under its own names, x-amz-copy-if-* (rgw_rest_s3.cc),
// so RGW 16 alone copies whatever the source holds when a client sends S3's (minio-go's CopyObject
// with a stale ETag; an If-Unmodified-Since long past). It answers a failed If-None-Match or
// If-Modified-Since with 304, where S3 answers 412. Through s3gate's `linode` and `ceph` presets the
// conditions are renamed (`copySourceConditions: rgw`) and RGW checks them as S3 would.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyObjectCommand, CreateBucketCommand, GetObjectCommand, PutObjectCommand, type CopyObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let viaGw: S3Client;
let direct: S3Client;
const run = randomBytes(4).toString('hex');
const buckets = { linode: `cc-linode-${run}`, ceph: `cc-ceph-${run}`, local: `cc-local-${run}` } as const;
type Target = keyof typeof buckets;

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      linode: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      ceph: { provider: 'ceph', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      disk: { provider: 'local', path: tmpDir('s3gate-copy-conditions-') },
    },
    buckets: { [buckets.linode]: { upstream: 'linode' }, [buckets.ceph]: { upstream: 'ceph' }, '*': { upstream: 'disk' } },
  });
  viaGw = client(gw.url, GW_KEY, { forcePathStyle: true });
  direct = client(ceph.endpoint, ceph.users.a, { forcePathStyle: true });
  for (const b of Object.values(buckets)) await viaGw.send(new CreateBucketCommand({ Bucket: b }));
}, 10 * 60_000);

afterAll(async () => {
  viaGw?.destroy();
  direct?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

const PAST = new Date('2000-01-01T00:00:00Z');
const FUTURE = new Date('2100-01-01T00:00:00Z');

/** Each condition against a source whose ETag is `etag`: what the copy did, and the destination's bytes after. */
async function copies(s3: S3Client, bucket: string, conditions: (etag: string) => Partial<CopyObjectCommandInput>): Promise<[string, string]> {
  const key = `dst-${randomBytes(3).toString('hex')}`;
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'source' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'before' }));
  let outcome: string;
  try {
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/src`, ...conditions(ETag!) }));
    outcome = 'copied';
  } catch (e) {
    const err = e as { name: string; $metadata: { httpStatusCode?: number } };
    outcome = `${err.$metadata.httpStatusCode} ${err.name}`;
  }
  const after = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  return [outcome, after];
}

const CASES: [string, (etag: string) => Partial<CopyObjectCommandInput>, [string, string]][] = [
  ['If-Match a stale ETag', () => ({ CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' }), ['412 PreconditionFailed', 'before']],
  ['If-None-Match the source\'s ETag', (etag) => ({ CopySourceIfNoneMatch: etag }), ['412 PreconditionFailed', 'before']],
  ['If-Unmodified-Since long past', () => ({ CopySourceIfUnmodifiedSince: PAST }), ['412 PreconditionFailed', 'before']],
  ['If-Modified-Since to come', () => ({ CopySourceIfModifiedSince: FUTURE }), ['412 PreconditionFailed', 'before']],
  ['If-Match the source\'s ETag', (etag) => ({ CopySourceIfMatch: etag }), ['copied', 'source']],
  // S3: a true If-Match decides, whatever If-Unmodified-Since says; RGW alone would weigh both.
  ['If-Match the source\'s ETag and If-Unmodified-Since long past', (etag) => ({ CopySourceIfMatch: etag, CopySourceIfUnmodifiedSince: PAST }), ['copied', 'source']],
  ['If-None-Match another ETag and If-Modified-Since to come', () => ({ CopySourceIfNoneMatch: '"0123456789abcdef0123456789abcdef"', CopySourceIfModifiedSince: FUTURE }), ['copied', 'source']],
];

describe('CopyObject with source conditions', { timeout: 60_000 }, () => {
  it('RGW 16 alone ignores them under S3\'s names: every copy is made', async () => {
    const bucket = `cc-direct-${run}`;
    await direct.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [, conditions] of CASES.slice(0, 4)) expect(await copies(direct, bucket, conditions)).toEqual(['copied', 'source']);
  });

  describe.each(['linode', 'ceph', 'local'] as Target[])('through s3gate: %s', (target) => {
    it.each(CASES)('%s', async (_name, conditions, expected) => {
      expect(await copies(viaGw, buckets[target], conditions)).toEqual(expected);
    });
  });
});
