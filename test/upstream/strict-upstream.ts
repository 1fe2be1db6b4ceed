// The strict test upstream: a real HTTP S3 endpoint that checks what s3gate sends the way a
// provider would, records it, and serves it from a LocalStore. Signature checks here use
// @smithy/signature-v4 directly, never s3gate's signer, so a bug there cannot verify itself.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { LocalStore } from '../../src/local/store.js';
import { xmlBlocks, xmlLeaf } from '../../src/local/xml.js';
import { errorXml, S3Error } from '../../src/s3/errors.js';
import { parseAuthorizationV2, parseQueryAuthV2, signatureV2, stringToSignForRequestV2, verifySignatureV2 } from '../../src/signing/sigv2.js';

export type AuthKind = 'v4-header' | 'v4-query' | 'v2-header' | 'v2-query' | 'anonymous' | 'unknown';
export type AddressingStyle = 'path' | 'virtual' | 'host-as-bucket';

export interface RecordedRequest {
  method: string;
  /** the request target exactly as received (raw path + query) */
  url: string;
  host: string;
  /** lower-case names; repeated headers joined with ',' */
  headers: Record<string, string>;
  /** body bytes read off the wire (0 when the request was refused before reading it) */
  bodyBytes: number;
  /** 0 until the response is written */
  status: number;
  /** S3 error code sent, if any */
  error?: string;
  auth: AuthKind;
  accessKeyId?: string;
  signedHeaders?: string[];
  /** x-amz-content-sha256 (or the presigned equivalent) */
  payloadHash?: string;
  style: AddressingStyle;
  bucket?: string;
  key?: string;
  /** S3 operation name as this upstream classified it, e.g. PutObject */
  operation: string;
  /**
   * Every resource the request reads, writes or deletes, read the way this upstream (and its
   * store) reads it, independently of s3gate's parsing: the target, a copy source (CopyObject,
   * UploadPartCopy), each key of a DeleteObjects body, a listing's prefix, the bucket itself.
   * What the request asks for, whether or not it then succeeds.
   */
  resources: TouchedResource[];
}

export interface TouchedResource {
  /** read/write/delete: one object; list: a listing under `prefix`; bucket: the bucket's settings or the bucket itself */
  access: 'read' | 'write' | 'delete' | 'list' | 'bucket';
  bucket: string;
  key?: string;
  prefix?: string;
}

export interface StrictUpstreamOptions {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** virtual-host base, e.g. "s3.upstream.test" */
  dnsName?: string;
  root?: string;
  /** default false: reject Content-Encoding aws-chunked and STREAMING-* payloads like RGW 16 does */
  acceptChunked?: boolean;
  /** default true: 411 MissingContentLength on PUT/POST without Content-Length */
  requireContentLength?: boolean;
  /** default false: unsigned requests get AccessDenied */
  allowAnonymous?: boolean;
  /**
   * 'ecs-like' refuses SigV4 on data operations (XAmzContentSHA256Mismatch, as ECS users
   * report) and virtual-host addressing (NoSuchBucket).
   */
  mode?: 'aws' | 'ecs-like';
  /**
   * Answer ranged GETs with a full-object `x-amz-checksum-crc32` header, as some providers do;
   * new SDKs then fail the response with FlexibleChecksumError.
   */
  checksumOnRange?: boolean;
  /** serve HTTPS with this certificate (PEM) */
  tls?: { cert: Buffer; key: Buffer };
}

export interface StrictUpstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  store: LocalStore;
  root: string;
  close(): Promise<void>;
}

