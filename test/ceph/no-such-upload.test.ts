// An upload that is gone (aborted, or an id never made) is 404 NoSuchUpload at S3 on ListParts and
// CompleteMultipartUpload alike. RGW 16 answers ListParts 404 NoSuchKey and the Complete 500
// InternalError, which the SDKs retry as the server's fault before failing with it. Through s3gate
// both are S3's answer, against RGW as against the local store; RGW directly is the reference.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, ListPartsCommand,
  S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, failure, GW_KEY, type startTestGateway } from '../helpers/gateway.js';
import { rgwAndDiskGateway } from './rgw-and-disk.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
let direct: S3Client;
const run = randomBytes(4).toString('hex');
const rgwBucket = `nsu-${run}`;

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await rgwAndDiskGateway(ceph, 'no-such-upload');
  s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
  direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...ceph.users.a }, maxAttempts: 1 });
  for (const b of [rgwBucket, 'disk']) await s3.send(new CreateBucketCommand({ Bucket: b }));
}, 10 * 60_000);

afterAll(async () => {
  s3?.destroy();
  direct?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

/** An upload with one part, then aborted: its id is gone. */
async function abortedUpload(c: S3Client, Bucket: string, Key: string): Promise<string> {
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  await c.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'part' }));
  await c.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  return UploadId!;
}

async function answers(c: S3Client, Bucket: string, Key: string, UploadId: string): Promise<[string, number | undefined][]> {
  const list = await failure(c.send(new ListPartsCommand({ Bucket, Key, UploadId })));
  const complete = await failure(c.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }] } })));
  return [list, complete].map((e) => [e.name, e.$metadata.httpStatusCode]);
}

describe('an upload that is gone', () => {
  it('RGW 16 directly: ListParts NoSuchKey, Complete 500 InternalError', async () => {
    const id = await abortedUpload(direct, rgwBucket, 'direct');
    expect(await answers(direct, rgwBucket, 'direct', id)).toEqual([['NoSuchKey', 404], ['InternalError', 500]]);
  });

  for (const [name, bucket] of [['RGW 16 through s3gate', rgwBucket], ['the local store', 'disk']] as const) {
    it(`${name}: NoSuchUpload 404 on both, aborted or never made, naming the upload`, async () => {
      const id = await abortedUpload(s3, bucket, 'gone');
      expect(await answers(s3, bucket, 'gone', id)).toEqual([['NoSuchUpload', 404], ['NoSuchUpload', 404]]);
      expect(await answers(s3, bucket, 'gone', '2~never-made-upload-id')).toEqual([['NoSuchUpload', 404], ['NoSuchUpload', 404]]);
      const e = await failure(s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'gone', UploadId: id })));
      expect((e as unknown as { UploadId?: string }).UploadId).toBe(id);
      expect(e.message).toMatch(/^The specified upload does not exist/);
    });
  }

  it('boto3 with default retries fails a Complete of a gone upload at once, with NoSuchUpload', async () => {
    const id = await abortedUpload(s3, rgwBucket, 'boto3');
    const out = await runPython(`
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id='${GW_KEY.accessKeyId}', aws_secret_access_key='${GW_KEY.secretAccessKey}', region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))
try:
    s3.complete_multipart_upload(Bucket='${rgwBucket}', Key='boto3', UploadId='${id}', MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': '"0123456789abcdef0123456789abcdef"'}]})
    print(json.dumps('completed'))
except Exception as e:
    print(json.dumps([e.response['Error']['Code'], e.response['ResponseMetadata']['RetryAttempts']]))
`, { EP: gw.url }, MODERN_PYTHON);
    expect(out).toEqual(['NoSuchUpload', 0]);
  });
});
