// A request the provider would misread is not sent. RGW 16 does not know S3's newer bucket
// sub-resources (encryption, ownershipControls, analytics…) nor GetObjectAttributes, and runs the
// plain operation in their place: GET ?encryption lists the bucket, DELETE ?encryption deletes it
// when empty, GET ?attributes answers the object's bytes (test/ceph/unknown-subresources.test.ts).
// The provider's profile names what it does not know (`unknownSubresources`); such a request
// answers 501 NotImplemented, as S3 answers an operation it does not implement.
import type { ProviderProfile } from '../config/provider.js';
import { S3Error } from '../s3/errors.js';

/** Refuses (501) a request naming a sub-resource the provider does not know; `query` as the view holds it. */
export function requireKnownSubresources(operation: string, query: readonly [string, string][], isObject: boolean, profile: ProviderProfile): void {
  const names = isObject ? profile.unknownSubresources?.object : profile.unknownSubresources?.bucket;
  if (!names) return;
  for (let i = 0; i < query.length; i++) {
    if (!names.includes(query[i]![0])) continue;
    throw new S3Error('NotImplemented', `${operation} is not implemented by this bucket's provider, which would run another operation in its place.`);
  }
}
