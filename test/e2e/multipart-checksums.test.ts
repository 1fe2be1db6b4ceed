// CompleteMultipartUpload's x-amz-checksum-* is the object's checksum (composite or full-object,
// per x-amz-checksum-type), never a checksum of the completion XML (#19 part 3). minio-go's
// streaming upload sends the composite CRC32C; the SDKs send full-object checksums. Through
// s3gate each completes, forwarded where the provider knows the header, dropped where not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { AwsCrc32c } from '@aws-crypto/crc32c';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, GW_KEY, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { minioGoBinary, minioGoStreamingPut } from '../helpers/minio-go.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

const run = Math.random().toString(36).slice(2, 8);
const RGW_BUCKET = `edges-mpc-${run}`;
let up: StrictUpstream;
let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;

beforeAll(async () => {
  minioGoBinary();
  ceph = await ensureCeph();
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  await up.store.handle({ method: 'PUT', bucket: 'strict', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  const cephA = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  await new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...cephA }, maxAttempts: 1 })
    .send(new CreateBucketCommand({ Bucket: RGW_BUCKET }));
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      u: { provider: 'minio', endpoint: up.url, credentials: UP_KEY },
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: cephA },
      disk: { provider: 'local', path: tmpDir('s3gate-mpc-') },
    },
    buckets: { strict: { upstream: 'u' }, rgw: { upstream: 'rgw', bucket: RGW_BUCKET }, disk: { upstream: 'disk' } },
  });
  s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'disk' }));
}, 900_000);

afterAll(async () => {
  await gw?.close();
  await up?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

const TARGETS = [['RGW 16 (linode profile: no checksum headers)', 'rgw'], ['the strict upstream (minio profile)', 'strict'], ['the local store', 'disk']] as const;

describe("minio-go's streaming upload (PutObject, size -1)", () => {
  it('succeeds against RGW 16 directly', async () => {
    expect(await minioGoStreamingPut(ceph.endpoint, ceph.users.a, RGW_BUCKET, 'direct.bin', 12_000_000)).toMatch(/^OK size=12000000 same=true/);
  });

  it.each(TARGETS)('succeeds through s3gate into %s', async (_n, bucket) => {
    const from = up.requests.length;
    expect(await minioGoStreamingPut(gw.url, GW_KEY, bucket, 'streamed.bin', 12_000_000)).toMatch(/^OK size=12000000 same=true/);
    if (bucket === 'strict') {
      // The minio profile knows crc32c: the object's checksum travels on, for the provider to check.
      const complete = up.requests.slice(from).find((r) => r.operation === 'CompleteMultipartUpload');
      expect(complete?.signedHeaders).toContain('x-amz-checksum-crc32c');
    }
  });
});

describe('full-object multipart checksums', () => {
  it.each(TARGETS)('the JS SDK completes with ChecksumType FULL_OBJECT and the whole object CRC32C, into %s', async (_n, bucket) => {
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const parts = [data.subarray(0, 5 * 1024 * 1024), data.subarray(5 * 1024 * 1024)];
    const key = `full-${run}.bin`;
    const crc = new AwsCrc32c();
    crc.update(data);
    const whole = Buffer.from(await crc.digest()).toString('base64');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC32C', ChecksumType: 'FULL_OBJECT' }));
    const done = [];
    for (let i = 0; i < parts.length; i++) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: 'CRC32C' }));
      done.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId, ChecksumCRC32C: whole, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: done },
    }));
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it.each(TARGETS)('each part answers its CRC32C, and a completion naming them (its XML signed by sha256 over plain HTTP) completes, into %s', async (_n, bucket) => {
    // Where the provider knows no checksum, s3gate takes the part checksums out of the XML, and
    // the provider must be told the payload hash of the XML it gets (it was told the client's).
    const data = randomBytes(6 * 1024 * 1024 + 5);
    const parts = [data.subarray(0, 5 * 1024 * 1024), data.subarray(5 * 1024 * 1024)];
    const key = `composite-${run}.bin`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC32C' }));
    const done = [];
    for (let i = 0; i < parts.length; i++) {
      const crc = new AwsCrc32c();
      crc.update(parts[i]!);
      const own = Buffer.from(await crc.digest()).toString('base64');
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumCRC32C: own }));
      expect(r.ChecksumCRC32C).toBe(own);
      done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32C: own });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }));
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    expect(got.equals(data)).toBe(true);
  });

  it.each(TARGETS.slice(0, 1))("boto3's upload_file (multipart, default checksums) into %s", async (_n, bucket) => {
    const out = await runPython(`
import os, hashlib
from boto3.s3.transfer import TransferConfig
s3 = boto3.client('s3', endpoint_url='${gw.url}', region_name='us-east-1', aws_access_key_id='${GW_KEY.accessKeyId}',
  aws_secret_access_key='${GW_KEY.secretAccessKey}', config=Config(s3={'addressing_style': 'path'}))
data = os.urandom(11 * 1024 * 1024)
path = '/tmp/s3gate-mpc-${run}-${bucket}.bin'
open(path, 'wb').write(data)
s3.upload_file(path, '${bucket}', 'boto3-${run}.bin', Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
os.remove(path)
got = s3.get_object(Bucket='${bucket}', Key='boto3-${run}.bin')['Body'].read()
print(json.dumps(hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()))
`, {}, MODERN_PYTHON);
    expect(out).toBe(true);
  });
});
