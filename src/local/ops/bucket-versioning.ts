// Versioning is never enabled on the local store: GetBucketVersioning answers as S3 does for a
// bucket that never had it (an empty VersioningConfiguration).
import type { Operation } from '../op.js';
import { xml } from '../http.js';

export const getBucketVersioning: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  return xml(200, 'VersioningConfiguration', {});
};
