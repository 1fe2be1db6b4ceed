import { aclResponse, cannedFromAclRequest } from '../acl.js';
import { readSmall } from '../http.js';
import type { Operation } from '../op.js';

export const getObjectAcl: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  return aclResponse((await d.readMeta(r.bucket, r.key)).acl);
};

export const putObjectAcl: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const acl = cannedFromAclRequest(r.headers, await readSmall(r.body, 64 * 1024));
  await d.updateMeta(r.bucket, r.key, (m) => ({ ...m, acl }));
  return { status: 200, headers: {} };
};
