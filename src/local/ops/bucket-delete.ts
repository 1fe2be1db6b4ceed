import { readdir, rm, rmdir } from 'node:fs/promises';
import { S3Error } from '../../s3/errors.js';
import { SYS } from '../disk.js';
import type { Operation } from '../op.js';

export const deleteBucket: Operation = async (d, r) => {
  const b = r.bucket;
  await d.requireBucket(b);
  const names = await readdir(d.bucketDir(b));
  if (names.some((n) => n !== SYS)) throw new S3Error('BucketNotEmpty', undefined, { BucketName: b });
  // A PUT racing this delete may have a temp file; its commit then fails with NoSuchBucket.
  await rm(d.sysDir(b), { recursive: true, force: true });
  try {
    await rmdir(d.bucketDir(b));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTEMPTY') throw new S3Error('BucketNotEmpty', undefined, { BucketName: b });
    throw e;
  }
  return { status: 204, headers: {} };
};
