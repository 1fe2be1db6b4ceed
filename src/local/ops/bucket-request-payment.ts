// The bucket owner pays for every request to the local store: GetBucketRequestPayment answers
// S3's default. PutBucketRequestPayment stays 501: Requester Pays has nothing to charge here.
import type { Operation } from '../op.js';
import { xml } from '../http.js';

export const getBucketRequestPayment: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  return xml(200, 'RequestPaymentConfiguration', { Payer: 'BucketOwner' });
};
