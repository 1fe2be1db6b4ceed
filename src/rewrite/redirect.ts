// A provider's redirect is never handed to the client: its Location and <Endpoint> name the
// provider's endpoint and bucket, and a client that followed it would leave s3gate (and its
// signature would not be valid there). s3gate does not follow it either: the request body may
// already be spent, and a redirect means the upstream's endpoint or region is not the bucket's.
// The client gets the error s3gate's own endpoint would give for a bucket it cannot serve now.
import { S3Error } from '../s3/errors.js';

export function redirectError(status: number): S3Error | undefined {
  if (status < 300 || status >= 400 || status === 304) return undefined;
  // 301/308 (PermanentRedirect: wrong region or endpoint) will not get better by retrying.
  if (status === 301 || status === 308) return new S3Error('InternalError', 'The storage behind this bucket is misconfigured in the gateway. Please try again later.');
  // 302/307 (TemporaryRedirect, e.g. a new bucket's DNS still propagating at AWS): retry later.
  return new S3Error('ServiceUnavailable', 'The storage behind this bucket is temporarily unavailable. Please try again.');
}
