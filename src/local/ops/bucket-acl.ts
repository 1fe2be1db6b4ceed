import { aclResponse, cannedFromAclRequest } from '../acl.js';
import { readSmall } from '../http.js';
import type { Operation } from '../op.js';

export const getBucketAcl: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  return aclResponse((await d.bucketMeta(r.bucket)).acl);
};

export const putBucketAcl: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const acl = cannedFromAclRequest(r.headers, await readSmall(r.body, 64 * 1024));
  await d.updateBucketMeta(r.bucket, (m) => ({ ...m, acl }));
  return { status: 200, headers: {} };
};
