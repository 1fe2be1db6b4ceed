// Ceph RGW 16 answers CompleteMultipartUpload with an empty <ETag></ETag> (the fault Red Hat's BZ
// 2266579 tracks): the JS SDK's Upload resolves with ETag '', boto3's complete_multipart_upload
// gives '', and an app that keeps the ETag it was handed keeps nothing. Through s3gate the answer
// carries the ETag the parts make, which is the one HEAD shows.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, startTestGateway } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let viaGw: S3Client;
let direct: S3Client;
const run = randomBytes(4).toString('hex');
const bucket = `etag-${run}`;
const body = randomBytes(11 * 1024 * 1024);

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await startTestGateway({
    domains: ['127.0.0.1'],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a } },
    buckets: { '*': { upstream: 'rgw' } },
  });
  viaGw = client(gw.url, GW_KEY, { forcePathStyle: true });
  direct = client(ceph.endpoint, ceph.users.a, { forcePathStyle: true });
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
}, 10 * 60_000);

afterAll(async () => {
  viaGw?.destroy();
  direct?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

async function upload(s3: S3Client, key: string): Promise<{ answered: string | undefined; head: string | undefined }> {
  const done = await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body }, partSize: 5 * 1024 * 1024 }).done();
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { answered: done.ETag, head: head.ETag };
}

describe('CompleteMultipartUpload\'s ETag, into RGW 16', { timeout: 120_000 }, () => {
  it('the JS SDK\'s Upload: RGW alone answers an empty ETag; through s3gate the one HEAD shows', async () => {
    const alone = await upload(direct, 'direct.bin');
    expect(alone.answered).toBe('');
    expect(alone.head).toMatch(/^"[0-9a-f]{32}-3"$/);
    const through = await upload(viaGw, 'through.bin');
    expect(through.answered).toBe(through.head);
    // The same bytes in the same parts: the same ETag, whoever made it.
    expect(through.head).toBe(alone.head);
  });

  it('boto3\'s complete_multipart_upload, with its default checksums (a CRC32 per part)', async () => {
    const out = await runPython(`
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
m = s3.create_multipart_upload(Bucket='${bucket}', Key='boto3.bin')
parts = []
for n in (1, 2):
    p = s3.upload_part(Bucket='${bucket}', Key='boto3.bin', UploadId=m['UploadId'], PartNumber=n, Body=bytes([n]) * (5 * 1024 * 1024 if n == 1 else 100))
    parts.append({'PartNumber': n, 'ETag': p['ETag'], **({'ChecksumCRC32': p['ChecksumCRC32']} if 'ChecksumCRC32' in p else {})})
done = s3.complete_multipart_upload(Bucket='${bucket}', Key='boto3.bin', UploadId=m['UploadId'], MultipartUpload={'Parts': parts})
print(json.dumps({'answered': done.get('ETag'), 'head': s3.head_object(Bucket='${bucket}', Key='boto3.bin')['ETag']}))
`, { EP: gw.url, AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey }, MODERN_PYTHON) as { answered: string; head: string };
    expect(out.head).toMatch(/^"[0-9a-f]{32}-2"$/);
    expect(out.answered).toBe(out.head);
  });
});
