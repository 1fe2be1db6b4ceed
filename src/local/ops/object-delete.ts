import { checkDeletePrecondition, requireSupportedDeleteConditions } from '../conditions.js';
import type { Operation } from '../op.js';

export const deleteObject: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  requireSupportedDeleteConditions(r.headers);
  const ifMatch = r.headers['if-match'];
  await d.removeObject(r.bucket, r.key, (current) => checkDeletePrecondition(ifMatch, current));
  return { status: 204, headers: {} };
};
