import type { Operation } from '../op.js';

export const deleteObject: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  await d.removeObject(r.bucket, r.key);
  return { status: 204, headers: {} };
};