const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// ---- SigV2 hook ---------------------------------------------------------------------
// SigV2 is verified with s3gate's own src/signing/sigv2.ts: smithy has no V2 signer, so unlike
// V4 this check is not independent of the code under test. Tests that must catch a V2 signer bug
// should also pin it against hand-built string-to-sign vectors.
async function verifySigV2(ctx: SignedRequestContext, opts: StrictUpstreamOptions, kind: 'v2-header' | 'v2-query'): Promise<string> {
  const parsed = kind === 'v2-header' ? parseAuthorizationV2(headerValue(ctx, 'authorization') ?? '') : parseQueryAuthV2(new URLSearchParams(ctx.rawQuery));
  if (!parsed) throw kind === 'v2-header' ? new S3Error('AuthorizationHeaderMalformed') : new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  if (parsed.accessKeyId !== opts.accessKeyId) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: parsed.accessKeyId });
  const now = Date.now();
  const expires = 'expires' in parsed ? (parsed.expires as number) : undefined;
  if (expires !== undefined) {
    if (now > expires * 1000) throw new S3Error('AccessDenied', 'Request has expired', { Expires: new Date(expires * 1000).toISOString(), ServerTime: new Date(now).toISOString() });
  } else {
    const when = Date.parse(headerValue(ctx, 'x-amz-date') ?? headerValue(ctx, 'date') ?? '');
    if (Number.isNaN(when)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    if (Math.abs(now - when) > MAX_SKEW_MS) throw new S3Error('RequestTimeTooSkewed');
  }
  const sts = stringToSignForRequestV2(
    { method: ctx.method, path: ctx.rawPath, query: ctx.rawQuery, headers: ctx.distinct, ...(ctx.bucketInHost !== undefined ? { bucketInHost: ctx.bucketInHost } : {}) },
    kind === 'v2-header' ? 'header' : 'query',
  );
  if (!verifySignatureV2(signatureV2(opts.secretAccessKey, sts), parsed.signature)) throw mismatch();
  return parsed.accessKeyId;
}

interface SignedRequestContext {
  method: string;
  rawPath: string;
  rawQuery: string;
  host: string;
  headers: http.IncomingHttpHeaders;
  distinct: NodeJS.Dict<string[]>;
  /** the bucket when the Host named it (virtual-host or host-as-bucket) */
  bucketInHost?: string;
}

function headerValue(ctx: SignedRequestContext, name: string): string | undefined {
  const v = ctx.distinct[name];
  return v === undefined ? undefined : v.join(',');
}

/** Query as received, decoded but not '+'-translated: SigV4 canonicalises from these values. */
function parseRawQuery(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!raw) return out;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    let k: string;
    let v: string;
    try {
      k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    } catch {
      throw new S3Error('InvalidURI');
    }
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function single(q: Record<string, string | string[]>, k: string): string | undefined {
  const v = q[k];
  return Array.isArray(v) ? v[0] : v;
}

function parseAmzDate(v: string | undefined): Date | undefined {
  const m = v === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

interface AuthResult {
  kind: AuthKind;
  accessKeyId?: string;
  signedHeaders?: string[];
  /** what the body must hash to: hex sha256, UNSIGNED-PAYLOAD or STREAMING-* */
  payloadHash?: string;
}

async function verifyV4(
  ctx: SignedRequestContext,
  opts: StrictUpstreamOptions,
  parts: { credential: string; signedHeaders: string; signature: string; amzDate: string | undefined; expires?: string },
  kind: 'v4-header' | 'v4-query',
  payloadHash: string,
): Promise<void> {
  const scope = parts.credential.split('/');
  if (scope.length !== 5) {
    throw new S3Error(kind === 'v4-header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError', undefined);
  }
  const [ak, day, region, service, terminator] = scope as [string, string, string, string, string];
  if (ak !== opts.accessKeyId) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: ak });
  if (region !== opts.region) {
    throw new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; the region '${region}' is wrong; expecting '${opts.region}'`, { Region: opts.region });
  }
  if (service !== 's3' || terminator !== 'aws4_request') throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; incorrect service or terminator in the credential scope');
  const date = parseAmzDate(parts.amzDate);
  if (!date) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (parts.amzDate!.slice(0, 8) !== day) throw new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; Invalid credential date "${day}". This date is not the same as X-Amz-Date: "${parts.amzDate!.slice(0, 8)}".`);
  const now = Date.now();
  if (kind === 'v4-header') {
    if (Math.abs(now - date.getTime()) > MAX_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: parts.amzDate, ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS) });
    }
  } else {
    const expires = Number(parts.expires);
    if (!/^\d+$/.test(parts.expires ?? '') || expires > MAX_PRESIGN_SECONDS) {
      throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
    }
    if (date.getTime() - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (now > date.getTime() + expires * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': parts.expires, Expires: new Date(date.getTime() + expires * 1000).toISOString(), ServerTime: new Date(now).toISOString() });
    }
  }

  const signedHeaders = parts.signedHeaders.split(';');
  if (!signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'Host must be a signed header');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const v = name === 'host' ? ctx.host : headerValue(ctx, name);
    if (v === undefined) throw mismatch('a signed header is missing from the request');
    headers[name] = v;
  }
  // The signer inserts x-amz-date and reads the payload hash from x-amz-content-sha256;
  // when the client did not sign them they must stay out of the canonical headers.
  const unsignable = new Set<string>();
  if (!signedHeaders.includes('x-amz-date')) unsignable.add('x-amz-date');
  if (!signedHeaders.includes('x-amz-content-sha256')) unsignable.add('x-amz-content-sha256');
  headers['x-amz-content-sha256'] = payloadHash;

  const signer = new SignatureV4({
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    region: opts.region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    { method: ctx.method, protocol: 'http:', hostname: ctx.host, path: ctx.rawPath, query: parseRawQuery(ctx.rawQuery), headers },
    { signingDate: date, signableHeaders: new Set(signedHeaders), unsignableHeaders: unsignable },
  );
  const m = /SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(String(signed.headers['authorization'] ?? ''));
  if (!m || m[1] !== parts.signedHeaders || !safeEqualHex(m[2]!, parts.signature)) throw mismatch();
}

