import { mkdir, readdir } from 'node:fs/promises';
import { compareKeys, validateBucket } from '../keys.js';
import { OWNER, xml } from '../http.js';
import type { Operation } from '../op.js';

export const listBuckets: Operation = async (d) => {
  await mkdir(d.root, { recursive: true });
  const entries = await readdir(d.root, { withFileTypes: true });
  const buckets: { Name: string; CreationDate: string }[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    try {
      validateBucket(e.name);
    } catch {
      continue;
    }
    const meta = await d.bucketMeta(e.name);
    buckets.push({ Name: e.name, CreationDate: new Date(meta.created).toISOString() });
  }
  buckets.sort((a, b) => compareKeys(a.Name, b.Name));
  return xml(200, 'ListAllMyBucketsResult', { Owner: OWNER, Buckets: { Bucket: buckets } });
};
