import { S3Error } from '../../s3/errors.js';
import { readSmall } from '../http.js';
import type { Operation } from '../op.js';
import { parseTaggingXml, taggingResponse } from '../tagging.js';

export const getBucketTagging: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const tags = (await d.bucketMeta(r.bucket)).tags;
  if (!tags || tags.length === 0) throw new S3Error('NoSuchTagSet', undefined, { BucketName: r.bucket });
  return taggingResponse(tags);
};

export const putBucketTagging: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const tags = parseTaggingXml(await readSmall(r.body), 'bucket');
  await d.updateBucketMeta(r.bucket, (m) => ({ ...m, tags }));
  return { status: 204, headers: {} };
};

export const deleteBucketTagging: Operation = async (d, r) => {
  await d.updateBucketMeta(r.bucket, (m) => {
    const { tags: _dropped, ...rest } = m;
    return rest;
  });
  return { status: 204, headers: {} };
};
