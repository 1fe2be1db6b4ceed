// SigV2 clients (boto3 signature_version='s3', s3cmd, old SDKs, boto3's default presigned URLs
// for custom endpoints) are verified like SigV4 ones, with the same errors.
import type { GatewayKey } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import { parseAuthorizationV2, parseQueryAuthV2, signatureV2, stringToSignForRequestV2, verifySignatureV2 } from '../signing/sigv2.js';
import type { Authenticated, AuthInput } from './types.js';

const MAX_SKEW_MS = 15 * 60 * 1000;

function lookupKey(keys: Map<string, GatewayKey>, id: string): GatewayKey {
  const key = keys.get(id);
  if (!key) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: id });
  return key;
}

/**
 * A client addressing a bucket by Host signs "/bucket/key". For a custom domain bound to a
 * bucket, a client may sign the bucket's name or, as S3's CNAME rule has it, the whole host.
 */
function candidates(input: AuthInput): { bucketInHost?: string; path: string }[] {
  if (input.bucketInHost === undefined) {
    // botocore signs bucket-level calls as "/bucket/" while sending "/bucket"; others sign what
    // they send. Both name the same resource, so both are accepted.
    const p = input.rawPath;
    const bucketLevel = /^\/[^/]+\/?$/.test(p);
    if (!bucketLevel) return [{ path: p }];
    return [{ path: p }, { path: p.endsWith('/') ? p.slice(0, -1) : p + '/' }];
  }
  const host = input.host.toLowerCase().replace(/:\d+$/, '');
  const buckets = host === input.bucketInHost ? [input.bucketInHost] : [input.bucketInHost, host];
  return buckets.map((b) => ({ bucketInHost: b, path: input.rawPath }));
}

function verify(input: AuthInput, key: GatewayKey, mode: 'header' | 'query', provided: string): void {
  let first: string | undefined;
  const headerSets = [input.headers];
  // A SigV2 presigned URL that did not sign a Content-Type still gets one from many uploaders
  // (urllib, curl -d, browsers' fetch). A SigV4 presigned URL signing only `host` leaves the
  // Content-Type free too; accepting the unsigned form widens nothing beyond that.
  const signedContentType = /(^|&)content-type=/i.test(input.rawQuery);
  if (mode === 'query' && input.headers['content-type'] !== undefined && !signedContentType) {
    const { 'content-type': _ct, ...rest } = input.headers;
    headerSets.push(rest);
  }
  for (const headers of headerSets) {
    for (const c of candidates(input)) {
      const sts = stringToSignForRequestV2({ method: input.method, query: input.rawQuery, headers, ...c }, mode);
      if (verifySignatureV2(signatureV2(key.secretAccessKey, sts), provided)) return;
      first ??= sts;
    }
  }
  const hex = Buffer.from(first!, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ');
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: key.accessKeyId, StringToSign: first, SignatureProvided: provided, StringToSignBytes: hex,
  });
}

function declaredPayload(input: AuthInput): string | undefined {
  const v = input.headers['x-amz-content-sha256'];
  return typeof v === 'string' ? v : undefined;
}

export function authenticateHeaderV2(input: AuthInput, keys: Map<string, GatewayKey>): Authenticated {
  const parsed = parseAuthorizationV2(input.headers.authorization as string);
  if (!parsed) throw new S3Error('InvalidArgument', 'Authorization header is invalid -- one and only one \' \' (space) required', { ArgumentName: 'Authorization' });
  const key = lookupKey(keys, parsed.accessKeyId);
  const raw = (input.headers['x-amz-date'] ?? input.headers.date) as string | undefined;
  const when = raw ? new Date(raw) : null;
  if (!when || Number.isNaN(when.getTime())) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(input.now.getTime() - when.getTime()) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: raw, ServerTime: input.now.toISOString(), MaxAllowedSkewMilliseconds: '900000' });
  }
  verify(input, key, 'header', parsed.signature);
  const payloadHash = declaredPayload(input);
  return { kind: 'v2-header', key, ...(payloadHash ? { payloadHash } : {}) };
}

export function authenticateQueryV2(input: AuthInput, keys: Map<string, GatewayKey>): Authenticated {
  const parsed = parseQueryAuthV2(new URLSearchParams(input.rawQuery));
  if (!parsed) throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  const key = lookupKey(keys, parsed.accessKeyId);
  if (input.now.getTime() > parsed.expires * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', { Expires: new Date(parsed.expires * 1000).toISOString(), ServerTime: input.now.toISOString() });
  }
  verify(input, key, 'query', parsed.signature);
  const payloadHash = declaredPayload(input);
  return { kind: 'v2-query', key, ...(payloadHash ? { payloadHash } : {}) };
}