function mismatch(why?: string): S3Error {
  // AWS also returns the StringToSign; we keep the document short and say why when we know.
  return new S3Error('SignatureDoesNotMatch', why ? `The request signature we calculated does not match the signature you provided (${why}).` : undefined);
}

async function authenticate(ctx: SignedRequestContext, opts: StrictUpstreamOptions): Promise<AuthResult> {
  const authz = headerValue(ctx, 'authorization');
  const query = parseRawQuery(ctx.rawQuery);
  if (authz !== undefined && authz.startsWith('AWS4-HMAC-SHA256')) {
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(authz);
    if (!m) throw new S3Error('AuthorizationHeaderMalformed');
    const payloadHash = headerValue(ctx, 'x-amz-content-sha256');
    if (payloadHash === undefined) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    const amzDate = headerValue(ctx, 'x-amz-date');
    await verifyV4(ctx, opts, { credential: m[1]!, signedHeaders: m[2]!, signature: m[3]!, amzDate }, 'v4-header', payloadHash);
    return { kind: 'v4-header', accessKeyId: m[1]!.split('/')[0], signedHeaders: m[2]!.split(';'), payloadHash };
  }
  if (single(query, 'X-Amz-Algorithm') !== undefined) {
    if (single(query, 'X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const credential = single(query, 'X-Amz-Credential');
    const signedHeaders = single(query, 'X-Amz-SignedHeaders');
    const signature = single(query, 'X-Amz-Signature');
    const expires = single(query, 'X-Amz-Expires');
    if (!credential || !signedHeaders || !signature || !expires || !/^[0-9a-f]{64}$/.test(signature)) {
      throw new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
    }
    const payloadHash = single(query, 'X-Amz-Content-Sha256') ?? headerValue(ctx, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD';
    await verifyV4(ctx, opts, { credential, signedHeaders, signature, amzDate: single(query, 'X-Amz-Date'), expires }, 'v4-query', payloadHash);
    return { kind: 'v4-query', accessKeyId: credential.split('/')[0], signedHeaders: signedHeaders.split(';'), payloadHash };
  }
  if (authz !== undefined && /^AWS [^:\s]+:/.test(authz)) {
    return { kind: 'v2-header', accessKeyId: await verifySigV2(ctx, opts, 'v2-header') };
  }
  if (single(query, 'AWSAccessKeyId') !== undefined) {
    return { kind: 'v2-query', accessKeyId: await verifySigV2(ctx, opts, 'v2-query') };
  }
  if (authz !== undefined) throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: authz.split(' ')[0] });
  if (!opts.allowAnonymous) throw new S3Error('AccessDenied');
  return { kind: 'anonymous' };
}

/**
 * Path-style for the upstream's own names, virtual-host under dnsName, and otherwise the
 * whole Host is the bucket, as RGW treats unknown hosts: a request meant for a custom
 * domain then lands on a bucket that does not exist instead of quietly working.
 */
export function address(host: string, rawPath: string, port: number, dnsName?: string): { style: AddressingStyle; bucket?: string; key?: string } {
  const hostname = host.replace(/:\d+$/, '').toLowerCase();
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new S3Error('InvalidURI');
    }
  };
  const own = hostname === '127.0.0.1' || hostname === 'localhost' || (dnsName !== undefined && hostname === dnsName.toLowerCase());
  void port;
  if (own) {
    const rest = rawPath.replace(/^\//, '');
    const slash = rest.indexOf('/');
    if (rest === '') return { style: 'path' };
    if (slash < 0) return { style: 'path', bucket: decode(rest) };
    return { style: 'path', bucket: decode(rest.slice(0, slash)), key: decode(rest.slice(slash + 1)) || undefined };
  }
  const key = decode(rawPath.replace(/^\//, '')) || undefined;
  if (dnsName !== undefined && hostname.endsWith('.' + dnsName.toLowerCase())) {
    return { style: 'virtual', bucket: hostname.slice(0, -(dnsName.length + 1)), key };
  }
  return { style: 'host-as-bucket', bucket: hostname, key };
}

export function classify(method: string, bucket: string | undefined, key: string | undefined, q: URLSearchParams, h: http.IncomingHttpHeaders): string {
  const m = method.toUpperCase();
  if (!bucket) return m === 'GET' ? 'ListBuckets' : `${m} /`;
  if (!key) {
    if (m === 'PUT') return q.size ? `PutBucket(${[...q.keys()].join(',')})` : 'CreateBucket';
    if (m === 'DELETE') return 'DeleteBucket';
    if (m === 'HEAD') return 'HeadBucket';
    if (m === 'POST' && q.has('delete')) return 'DeleteObjects';
    if (m === 'GET') {
      if (q.has('location')) return 'GetBucketLocation';
      if (q.has('uploads')) return 'ListMultipartUploads';
      return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    }
    return `${m} bucket`;
  }
  const upload = q.has('uploadId');
  if (m === 'PUT') return upload ? (h['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart') : h['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
  if (m === 'GET') return upload ? 'ListParts' : 'GetObject';
  if (m === 'HEAD') return 'HeadObject';
  if (m === 'DELETE') return upload ? 'AbortMultipartUpload' : 'DeleteObject';
  if (m === 'POST') return q.has('uploads') ? 'CreateMultipartUpload' : upload ? 'CompleteMultipartUpload' : 'POST object';
  return `${m} object`;
}

// Query names a bucket GET may carry and still be a listing; any other name reads a setting.
const LISTING_PARAMS = new Set([
  'prefix', 'delimiter', 'marker', 'max-keys', 'list-type', 'continuation-token', 'start-after', 'fetch-owner', 'encoding-type',
  'key-marker', 'version-id-marker', 'upload-id-marker', 'max-uploads', 'uploads', 'versions', 'x-id', 'allow-unordered',
]);

/** The copy source as the local store reads it: decoded whole, then split at the first '/'. */
function copySourceOf(v: string): { bucket: string; key: string } | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(v.split('?')[0] ?? '');
  } catch {
    return undefined;
  }
  const s = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const at = s.indexOf('/');
  return at <= 0 ? undefined : { bucket: s.slice(0, at), key: s.slice(at + 1) };
}

export function touchedResources(method: string, bucket: string | undefined, key: string | undefined, q: URLSearchParams, headers: Record<string, string>, body?: Buffer): TouchedResource[] {
  const m = method.toUpperCase();
  if (!bucket) return [];
  if (!key) {
    const settings = [...q.keys()].some((n) => !LISTING_PARAMS.has(n));
    if ((m === 'GET' || m === 'HEAD') && !settings) return [{ access: 'list', bucket, prefix: q.get('prefix') ?? '' }];
    if (m === 'POST' && q.has('delete')) {
      const doc = body?.toString('utf8') ?? '';
      return xmlBlocks(doc, 'Object').map((o) => ({ access: 'delete' as const, bucket, key: xmlLeaf(o, 'Key') ?? '' }));
    }
    return [{ access: 'bucket', bucket }];
  }
  const out: TouchedResource[] = [];
  if (m === 'GET' || m === 'HEAD') out.push({ access: 'read', bucket, key });
  else if (m === 'DELETE' && !q.has('uploadId')) out.push({ access: 'delete', bucket, key });
  else out.push({ access: 'write', bucket, key });
  const copy = headers['x-amz-copy-source'];
  if (m === 'PUT' && copy !== undefined) {
    const src = copySourceOf(copy);
    if (src) out.push({ access: 'read', ...src });
  }
  return out;
}

/** Counts and hashes the body on its way to the store; failing at the end keeps the store from committing it. */
class BodyCheck extends Transform {
  bytes = 0;
  /** the body's bytes, when asked to keep them (DeleteObjects, whose keys are in it) */
  kept?: Buffer[];
  private readonly hash = createHash('sha256');
  constructor(
    private readonly expectedSha256: string | undefined,
    private readonly expectedLength: number | undefined,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.kept?.push(chunk);
    this.onBytes(this.bytes);
    if (this.expectedSha256 !== undefined) this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.expectedLength !== undefined && this.bytes !== this.expectedLength) return cb(new S3Error('IncompleteBody'));
    if (this.expectedSha256 !== undefined) {
      const actual = this.hash.digest('hex');
      if (actual !== this.expectedSha256) {
        return cb(new S3Error('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: this.expectedSha256, S3ComputedContentSHA256: actual }));
      }
    }
    cb();
  }
}

export async function startStrictUpstream(opts: StrictUpstreamOptions): Promise<StrictUpstream> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 's3gate-upstream-')));
  const ownsRoot = opts.root === undefined;
  const store = new LocalStore(root);
  const requests: RecordedRequest[] = [];
  let port = 0;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const qi = target.indexOf('?');
    const rawPath = qi < 0 ? target : target.slice(0, qi);
    const rawQuery = qi < 0 ? '' : target.slice(qi + 1);
    const host = req.headers.host ?? '';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headersDistinct)) if (v) headers[k] = v.join(',');
    const query = new URLSearchParams(rawQuery);
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const rec: RecordedRequest = { method: req.method ?? 'GET', url: target, host, headers, bodyBytes: 0, status: 0, auth: 'unknown', style: 'path', operation: '?', resources: [] };
    requests.push(rec);

    let body: BodyCheck | undefined;
    // Recorded before the answer is written: a test reads the record once it has the answer.
    const record = () => {
      rec.resources = touchedResources(rec.method, rec.bucket, rec.key, query, headers, body?.kept ? Buffer.concat(body.kept) : undefined);
    };
    const fail = (err: S3Error) => {
      record();
      rec.status = err.status;
      rec.error = err.code;
      if (res.headersSent || res.destroyed) return;
      const doc = errorXml(err, rawPath, requestId);
      res.writeHead(err.status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId, ...(req.method === 'HEAD' ? {} : { 'content-length': Buffer.byteLength(doc) }) });
      res.end(req.method === 'HEAD' ? undefined : doc);
    };
    try {
      const addr = address(host, rawPath, port, opts.dnsName);
      Object.assign(rec, addr);
      rec.operation = classify(rec.method, addr.bucket, addr.key, query, req.headers);

      const auth = await authenticate({ method: rec.method, rawPath, rawQuery, host, headers: req.headers, distinct: req.headersDistinct, ...(addr.style !== 'path' ? { bucketInHost: addr.bucket } : {}) }, opts);
      rec.auth = auth.kind;
      rec.accessKeyId = auth.accessKeyId;
      rec.signedHeaders = auth.signedHeaders;
      rec.payloadHash = auth.payloadHash;

      if (opts.mode === 'ecs-like') {
        // Dell ECS as its users describe it: SigV4 writes fail with XAmzContentSHA256Mismatch
        // (so they sign data operations with SigV2), and virtual-host buckets are not found.
        if (addr.style !== 'path') throw new S3Error('NoSuchBucket', undefined, { BucketName: addr.bucket ?? host });
        const data = ['PutObject', 'GetObject', 'DeleteObject', 'CopyObject', 'UploadPart', 'CreateMultipartUpload', 'CompleteMultipartUpload', 'AbortMultipartUpload'];
        if (auth.kind.startsWith('v4') && data.includes(rec.operation)) throw new S3Error('XAmzContentSHA256Mismatch');
      }

      const chunked = (headers['content-encoding'] ?? '').split(',').some((s) => s.trim() === 'aws-chunked') || (auth.payloadHash ?? '').startsWith('STREAMING-');
      if (chunked && !opts.acceptChunked) {
        throw new S3Error('NotImplemented', 'aws-chunked / STREAMING-* payloads are not supported by this upstream', { Header: 'x-amz-content-sha256' });
      }
      if (chunked) throw new S3Error('NotImplemented', 'acceptChunked: the strict upstream does not decode aws-chunked bodies yet');
      const hasBody = rec.method === 'PUT' || rec.method === 'POST';
      const len = headers['content-length'];
      if (hasBody && len === undefined && opts.requireContentLength !== false) throw new S3Error('MissingContentLength');
      const ph = auth.payloadHash;
      if (ph !== undefined && ph !== 'UNSIGNED-PAYLOAD' && !/^[0-9a-f]{64}$/.test(ph)) {
        throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.', { ArgumentName: 'x-amz-content-sha256', ArgumentValue: ph });
      }
      const expectedSha = ph !== undefined && /^[0-9a-f]{64}$/.test(ph) ? ph : undefined;
      body = new BodyCheck(expectedSha === EMPTY_SHA256 && !hasBody ? undefined : expectedSha, len === undefined ? undefined : Number(len), (n) => (rec.bodyBytes = n));
      if (rec.operation === 'DeleteObjects') body.kept = [];
      const check = body;
      // Body failures reach the store through its read; a body the store never read has nothing to undo.
      check.on('error', () => {});
      req.on('error', () => check.destroy(new S3Error('IncompleteBody')));
      // A client that hangs up mid-body: the store must see a failed stream, not a short one.
      req.on('close', () => {
        if (!req.complete) check.destroy(new S3Error('IncompleteBody'));
      });
      req.pipe(check);

      const out = await store.handle({ method: rec.method, bucket: addr.bucket, key: addr.key, query, headers, body: check });
      check.resume(); // operations that ignore the body still have to drain it
      record();
      rec.status = out.status;
      const resHeaders: Record<string, string> = { 'x-amz-request-id': requestId, ...out.headers };
      if (typeof out.body === 'string' || Buffer.isBuffer(out.body)) resHeaders['content-length'] = String(Buffer.byteLength(out.body));
      if (opts.checksumOnRange && out.status === 206) resHeaders['x-amz-checksum-crc32'] = 'AAAAAA==';
      res.writeHead(out.status, resHeaders);
      if (out.body === undefined || rec.method === 'HEAD' || out.status === 304) {
        if (out.body instanceof Readable) out.body.destroy();
        res.end();
      } else if (typeof out.body === 'string' || Buffer.isBuffer(out.body)) {
        res.end(out.body);
      } else {
        const stream = out.body as Readable;
        stream.on('error', () => res.destroy());
        res.on('close', () => stream.destroy());
        // A client that went away while the store opened the object has already closed `res`:
        // 'close' will not come again, and an undestroyed stream leaves its FileHandle to the
        // garbage collector, which Node 26 turns into an uncaught error.
        if (res.destroyed || res.closed) stream.destroy();
        else stream.pipe(res);
      }
    } catch (e) {
      body?.resume();
      if (!body) req.resume();
      if (e instanceof S3Error) fail(e);
      else {
        fail(new S3Error('InternalError', (e as Error).message));
      }
    }
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handle(req, res);
  };
  const server: http.Server = opts.tls ? (https.createServer(opts.tls, onRequest) as unknown as http.Server) : http.createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    store,
    root,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownsRoot) await rm(root, { recursive: true, force: true });
    },
  };
}
