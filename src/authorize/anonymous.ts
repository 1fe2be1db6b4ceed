// What an anonymous request (no signature) may become, per the bucket's `public` setting. With
// `acl`, s3gate grants nothing itself: object reads and listings go to the provider unsigned, so
// the provider's object ACLs and bucket policy decide, exactly as they would for a direct anonymous
// request, and the provider's refusal reaches the client. Everything else is refused here.
import type { BucketRoute } from '../config/types.js';
import type { Operation } from './operation.js';
import { publicAllows } from './grants.js';

export type AnonymousAccess = 'signed' | 'unsigned' | 'refused';

// What S3 lets an ACL or bucket policy open to everyone and a reader needs: the object, its
// headers, and the listings. Sub-resources (?acl, ?tagging, ...) and writes stay refused.
const UNSIGNED_OPERATIONS = new Set(['GetObject', 'HeadObject', 'ListObjects', 'ListObjectsV2']);

/**
 * The `public` mode in force: `acl` when absent, except on the "*" route, where an absent
 * setting refuses (else the operator's domain would serve any public bucket of any account at
 * that provider).
 */
export function publicMode(route: BucketRoute): NonNullable<BucketRoute['public']> {
  return route.public ?? (route.name === '*' ? 'none' : 'acl');
}

export function anonymousAccess(route: BucketRoute, op: Operation): AnonymousAccess {
  const mode = publicMode(route);
  if (mode === 'acl') return UNSIGNED_OPERATIONS.has(op.name) ? 'unsigned' : 'refused';
  return publicAllows(route, op.action) ? 'signed' : 'refused';
}
