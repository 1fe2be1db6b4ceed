// Verifies a client's SigV4 exactly as the client computed it: against the Host it used and
// the path and query as they arrived, never against anything s3gate rewrote.
import type { GatewayKey } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import {
  ALGORITHM, canonicalQuery, canonicalRequest, canonicalRequestSha256, canonicalUri, formatAmzDate, amzDateMs,
  parsePresignedQuery, parseQuery, signatureV4, signaturesEqual, signingKey, stringToSign, type CanonicalRequestParts, type HeaderValue,
} from '../signing/sigv4.js';
import type { Authenticated, AuthInput } from './types.js';

const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_EXPIRES = 7 * 24 * 3600;

interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  scope: string;
}

function parseCredential(value: string, errorCode: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError'): Credential {
  // <access key id>/<date>/<region>/<service>/aws4_request, read from the end: the id itself
  // cannot contain '/', but everything before the scope is taken as the id to be safe.
  const end = value.lastIndexOf('/');
  const service = end > 0 ? value.lastIndexOf('/', end - 1) : -1;
  const region = service > 0 ? value.lastIndexOf('/', service - 1) : -1;
  const date = region > 0 ? value.lastIndexOf('/', region - 1) : -1;
  if (date < 0 || value.slice(end + 1) !== 'aws4_request') {
    throw new S3Error(errorCode, `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  return {
    accessKeyId: value.slice(0, date), date: value.slice(date + 1, region), region: value.slice(region + 1, service),
    service: value.slice(service + 1, end), scope: value.slice(date + 1),
  };
}

/** What String.prototype.trim removes: ECMAScript's WhiteSpace and LineTerminator. */
function isTrimmed(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Whether s[from, to), trimmed, is `name`: read in place, with no string per field name. */
function namedAt(s: string, from: number, to: number, name: string): boolean {
  while (from < to && isTrimmed(s.charCodeAt(from))) from++;
  while (to > from && isTrimmed(s.charCodeAt(to - 1))) to--;
  return to - from === name.length && s.startsWith(name, from);
}

const CREDENTIAL_FIELD = ' Credential=';
const SIGNED_HEADERS_FIELD = ', SignedHeaders=';
const SIGNATURE_FIELD = ', Signature=';

/** Whether s[from, to) is not empty and has nothing String.prototype.trim would take off its ends. */
function untrimmed(s: string, from: number, to: number): boolean {
  return to > from && !isTrimmed(s.charCodeAt(from)) && !isTrimmed(s.charCodeAt(to - 1));
}

export function parseAuthorizationV4(header: string): { credential: Credential; signedHeaders: string[]; signedHeadersText: string; signature: string } {
  // The SDKs' exact shape, "<algorithm> Credential=C, SignedHeaders=S, Signature=G" with no other
  // comma and nothing to trim around C, S and G, is read with three comparisons in place: the
  // general loop below gives the same three fields for it (test/authenticate/credential.test.ts).
  const c0 = ALGORITHM.length + CREDENTIAL_FIELD.length;
  if (header.startsWith(CREDENTIAL_FIELD, ALGORITHM.length)) {
    const c1 = header.indexOf(',', c0);
    const s0 = c1 + SIGNED_HEADERS_FIELD.length;
    const s1 = c1 < 0 ? -1 : header.indexOf(',', s0);
    const g0 = s1 + SIGNATURE_FIELD.length;
    if (s1 >= 0 && header.startsWith(SIGNED_HEADERS_FIELD, c1) && header.startsWith(SIGNATURE_FIELD, s1) && header.indexOf(',', g0) < 0
      && untrimmed(header, c0, c1) && untrimmed(header, s0, s1) && untrimmed(header, g0, header.length)) {
      const sh = header.slice(s0, s1);
      return {
        credential: parseCredential(header.slice(c0, c1), 'AuthorizationHeaderMalformed'), signedHeaders: sh.split(';'), signedHeadersText: sh,
        signature: header.slice(g0),
      };
    }
  }
  // The three fields read in one pass over the comma-separated parts (a later one wins), with
  // no Map, no split array and no string per field name.
  let cred: string | undefined;
  let sh: string | undefined;
  let sig: string | undefined;
  for (let at = ALGORITHM.length; at <= header.length;) {
    let end = header.indexOf(',', at);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', at);
    if (eq > at && eq < end) {
      if (namedAt(header, at, eq, 'Credential')) cred = header.slice(eq + 1, end).trim();
      else if (namedAt(header, at, eq, 'SignedHeaders')) sh = header.slice(eq + 1, end).trim();
      else if (namedAt(header, at, eq, 'Signature')) sig = header.slice(eq + 1, end).trim();
    }
    at = end + 1;
  }
  if (!cred || !sh || !sig) {
    throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  return { credential: parseCredential(cred, 'AuthorizationHeaderMalformed'), signedHeaders: sh.split(';'), signedHeadersText: sh, signature: sig };
}

/** Other region names a client may sign for (config `acceptRegions`); `any` takes every name. */
export type AcceptRegions = ReadonlySet<string> | 'any';

/**
 * `auto` is R2's name for "whatever region this endpoint serves": R2's documented client settings
 * and Bun's S3 client (by default, at any endpoint not AWS's) sign with it; an empty one is what
 * a client with no region at all signs (libcloud's MinIO driver), and R2 takes both. s3gate
 * serves one region and re-signs for the provider's own, so the client's name for it routes
 * nothing; the signature is still verified under the scope the client signed. Any other name is
 * refused as S3 refuses it (SDKs read the answer's Region and sign again) unless the operator
 * accepts it.
 */
export function regionAccepted(signed: string, region: string, accept?: AcceptRegions): boolean {
  return signed === region || signed === 'auto' || signed === '' || (accept !== undefined && (accept === 'any' || accept.has(signed)));
}

function checkScope(cred: Credential, datetime: string, region: string, code: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError', service = 's3', accept?: AcceptRegions): void {
  if (cred.service !== service) throw new S3Error(code, `The authorization header is malformed; incorrect service "${cred.service}". This endpoint belongs to "${service}".`);
  if (!regionAccepted(cred.region, region, accept)) {
    throw new S3Error(code, `The authorization header is malformed; the region '${cred.region}' is wrong; expecting '${region}'`, { Region: region });
  }
  // datetime is a checked x-amz-date here: 16 characters, the date first
  if (cred.date.length !== 8 || !datetime.startsWith(cred.date)) {
    throw new S3Error(code, `The authorization header is malformed; Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${datetime.slice(0, 8)}".`);
  }
}

/** AWS refuses x-amz-* headers that were not signed: otherwise a presigned URL could be widened. */
function requireAmzHeadersSigned(headers: Record<string, HeaderValue>, signed: string[], exempt?: string): void {
  let missing: string[] | undefined;
  for (const name in headers) {
    if (name.startsWith('x-amz-') && name !== exempt && !signed.includes(name)) (missing ??= []).push(name);
  }
  if (missing) throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: missing.join(', ') });
}

