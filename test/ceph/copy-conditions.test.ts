// A CopyObject's source conditions (x-amz-copy-source-if-*) make a copy of exactly the object the
// client saw, or none. Ceph RGW reads them only under its own names, x-amz-copy-if-* (rgw_rest_s3.cc),
// so RGW 16 alone copies whatever the source holds when a client sends S3's (minio-go's CopyObject
// with a stale ETag; an If-Unmodified-Since long past). It answers a failed If-None-Match or
// If-Modified-Since with 304, where S3 answers 412. Through s3gate's `linode` and `ceph` presets the
// conditions are renamed (`copySourceConditions: rgw`) and RGW checks them as S3 would. On
// UploadPartCopy RGW 16 checks neither name: s3gate checks them against a HEAD of the source.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListPartsCommand, PutObjectCommand,
  UploadPartCopyCommand, type CopyObjectCommandInput, type S3Client, type UploadPartCopyCommandInput,
} from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

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

/** One UploadPartCopy under `conditions`: what it did, and the parts the upload then holds. */
async function partCopies(s3: S3Client, bucket: string, conditions: (etag: string) => Partial<UploadPartCopyCommandInput>): Promise<[string, number]> {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'part-src', Body: 'part source' }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'part-dst' }));
  let outcome: string;
  try {
    await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'part-dst', UploadId, PartNumber: 1, CopySource: `${bucket}/part-src`, ...conditions(ETag!) }));
    outcome = 'copied';
  } catch (e) {
    const err = e as { name: string; $metadata: { httpStatusCode?: number } };
    outcome = `${err.$metadata.httpStatusCode} ${err.name}`;
  }
  const parts = (await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'part-dst', UploadId }))).Parts ?? [];
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'part-dst', UploadId }));
  return [outcome, parts.length];
}

const PART_CASES: [string, (etag: string) => Partial<UploadPartCopyCommandInput>, [string, number]][] = [
  ['If-Match a stale ETag', () => ({ CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' }), ['412 PreconditionFailed', 0]],
  ['If-None-Match the source\'s ETag', (etag) => ({ CopySourceIfNoneMatch: etag }), ['412 PreconditionFailed', 0]],
  ['If-Unmodified-Since long past', () => ({ CopySourceIfUnmodifiedSince: PAST }), ['412 PreconditionFailed', 0]],
  ['If-Match the source\'s ETag', (etag) => ({ CopySourceIfMatch: etag }), ['copied', 1]],
];

describe('UploadPartCopy with source conditions', { timeout: 60_000 }, () => {
  it('RGW 16 alone ignores them, under S3\'s names as under its own', async () => {
    const bucket = `cc-direct-part-${run}`;
    await direct.send(new CreateBucketCommand({ Bucket: bucket }));
    expect(await partCopies(direct, bucket, () => ({ CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' }))).toEqual(['copied', 1]);
  });

  describe.each(['linode', 'ceph', 'local'] as Target[])('through s3gate: %s', (target) => {
    it.each(PART_CASES)('%s', async (_name, conditions, expected) => {
      expect(await partCopies(viaGw, buckets[target], conditions)).toEqual(expected);
    });
  });

  it("boto3's managed copy (CopySourceIfMatch on every part) of a 12 MiB object through linode", async () => {
    const copied = () => gw.sink.lines.filter((l) => l.op === 'UploadPartCopy' && l.bucket === buckets.linode && l.status === 200).length;
    const before = copied();
    const out = await runPython(`
import os, hashlib
from boto3.s3.transfer import TransferConfig
s3 = boto3.client('s3', endpoint_url='${gw.url}', region_name='us-east-1', aws_access_key_id='${GW_KEY.accessKeyId}',
  aws_secret_access_key='${GW_KEY.secretAccessKey}', config=Config(s3={'addressing_style': 'path'}))
data = os.urandom(12 * 1024 * 1024)
s3.put_object(Bucket='${buckets.linode}', Key='big-src', Body=data)
s3.copy({'Bucket': '${buckets.linode}', 'Key': 'big-src'}, '${buckets.linode}', 'big-dst', Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
got = s3.get_object(Bucket='${buckets.linode}', Key='big-dst')['Body'].read()
print(json.dumps(hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()))
`, {}, MODERN_PYTHON);
    expect(out).toBe(true);
    expect(copied() - before).toBe(3);
  });
});
