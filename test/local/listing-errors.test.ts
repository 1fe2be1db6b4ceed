// Listing and refusal details of #20 through s3gate with the JS SDK against the local store:
// max-keys=0 is an empty, untruncated page; an UploadPartCopy range past the source's end is
// 400 InvalidArgument (it was 416 InvalidRange).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, CreateMultipartUploadCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCopyCommand, type S3Client } from '@aws-sdk/client-s3';
import { client, DOMAIN, failure, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
const B = 'listing';

beforeAll(async () => {
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { disk: { provider: 'local', path: tmpDir('s3gate-listing-') } },
    buckets: { '*': { upstream: 'disk' } },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  for (const k of ['a', 'b']) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: 'twelve bytes' }));
});

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
});

describe('listings and refusals as S3 answers them', () => {
  it('max-keys=0 is an empty page that is not truncated', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 0 }));
    expect([r.KeyCount, r.Contents ?? [], r.IsTruncated]).toEqual([0, [], false]);
  });

  it('an UploadPartCopy range past the source\'s end is 400 InvalidArgument', async () => {
    const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp' }));
    const e = await failure(s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'mp', UploadId: u.UploadId, PartNumber: 1, CopySource: `${B}/a`, CopySourceRange: 'bytes=0-12' })));
    expect([e.name, e.$metadata.httpStatusCode]).toEqual(['InvalidArgument', 400]);
  });
});
