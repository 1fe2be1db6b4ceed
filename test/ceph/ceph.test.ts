// The real Ceph RGW (16.2, Debian 12's) that the suite runs against, talked to
// directly with the AWS SDK: it works, and what it does with the SDK's defaults
// is recorded here as tested facts (see test/ceph/README.md).
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { describe, it, expect, beforeAll } from 'vitest';
import {
  S3Client,
  S3ServiceException,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';

let ceph: CephInfo;

beforeAll(async () => {
  ceph = await ensureCeph();
}, 10 * 60_000);

function client(extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: ceph.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: ceph.users.a,
    ...extra,
  });
}

function bucketName(prefix: string): string {
  // The cluster outlives test runs, so names must not collide across runs.
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

async function removeBucket(s3: S3Client, bucket: string): Promise<void> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const o of listed.Contents ?? []) {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function rejection(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return err;
    throw err;
  }
  throw new Error('expected the request to be rejected');
}

describe('Ceph RGW on loopback', { timeout: 60_000 }, () => {
  it('creates a bucket, stores and returns an object (Buffer body, checksums only when required)', async () => {
    const s3 = client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    const bucket = bucketName('ceph-basic');
    const body = Buffer.from('hello from s3gate\n'.repeat(1000));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/hello.txt', Body: body }));
      expect(put.$metadata.httpStatusCode).toBe(200);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/hello.txt' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(got.ContentLength).toBe(body.length);
    } finally {
      await removeBucket(s3, bucket);
    }
  });

  it('user b cannot read user a\'s bucket', async () => {
    const a = client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    const b = client({ credentials: ceph.users.b });
    const bucket = bucketName('ceph-owner');
    await a.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      const err = await rejection(b.send(new ListObjectsV2Command({ Bucket: bucket })));
      expect(err.name).toBe('AccessDenied');
      expect(err.$metadata.httpStatusCode).toBe(403);
    } finally {
      await removeBucket(a, bucket);
    }
  });

  // A default-config SDK (requestChecksumCalculation WHEN_SUPPORTED) sends a
  // stream body as Content-Encoding: aws-chunked, Transfer-Encoding: chunked,
  // x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a trailing
  // x-amz-checksum-crc32, and no Content-Length. RGW 16 has no trailer support.
  it("RGW 16 rejects the SDK's default aws-chunked upload: 411 MissingContentLength", async () => {
    const s3 = client();
    const bucket = bucketName('ceph-chunked');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      const err = await rejection(
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'streamed',
            Body: Readable.from([Buffer.from('hello')]),
            ContentLength: 5,
          }),
        ),
      );
      expect(err.name).toBe('MissingContentLength');
      expect(err.$metadata.httpStatusCode).toBe(411);
    } finally {
      await removeBucket(s3, bucket);
    }
  });

  // The same aws-chunked body, but framed with a Content-Length: RGW 16 takes
  // the STREAMING-UNSIGNED-PAYLOAD-TRAILER marker for a payload hash. So giving
  // it a length is not enough; the aws-chunked body must be decoded for it.
  it('RGW 16 rejects aws-chunked with a trailer even with a Content-Length: 400 XAmzContentSHA256Mismatch', async () => {
    const s3 = client();
    const encoded = '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n';
    s3.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { headers: Record<string, string>; body: unknown };
        if (req.headers['content-encoding'] === 'aws-chunked') {
          req.body = Buffer.from(encoded);
          req.headers['content-length'] = String(Buffer.byteLength(encoded));
          delete req.headers['transfer-encoding'];
        }
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'fixedLengthAwsChunked' },
    );
    const bucket = bucketName('ceph-chunked-cl');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      const err = await rejection(
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'streamed',
            Body: Readable.from([Buffer.from('hello')]),
            ContentLength: 5,
          }),
        ),
      );
      expect(err.name).toBe('XAmzContentSHA256Mismatch');
      expect(err.$metadata.httpStatusCode).toBe(400);
    } finally {
      await removeBucket(client(), bucket);
    }
  });

  // With a Buffer body the default SDK sends x-amz-checksum-crc32 as a header
  // and a plain body. RGW 16 accepts it, and does not check the value: a wrong
  // checksum is stored just the same, and none is echoed back.
  it('RGW 16 accepts a default-config Buffer upload and ignores x-amz-checksum-* values', async () => {
    const s3 = client();
    const bucket = bucketName('ceph-checksum');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      const ok = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: Buffer.from('hello') }));
      expect(ok.$metadata.httpStatusCode).toBe(200);
      const wrong = await client({ requestChecksumCalculation: 'WHEN_REQUIRED' }).send(
        new PutObjectCommand({ Bucket: bucket, Key: 'b', Body: Buffer.from('hello'), ChecksumCRC32: 'AAAAAA==' }),
      );
      expect(wrong.$metadata.httpStatusCode).toBe(200);
      expect(wrong.ChecksumCRC32).toBeUndefined();
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'b' }));
      expect(await got.Body!.transformToString()).toBe('hello');
    } finally {
      await removeBucket(s3, bucket);
    }
  });
});