function lookupKey(keys: Map<string, GatewayKey>, id: string): GatewayKey {
  const key = keys.get(id);
  if (!key) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: id });
  return key;
}

function mismatch(key: GatewayKey, sts: string, creq: string, provided: string): S3Error {
  const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ');
  return new S3Error('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: key.accessKeyId,
    StringToSign: sts,
    SignatureProvided: provided,
    StringToSignBytes: hex(sts),
    CanonicalRequest: creq,
    CanonicalRequestBytes: hex(creq),
  });
}

/**
 * Recompute and compare. S3 canonicalizes the path by decoding and re-encoding it; a client
 * that signed its path as sent (a few do, for characters they leave unescaped) is accepted too,
 * since both forms describe the same bytes on the wire.
 */
function verify(
  key: GatewayKey, input: AuthInput, cred: Credential, datetime: string, signedHeaders: string[], signedHeadersText: string,
  query: string, payloadHash: string, provided: string,
): { signingKey: Buffer } {
  const k = signingKey(key.secretAccessKey, cred.date, cred.region, cred.service);
  const canonical = canonicalUri(input.rawPath);
  for (let uri = canonical; ; uri = input.rawPath) {
    const parts: CanonicalRequestParts = {
      method: input.method, canonicalUri: uri, canonicalQuery: query, headers: input.headers, host: input.host, signedHeaders, signedHeadersText, payloadHash,
    };
    if (signaturesEqual(signatureV4(k, datetime, cred.scope, canonicalRequestSha256(parts)), provided)) return { signingKey: k };
    if (uri === input.rawPath) break;
  }
  // The strings S3's error document shows, built only now: for the canonical form of the path.
  const creq = canonicalRequest({ method: input.method, canonicalUri: canonical, canonicalQuery: query, headers: input.headers, host: input.host, signedHeaders, payloadHash });
  throw mismatch(key, stringToSign(datetime, cred.scope, creq), creq, provided);
}

