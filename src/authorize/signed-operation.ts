// SigV2 signs only the query parameters on its sub-resource list; any other parameter can be
// added to a signed request (or a captured one replayed) without breaking the signature. Such a
// parameter must never change which operation the provider runs: a V2 request is classified
// again on what its signature covers, and refused where the two differ. The check is derived
// from classify() itself, so a sub-resource classify learns is covered without a second list
// to keep in step (the V2 list is botocore's, which lacks retention, legal-hold, attributes,
// encryption, publicAccessBlock and ownershipControls). SigV4 signs the whole query.
import { SIGNED_SUBRESOURCES_V2 } from '../signing/sigv2.js';
import { S3Error } from '../s3/errors.js';
import { classify, QueryView, type Operation } from './operation.js';

const V2_AUTH_QUERY = new Set(['AWSAccessKeyId', 'Signature', 'Expires']);

// ListObjects and ListObjectsV2 differ by `list-type`, which no V2 client signs; both are the
// same listing of the same bucket under the same grant.
function family(name: string): string {
  return name === 'ListObjectsV2' ? 'ListObjects' : name;
}

export function requireSignedOperationV2(
  op: Operation, method: string, bucket: string | undefined, key: string | undefined,
  query: [string, string][], headers: Record<string, string | string[] | undefined>,
): void {
  const signed: [string, string][] = [];
  let unsigned: string | undefined;
  for (const pair of query) {
    if (SIGNED_SUBRESOURCES_V2.has(pair[0])) signed.push(pair);
    else unsigned ??= pair[0];
  }
  if (unsigned === undefined) return;
  const covered = classify(method, bucket, key, new QueryView(signed), headers);
  if (family(covered.name) === family(op.name) && covered.action === op.action) return;
  const names = query.map(([n]) => n).filter((n) => !SIGNED_SUBRESOURCES_V2.has(n) && !V2_AUTH_QUERY.has(n));
  throw new S3Error('AccessDenied', `Query parameters that select the operation must be signed; Signature Version 2 does not cover: ${names.join(', ')}`);
}
