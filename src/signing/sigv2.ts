// AWS Signature Version 2 for S3 (HMAC-SHA1), as pure functions used in both directions:
// authenticate/ rebuilds the string-to-sign from what a client sent, resign/ signs for providers
// that only speak V2. Spec: "Signing and authenticating REST requests" (RESTAuthentication) in the
// S3 user guide; where clients disagree with it, botocore's HmacV1Auth is the reference because it
// is what most V2 traffic still comes from.

import { createHmac } from 'node:crypto';
import { signaturesEqual } from './sigv4.js';
import { utf8FromWire } from '../s3/wire-text.js';

/**
 * Query parameters that are part of the CanonicalizedResource: botocore's HmacV1Auth.QSAOfInterest
 * (botocore/auth.py), deduplicated. The AWS page lists fewer; a server that signs fewer than the
 * client rejects the client, one that signs more rejects it too, so matching the dominant client
 * exactly is what matters. Ceph RGW (rgw_auth_s3.cc signed_subresources) differs both ways: it
 * also signs encryption, policyStatus and publicAccessBlock, and does not sign accelerate,
 * analytics, defaultObjectAcl, inventory, metrics, replication, restore, select, select-type or
 * storageClass; hence the set can be overridden per provider.
 */
export const SIGNED_SUBRESOURCES_V2: ReadonlySet<string> = new Set([
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'defaultObjectAcl',
  'delete',
  'inventory',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'partNumber',
  'policy',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'select',
  'select-type',
  'storageClass',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

export interface CanonicalResourceOptionsV2 {
  /** Set for virtual-host and custom-domain requests, where the bucket is not in the path. */
  bucket?: string;
  /** The raw path exactly as it appeared on the wire, still percent-encoded. */
  path: string;
  /** The raw query string, without '?'. */
  query: string;
  /** Defaults to SIGNED_SUBRESOURCES_V2. */
  subresources?: ReadonlySet<string>;
  /**
   * Keep a trailing '=' on a sub-resource sent with an empty value (`?versionId=`). botocore signs
   * it that way; minio-go, MinIO and Ceph sign the bare name. Off by default; a verifier may retry
   * with it on before answering SignatureDoesNotMatch.
   */
  keepEmptyEquals?: boolean;
}

// Decoded exactly as URLSearchParams decodes (form decoding: '+' is a space, malformed escapes
// kept literally, never throws), because that is what the routing stages act on: the value a
// request is served with must be the value that was signed. botocore never emits a literal '+',
// so form decoding agrees with its unquote().
function formDecode(s: string): string {
  return new URLSearchParams(`v=${s}`).get('v') ?? '';
}

export function canonicalizedResourceV2(opts: CanonicalResourceOptionsV2): string {
  const subresources = opts.subresources ?? SIGNED_SUBRESOURCES_V2;
  // The path is used as sent: re-encoding it would break clients whose encoding differs from ours
  // (lower-case hex, encoded sub-delims), and the signature covers the bytes they chose.
  const path = opts.path === '' ? '/' : opts.path;
  let resource = opts.bucket !== undefined ? `/${opts.bucket}${path}` : path;

  const signed: Array<{ key: string; value: string | undefined }> = [];
  if (opts.query !== '') {
    for (const part of opts.query.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      // Keys are decoded before matching so `?%61cl` cannot pass as an unsigned parameter while
      // the router decodes it to `acl`.
      const key = formDecode(eq === -1 ? part : part.slice(0, eq));
      if (!subresources.has(key)) continue;
      signed.push({ key, value: eq === -1 ? undefined : formDecode(part.slice(eq + 1)) });
    }
  }
  if (signed.length > 0) {
    // Stable sort by name only, like botocore: repeated names keep the order they were sent in.
    signed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    resource +=
      '?' +
      signed
        .map(({ key, value }) => {
          if (value === undefined) return key;
          if (value === '') return opts.keepEmptyEquals ? `${key}=` : key;
          return `${key}=${value}`;
        })
        .join('&');
  }
  return resource;
}

export type AmzHeadersV2 = Record<string, string | readonly string[] | undefined>;

export interface StringToSignOptionsV2 {
  method: string;
  contentMd5?: string;
  contentType?: string;
  /** The Date header, '' when x-amz-date is present, or the Expires value for query auth. */
  date: string;
  /** Any headers; only x-amz-* names are used, in any case. */
  amzHeaders: AmzHeadersV2;
  resource: string;
}

// RFC 2616 folding (CRLF followed by spaces/tabs) becomes a single space, as the docs require.
function unfold(value: string): string {
  return wireText(value.replace(/\r?\n[ \t]+/g, ' ').trim());
}

/**
 * A header value as the text whose UTF-8 is the bytes on the wire. Node reads a header value as
 * latin1, one char per byte, and the string to sign is hashed as UTF-8 (its resource holds
 * decoded sub-resource values): a client that sent UTF-8 (botocore's x-amz-meta-a: é, C3 A9) is
 * matched only once those bytes are read back as UTF-8. A value that is not UTF-8 stays as it is.
 */
function wireText(v: string): string {
  return utf8FromWire(v) ?? v;
}

export function canonicalizedAmzHeadersV2(headers: AmzHeadersV2): string {
  const merged = new Map<string, string[]>();
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-')) continue;
    const values = typeof raw === 'string' ? [raw] : raw;
    const list = merged.get(lower) ?? [];
    for (const v of values) list.push(unfold(v));
    merged.set(lower, list);
  }
  let out = '';
  for (const name of [...merged.keys()].sort()) {
    out += `${name}:${merged.get(name)!.join(',')}\n`;
  }
  return out;
}

export function stringToSignV2(opts: StringToSignOptionsV2): string {
  return (
    `${opts.method}\n` +
    `${(opts.contentMd5 ?? '').trim()}\n` +
    `${wireText((opts.contentType ?? '').trim())}\n` +
    `${opts.date.trim()}\n` +
    canonicalizedAmzHeadersV2(opts.amzHeaders) +
    opts.resource
  );
}

export function signatureV2(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

/** Constant-time for equal lengths; a length mismatch returns false without throwing. */
export function verifySignatureV2(expectedB64: string, givenB64: string): boolean {
  // The comparison is encoding-agnostic, so V2 shares V4's rather than keeping a second copy.
  return signaturesEqual(expectedB64, givenB64);
}

/** `Authorization: AWS AKID:signature`. Returns null for anything else, including SigV4. */
export function parseAuthorizationV2(header: string): { accessKeyId: string; signature: string } | null {
  const m = /^AWS +([^\s:]+):([^\s:]+)$/.exec(header.trim());
  if (!m) return null;
  return { accessKeyId: m[1]!, signature: m[2]! };
}

/**
 * Query-string authentication. Null unless each of AWSAccessKeyId, Signature and Expires appears
 * exactly once (a repeated one would let the verifier and the router read different values) and
 * Expires is a decimal integer.
 */
export function parseQueryAuthV2(
  query: URLSearchParams,
): { accessKeyId: string; signature: string; expires: number } | null {
  const one = (name: string): string | null => {
    const all = query.getAll(name);
    return all.length === 1 ? all[0]! : null;
  };
  const accessKeyId = one('AWSAccessKeyId');
  const rawSignature = one('Signature');
  const rawExpires = one('Expires');
  if (!accessKeyId || !rawSignature || rawExpires === null || !/^\d{1,15}$/.test(rawExpires)) return null;
  // Clients that forget to encode '+' send it literally and form decoding turns it into a space;
  // base64 has no spaces, so restoring them is unambiguous.
  const signature = rawSignature.replace(/ /g, '+');
  return { accessKeyId, signature, expires: Number(rawExpires) };
}

function headerValue(headers: AmzHeadersV2, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

function queryParamValue(query: string, name: string): string | undefined {
  for (const [k, v] of new URLSearchParams(query)) if (k === name) return v;
  return undefined;
}

export interface ReceivedRequestV2 {
  method: string;
  /** Raw path as sent. */
  path: string;
  /** Raw query string without '?'. */
  query: string;
  /**
   * Lower-case names. Repeated headers must arrive as arrays (node's `headersDistinct`):
   * `headers` joins them with ', ' and the signature joins them with ','.
   */
  headers: AmzHeadersV2;
  /** The bucket when it came from the Host header (virtual-host or custom domain). */
  bucketInHost?: string;
}

/**
 * The string a client signed, rebuilt the way a server does. `mode` is which credentials the
 * request carried: the Authorization header, or AWSAccessKeyId/Signature/Expires in the query.
 */
export function stringToSignForRequestV2(
  req: ReceivedRequestV2,
  mode: 'header' | 'query',
  resourceOptions: Pick<CanonicalResourceOptionsV2, 'subresources' | 'keepEmptyEquals'> = {},
): string {
  const resource = canonicalizedResourceV2(resourceInput(req, resourceOptions));
  let date: string;
  let amzHeaders: AmzHeadersV2 = req.headers;
  let contentMd5 = headerValue(req.headers, 'content-md5');
  let contentType = headerValue(req.headers, 'content-type');
  if (mode === 'query') {
    date = queryParamValue(req.query, 'Expires') ?? '';
    // botocore's presigner signs x-amz-*, Content-MD5 and Content-Type as headers and then moves
    // them into the query string, so the verifier has to read them back from there.
    const fromQuery: Record<string, string[]> = {};
    for (const [k, v] of new URLSearchParams(req.query)) {
      const lower = k.toLowerCase();
      if (lower.startsWith('x-amz-')) (fromQuery[lower] ??= []).push(v);
    }
    amzHeaders = { ...fromQuery };
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      const lower = k.toLowerCase();
      const prior = fromQuery[lower];
      amzHeaders[lower] = prior ? [...prior, ...(typeof v === 'string' ? [v] : v)] : v;
    }
    contentMd5 ??= queryParamValue(req.query, 'content-md5');
    contentType ??= queryParamValue(req.query, 'content-type');
  } else {
    // x-amz-date replaces Date for clients that cannot set Date; then the Date line is empty.
    date = req.headers['x-amz-date'] !== undefined ? '' : (headerValue(req.headers, 'date') ?? '');
  }
  const parts: StringToSignOptionsV2 = { method: req.method, date, amzHeaders, resource };
  if (contentMd5 !== undefined) parts.contentMd5 = contentMd5;
  if (contentType !== undefined) parts.contentType = contentType;
  return stringToSignV2(parts);
}

// Optional fields set, not spread in: per request, spreads cost 4 times as much on Node 20
// (`node bench/literal-promotion.mjs`).
function resourceInput(
  req: { path: string; query: string; bucketInHost?: string },
  options: Pick<CanonicalResourceOptionsV2, 'subresources' | 'keepEmptyEquals'>,
): CanonicalResourceOptionsV2 {
  const input: CanonicalResourceOptionsV2 = { path: req.path, query: req.query };
  if (options.subresources !== undefined) input.subresources = options.subresources;
  if (options.keepEmptyEquals !== undefined) input.keepEmptyEquals = options.keepEmptyEquals;
  if (req.bucketInHost !== undefined) input.bucket = req.bucketInHost;
  return input;
}

export interface CredentialsV2 {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface OutboundRequestV2 {
  method: string;
  /** The path that will be sent, already percent-encoded; it is signed byte for byte. */
  path: string;
  /** The query string that will be sent, without '?'. */
  query: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  bucketInHost?: string;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** Headers to send: the input plus `date` (RFC 1123, if absent) and `authorization`. */
export function signRequestV2(
  req: OutboundRequestV2,
  creds: CredentialsV2,
  now: Date,
  resourceOptions: Pick<CanonicalResourceOptionsV2, 'subresources' | 'keepEmptyEquals'> = {},
): Record<string, string> {
  const headers = lowerKeys(req.headers);
  delete headers['authorization'];
  headers['date'] ??= now.toUTCString();
  if (creds.sessionToken !== undefined) headers['x-amz-security-token'] = creds.sessionToken;
  const received: ReceivedRequestV2 = { method: req.method, path: req.path, query: req.query, headers };
  if (req.bucketInHost !== undefined) received.bucketInHost = req.bucketInHost;
  const sts = stringToSignForRequestV2(received, 'header', resourceOptions);
  headers['authorization'] = `AWS ${creds.accessKeyId}:${signatureV2(creds.secretAccessKey, sts)}`;
  return headers;
}

/**
 * Query parameters for query-string authentication, valid until `expires` (epoch seconds).
 * Headers given here (x-amz-*, content-type, content-md5) are signed and must be sent as headers
 * with the request; the parameters are unencoded and should be appended with URLSearchParams.
 */
export function presignV2(
  req: Omit<OutboundRequestV2, 'headers'> & { headers?: Record<string, string> },
  creds: CredentialsV2,
  expires: number,
  resourceOptions: Pick<CanonicalResourceOptionsV2, 'subresources' | 'keepEmptyEquals'> = {},
): Record<string, string> {
  if (!Number.isSafeInteger(expires) || expires < 0) throw new RangeError('expires must be epoch seconds');
  const headers = lowerKeys(req.headers ?? {});
  const params: Record<string, string> = { AWSAccessKeyId: creds.accessKeyId, Expires: String(expires) };
  // A session token cannot travel as a header on a link someone else opens, so it goes in the
  // query, where stringToSignForRequestV2 also looks for it.
  if (creds.sessionToken !== undefined) params['x-amz-security-token'] = creds.sessionToken;
  const resource = canonicalizedResourceV2(resourceInput(req, resourceOptions));
  const amzHeaders: AmzHeadersV2 = { ...headers };
  if (creds.sessionToken !== undefined) amzHeaders['x-amz-security-token'] = creds.sessionToken;
  const sts = stringToSignV2({
    method: req.method,
    ...(headers['content-md5'] !== undefined ? { contentMd5: headers['content-md5'] } : {}),
    ...(headers['content-type'] !== undefined ? { contentType: headers['content-type'] } : {}),
    date: String(expires),
    amzHeaders,
    resource,
  });
  params['Signature'] = signatureV2(creds.secretAccessKey, sts);
  return params;
}

/** A browser form's POST policy (SigV2): HMAC-SHA1 of the base64 policy, base64. */
export function postPolicySignatureV2(secret: string, policyBase64: string): string {
  return signatureV2(secret, policyBase64);
}