export function authenticateHeaderV4(input: AuthInput, keys: Map<string, GatewayKey>, region: string, accept?: AcceptRegions): Authenticated {
  const auth = parseAuthorizationV4(input.headers.authorization as string);
  const { credential: cred, signedHeaders, signedHeadersText, signature } = auth;
  const key = lookupKey(keys, cred.accessKeyId);
  const amzDate = input.headers['x-amz-date'] as string | undefined;
  // Without x-amz-date, SigV4 signs the Date header's instant in ISO 8601 basic form.
  const when = amzDate !== undefined ? amzDateMs(amzDate) : input.headers.date ? Date.parse(input.headers.date as string) : NaN;
  if (Number.isNaN(when)) {
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const datetime = amzDate ?? formatAmzDate(new Date(when));
  if (Math.abs(input.now.getTime() - when) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: datetime, ServerTime: input.now.toISOString(), MaxAllowedSkewMilliseconds: '900000' });
  }
  checkScope(cred, datetime, region, 'AuthorizationHeaderMalformed', input.service, accept);
  if (!signedHeaders.includes('host')) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: 'host' });
  }
  requireAmzHeadersSigned(input.headers, signedHeaders);
  const declared = input.headers['x-amz-content-sha256'] as string | undefined;
  if (input.bodySha256 !== undefined && declared !== undefined && declared !== input.bodySha256) {
    throw new S3Error('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: declared, S3ComputedContentSHA256: input.bodySha256 });
  }
  const payloadHash = input.bodySha256 ?? declared;
  if (!payloadHash) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  const { signingKey: k } = verify(key, input, cred, datetime, signedHeaders, signedHeadersText, canonicalQuery(input.query ?? parseQuery(input.rawQuery)), payloadHash, signature);
  return {
    kind: 'v4-header', key, payloadHash,
    chunkSigning: { signingKey: k, datetime, scope: cred.scope, seedSignature: signature },
  };
}

function required(v: string | undefined): string {
  if (!v) throw new S3Error('AuthorizationQueryParametersError', `Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.`);
  return v;
}

