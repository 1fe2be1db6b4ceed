import type { Operation } from '../op.js';

export const headBucket: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const meta = await d.bucketMeta(r.bucket);
  return { status: 200, headers: { 'x-amz-bucket-region': meta.location || 'us-east-1' } };
};
