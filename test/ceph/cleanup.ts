// Removing what a test file made on the shared RGW: its buckets, their objects (every version)
// and unfinished multipart uploads, for both test users. The RGW keeps everything in a 2 GiB
// memstore, which a suite's leftovers filled once; every RGW test file calls this in afterAll.
//
// Deleted data is freed at once for small objects; larger tails and aborted parts go through
// RGW's garbage collection, which rgw.sh sets to run within minutes (not RGW's default hours).
// radosgw-admin's `bucket rm --purge-objects --bypass-gc` would free them at once, but RGW 16's
// segfaults on a bucket with an unfinished multipart upload.
import {
  AbortMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, ListBucketsCommand, ListMultipartUploadsCommand,
  ListObjectVersionsCommand, S3Client,
} from '@aws-sdk/client-s3';
import type { CephInfo } from './ceph.js';

/**
 * Removes every bucket of either test user whose name `match` accepts (a file's unique run id,
 * usually), with all it holds. Errors are collected and thrown after every bucket was tried.
 */
export async function removeCephBuckets(ceph: CephInfo | undefined, match: (bucket: string) => boolean): Promise<void> {
  if (!ceph) return;
  const failures: string[] = [];
  for (const user of [ceph.users.a, ceph.users.b]) {
    const s3 = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: user, maxAttempts: 3, requestChecksumCalculation: 'WHEN_REQUIRED' });
    try {
      const { Buckets = [] } = await s3.send(new ListBucketsCommand({}));
      for (const { Name } of Buckets) {
        if (Name === undefined || !match(Name)) continue;
        try {
          await emptyBucket(s3, Name);
          await s3.send(new DeleteBucketCommand({ Bucket: Name }));
        } catch (e) {
          failures.push(`${Name}: ${(e as Error).name} ${(e as Error).message}`);
        }
      }
    } finally {
      s3.destroy();
    }
  }
  if (failures.length) throw new Error(`RGW clean-up left buckets behind:\n${failures.join('\n')}`);
}

async function emptyBucket(s3: S3Client, Bucket: string): Promise<void> {
  for (;;) {
    const u = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
    for (const up of u.Uploads ?? []) await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: up.Key, UploadId: up.UploadId }));
    if (!u.IsTruncated) break;
  }
  for (;;) {
    // URL-encoded, so keys with control characters survive the XML; RGW writes a space as %20.
    const v = await s3.send(new ListObjectVersionsCommand({ Bucket, MaxKeys: 1000, EncodingType: 'url' }));
    const objects = [...(v.Versions ?? []), ...(v.DeleteMarkers ?? [])].map((o) => ({ Key: decodeURIComponent(o.Key!), VersionId: o.VersionId }));
    // XML 1.0 cannot carry control characters, so keys holding them go one by one in the path.
    const plain = objects.filter((o) => !/[\x00-\x1f\x7f]/.test(o.Key));
    for (const o of objects) if (!plain.includes(o)) await s3.send(new DeleteObjectCommand({ Bucket, ...o }));
    if (plain.length) await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: plain, Quiet: true } }));
    if (!v.IsTruncated || objects.length === 0) break;
  }
}