export function authenticateQueryV4(input: AuthInput, keys: Map<string, GatewayKey>, region: string, accept?: AcceptRegions): Authenticated {
  // The pairs and the canonical query from one read of the query (the pipeline's, or this one).
  const read = input.query !== undefined && input.presignedCanonical !== undefined ? undefined : parsePresignedQuery(input.rawQuery, 'X-Amz-Signature');
  const pairs = read === undefined ? input.query! : read.pairs;
  // The authentication parameters in one pass (the first of each, as AWS reads them); the
  // presigners hoist x-amz-content-sha256 into the query under either spelling.
  let algorithm: string | undefined;
  let credential: string | undefined;
  let datetimeParam: string | undefined;
  let expiresParam: string | undefined;
  let signedParam: string | undefined;
  let signatureParam: string | undefined;
  let signedPayload: string | undefined;
  for (let i = 0; i < pairs.length; i++) {
    const [n, v] = pairs[i]!;
    // by length first: one string comparison per parameter, not up to seven
    switch (n.length) {
      case 10: if (n === 'X-Amz-Date') datetimeParam ??= v; break;
      case 13: if (n === 'X-Amz-Expires') expiresParam ??= v; break;
      case 15:
        if (n === 'X-Amz-Algorithm') algorithm ??= v;
        else if (n === 'X-Amz-Signature') signatureParam ??= v;
        break;
      case 16: if (n === 'X-Amz-Credential') credential ??= v; break;
      case 19: if (n === 'X-Amz-SignedHeaders') signedParam ??= v; break;
      // the SDKs' spelling first: toLowerCase made a string per request
      case 20: if (n === 'X-Amz-Content-Sha256' || n.toLowerCase() === 'x-amz-content-sha256') signedPayload = v; break;
    }
  }
  if (required(algorithm) !== ALGORITHM) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const cred = parseCredential(required(credential), 'AuthorizationQueryParametersError');
  const datetime = required(datetimeParam);
  const expires = Number(required(expiresParam));
  const signedHeadersText = required(signedParam);
  const signedHeaders = signedHeadersText.split(';');
  const signature = required(signatureParam);
  const key = lookupKey(keys, cred.accessKeyId);
  const when = amzDateMs(datetime);
  if (Number.isNaN(when)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (!Number.isInteger(expires)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  // Out of range is a refusal of the URL, not a malformed request: S3 answers these with 403.
  if (expires < 0) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be non-negative', {}, 403);
  if (expires > MAX_PRESIGN_EXPIRES) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800', {}, 403);
  checkScope(cred, datetime, region, 'AuthorizationQueryParametersError', input.service, accept);
  if (when - input.now.getTime() > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  if (input.now.getTime() > when + expires * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': String(expires), Expires: new Date(when + expires * 1000).toISOString(), ServerTime: input.now.toISOString() });
  }
  if (!signedHeaders.includes('host')) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: 'host' });
  }
  requireAmzHeadersSigned(input.headers, signedHeaders, 'x-amz-content-sha256');
  const headerPayload = input.headers['x-amz-content-sha256'];
  // A hash pinned in the signed query binds the body; an unsigned header may not say otherwise.
  if (signedPayload !== undefined && headerPayload !== undefined && headerPayload !== signedPayload) {
    throw new S3Error('InvalidRequest', 'The x-amz-content-sha256 header does not match the signed X-Amz-Content-Sha256 query parameter');
  }
  const payloadHash = signedPayload ?? (headerPayload as string | undefined) ?? 'UNSIGNED-PAYLOAD';
  const query = read === undefined ? input.presignedCanonical! : read.canonical;
  // A presigner that signs the header (the AWS SDK for Go v1 when it is set) signs its value as
  // the payload hash, as S3, MinIO and RGW read it; an unsigned one was not in the signature.
  // Only S3 presigns UNSIGNED-PAYLOAD: other services (STS: a presigned GetCallerIdentity from
  // botocore or the Go SDK) sign the hash of the body, empty for a GET, which the caller read.
  const signedHash = signedPayload ?? (input.bodySha256 !== undefined ? input.bodySha256
    : headerPayload !== undefined && signedHeaders.includes('x-amz-content-sha256') ? headerPayload as string : 'UNSIGNED-PAYLOAD');
  verify(key, input, cred, datetime, signedHeaders, signedHeadersText, query, signedHash, signature);
  const out: Authenticated = { kind: 'v4-query', key, payloadHash };
  if (signedPayload !== undefined) out.signedPayloadHash = signedPayload;
  return out;
}
