// Server access logging is never enabled on the local store: GetBucketLogging answers as S3 does
// for a bucket without it (an empty BucketLoggingStatus; libs3's `s3 getlogging` reads it).
// PutBucketLogging stays 501: the store writes no access logs to enable.
import type { Operation } from '../op.js';
import { xml } from '../http.js';

export const getBucketLogging: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  return xml(200, 'BucketLoggingStatus', {});
};
