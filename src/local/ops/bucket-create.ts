import { mkdir } from 'node:fs/promises';
import { S3Error } from '../../s3/errors.js';
import { cannedFromHeaders } from '../acl.js';
import { validateNewBucket } from '../keys.js';
import { readSmall } from '../http.js';
import type { Operation } from '../op.js';
import type { BucketMeta } from '../types.js';
import { xmlLeaf } from '../xml.js';

export const createBucket: Operation = async (d, r) => {
  const b = validateNewBucket(r.bucket);
  const acl = cannedFromHeaders(r.headers);
  const config = await readSmall(r.body, 64 * 1024);
  const location = config.trim() ? (xmlLeaf(config, 'LocationConstraint') ?? '') : '';
  await mkdir(d.root, { recursive: true });
  try {
    await mkdir(d.bucketDir(b));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: b });
    throw e;
  }
  d.markRecovered(b);
  await d.ensureSys(b);
  const meta: BucketMeta = { created: Date.now(), location };
  if (acl !== undefined) meta.acl = acl;
  await d.writeJsonAtomic(b, d.sysDir(b, 'bucket.json'), meta);
  return { status: 200, headers: { location: `/${b}` } };
};
