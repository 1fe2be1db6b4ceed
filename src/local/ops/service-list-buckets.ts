import { mkdir, readdir } from 'node:fs/promises';
import { listBucketsQuery, listBucketsXml, pageBuckets, type ListedBucket } from '../../s3/list-buckets.js';
import { validateBucket } from '../keys.js';
import { OWNER } from '../http.js';
import type { Operation } from '../op.js';

export const listBuckets: Operation = async (d, r) => {
  const q = listBucketsQuery(r.query);
  await mkdir(d.root, { recursive: true });
  const entries = await readdir(d.root, { withFileTypes: true });
  const buckets: ListedBucket[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || (q.prefix !== undefined && !e.name.startsWith(q.prefix))) continue;
    try {
      validateBucket(e.name);
    } catch {
      continue;
    }
    const meta = await d.bucketMeta(e.name);
    buckets.push({ name: e.name, created: new Date(meta.created).toISOString(), region: meta.location || 'us-east-1' });
  }
  const body = listBucketsXml({ id: OWNER.ID, name: OWNER.DisplayName }, pageBuckets(buckets, q), q);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body };
};
