// Writes a provider's answer to the client: headers and XML bodies rewritten to the names the
// client knows, bodies streamed, and a broken provider stream turned into a cut connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamResponse } from '../forward/forward.js';
import type { Address } from '../addressing/resolve.js';
import type { Operation } from '../authorize/operation.js';
import type { GatewayConfig } from '../config/types.js';
import type { Route } from '../route/route.js';
import { answerHeaders, ENCODED_LISTINGS, filledEtag, headerListOf, headerValue, singleHeader, rewriteXml, withErrorMessage, XML_REWRITE_OPS, type NameMap } from '../rewrite/response.js';
import { parseQuery, uriEncode } from '../signing/sigv4.js';
import { clientProto } from './forwarded.js';
import { bodyBytes } from './memory.js';
import { S3Error } from '../s3/errors.js';
import { withDenied } from '../authorize/delete-objects.js';
import { withActualObjectSize } from '../route/object-size.js';
import { asNoSuchUpload } from '../route/upload-gone.js';
import { s3Spelled } from '../forward/header-name.js';

export interface ResponseTally {
  status?: number;
  bytesOut: number;
  /** the client asked for a byte range */
  ranged?: boolean;
  /** s3gate's request id: the one an error document names */
  id?: string;
  /** the provider's request id, when its answer was an error (kept for the log line) */
  upstreamId?: string;
  /** the provider's error code, from its error document (the log line's `upstreamError`) */
  upstreamError?: string;
  /** CompleteMultipartUpload: the body as sent, whose parts make the ETag for a provider that answers an empty one */
  completeBody?: Buffer;
  /** PutObject, UploadPart: a body whose x-amz-checksum-* s3gate verified (declared, or in its trailer) */
  verifiedBody?: VerifiedChecksums;
  /** DeleteObjects: the <Error> entries of keys outside the grant, which the provider never saw */
  deniedDeletes?: string;
}

export interface VerifiedChecksums {
  declaredChecksums?: Record<string, string>;
  trailerChecksums?: () => Record<string, string>;
}

/**
 * S3 answers a PutObject or UploadPart with the checksum it verified, and a PutObject with its
 * type. s3gate verified every one the client declared, in a header or the trailer, before the
 * provider saw the end of the body; a provider that does not know it (RGW before Squid, anything
 * s3gate strips it for) answered without it. minio-go reads it from the answer (an empty
 * ChecksumCRC32C after a PutObject that sent one). A provider's own echo of the same is replaced
 * by the same value.
 */
function withVerifiedChecksums(own: Record<string, string>, body: VerifiedChecksums, op: string): Record<string, string> {
  const sums = { ...body.declaredChecksums, ...body.trailerChecksums?.() };
  if (Object.keys(sums).length === 0) return own;
  return op === 'PutObject' ? { ...own, ...sums, 'x-amz-checksum-type': 'FULL_OBJECT' } : { ...own, ...sums };
}

const REQUEST_ID = /<RequestId>[^<]*<\/RequestId>/;
const ERROR_CODE = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/;

/**
 * A provider's error document names s3gate's request id, the one in `x-amz-request-id`: clients
 * and SDKs report the two as one. The provider's own id goes to the log line.
 */
export function ownRequestId(xml: string, tally: ResponseTally): string {
  if (!tally.id) return xml;
  const m = REQUEST_ID.exec(xml);
  if (!m) return xml;
  tally.upstreamId = m[0].slice(11, -12);
  return xml.slice(0, m.index) + `<RequestId>${tally.id}</RequestId>` + xml.slice(m.index + m[0].length);
}

export function nameMap(cfg: GatewayConfig, req: IncomingMessage, route: Route, address: Address, op?: Operation): NameMap {
  const proto = clientProto(cfg, req, req.headers);
  const clientBase = `${proto}://${address.host}`;
  const clientBucketUrl = address.style === 'path' ? `${clientBase}/${uriEncode(route.clientBucket, false)}` : clientBase;
  const ep = route.upstream.endpoint;
  return {
    clientRegion: cfg.region,
    upstreamBucket: route.upstreamBucket,
    clientBucket: route.clientBucket,
    upstreamHosts: [`${route.upstreamBucket}.${ep.host}`, ep.host],
    clientBase,
    clientBucketUrl,
    encodeListingFields: route.upstream.profile.listingEncodesKeysOnly === true && op !== undefined && ENCODED_LISTINGS.has(op.name),
    dropNextMarker: op?.name === 'ListObjects' && !delimited(address.rawQuery),
  };
}

/** The first value of query parameter `name`, read only when the raw query names it. */
function queryValue(rawQuery: string, name: string): string | undefined {
  if (!rawQuery.includes(`${name}=`)) return undefined;
  return parseQuery(rawQuery).find(([n]) => n === name)?.[1];
}

/** The query names a delimiter that is not empty (`delimiter=` lists as if none were named). */
function delimited(rawQuery: string): boolean {
  for (const part of rawQuery.split('&')) {
    if (part.startsWith('delimiter=') && part.length > 10) return true;
  }
  return false;
}

/**
 * A copy whose source's If-None-Match or If-Modified-Since failed is S3's 412 PreconditionFailed;
 * Ceph RGW answers 304 Not Modified, which SDKs do not read as the copy's refusal (boto3 raised a
 * bare "304"). No copy was made.
 */
function notCopied(req: IncomingMessage): S3Error {
  const h = req.headers;
  const condition = h['x-amz-copy-source-if-none-match'] !== undefined ? 'x-amz-copy-source-If-None-Match' : 'x-amz-copy-source-If-Modified-Since';
  return new S3Error('PreconditionFailed', undefined, { Condition: condition });
}

/**
 * Not async: an answer read whole is written before it returns, and the caller's promise settles
 * without waiting on one of respond's own; a rewritten or streamed body gives a promise.
 */
export function respond(
  cfg: GatewayConfig, tally: ResponseTally, address: Address, req: IncomingMessage, res: ServerResponse, route: Route, op: Operation,
  up: UpstreamResponse, extraHeaders: Record<string, string> = {},
): Promise<void> | undefined {
  const status = up.status;
  if (status === 304 && (op.name === 'CopyObject' || op.name === 'UploadPartCopy')) {
    if (!up.buffer) up.body.resume();
    throw notCopied(req);
  }
  if (tally.verifiedBody !== undefined && status === 200 && (op.name === 'PutObject' || op.name === 'UploadPart')) {
    extraHeaders = withVerifiedChecksums(extraHeaders, tally.verifiedBody, op.name);
  }
  // undici's raw headers, unless someone made (and may have changed) the object of them.
  const list = up.rawHeaders ?? headerListOf(up.headers);
  const outHeaders = answerHeaders(list, extraHeaders, status === 206 || tally.ranged === true, route.upstreamBucket, route.clientBucket);
  if (status >= 300) {
    const id = singleHeader(list, 'x-amz-request-id');
    if (id !== undefined) tally.upstreamId = id;
  }
  tally.status = status;
  // The provider's Content-Type is kept; only an XML answer without one is given S3's.
  const denied = tally.deniedDeletes !== undefined && status === 200;
  if (denied || (req.method !== 'HEAD' && (status >= 300 || XML_REWRITE_OPS.has(op.name)))) {
    const type = headerValue(list, 'content-type');
    // RGW 16 answers GetBucketLocation with no Content-Type: its LocationConstraint (`default`)
    // must still become s3gate's region, or minio-go signs its next request for `default`.
    const untyped = type === undefined && status === 200;
    if (denied || untyped || type?.includes('xml')) return rewritten(cfg, tally, address, req, res, route, op, up, outHeaders, untyped);
  }
  const whole = up.buffer;
  if (whole) {
    res.writeHead(status, outHeaders);
    // No body: the header block goes out as one string write, not a writev of it and an empty Buffer.
    if (whole.length === 0) res.end();
    else res.end(whole);
    tally.bytesOut = whole.length;
    return;
  }
  return streamed(tally, res, up, outHeaders);
}

/** An XML body that names the provider's bucket or hosts: read whole, rewritten, its length told anew. */
async function rewritten(
  cfg: GatewayConfig, tally: ResponseTally, address: Address, req: IncomingMessage, res: ServerResponse, route: Route, op: Operation, up: UpstreamResponse, outHeaders: string[],
  untyped = false,
): Promise<void> {
  let text = '';
  if (up.buffer) text = up.buffer.toString('utf8');
  else for await (const chunk of up.body) text += chunk;
  let out = rewriteXml(text, nameMap(cfg, req, route, address, op));
  let status = up.status;
  if (status >= 300) {
    out = withErrorMessage(ownRequestId(out, tally));
    const code = ERROR_CODE.exec(out);
    if (code) tally.upstreamError = code[1]!;
    if (status === 416 && op.name === 'GetObject' && address.key !== undefined) {
      const range = req.headers.range;
      out = await withActualObjectSize(out, route.upstream, route.upstreamBucket, address.key, queryValue(address.rawQuery, 'versionId'), typeof range === 'string' ? range : undefined);
    }
    const uploadId = (op.name === 'ListParts' || op.name === 'CompleteMultipartUpload') && address.key !== undefined ? queryValue(address.rawQuery, 'uploadId') : undefined;
    if (uploadId !== undefined) {
      const gone = await asNoSuchUpload(op.name, status, out, route.upstream, route.upstreamBucket, address.key!, uploadId);
      if (gone) ({ status, xml: out } = gone);
      tally.status = status;
    }
  }
  else if (tally.completeBody !== undefined && op.name === 'CompleteMultipartUpload') out = filledEtag(out, tally.completeBody);
  else if (tally.deniedDeletes !== undefined && op.name === 'DeleteObjects') out = withDenied(out, tally.deniedDeletes) ?? out;
  tally.bytesOut = Buffer.byteLength(out);
  const headers: string[] = [];
  for (let i = 0; i < outHeaders.length; i += 2) if (outHeaders[i] !== 'Content-Length') headers.push(outHeaders[i]!, outHeaders[i + 1]!);
  headers.push('Content-Length', String(tally.bytesOut));
  if (untyped) headers.push('Content-Type', 'application/xml');
  res.writeHead(status, headers);
  res.end(out);
}

async function streamed(tally: ResponseTally, res: ServerResponse, up: UpstreamResponse, outHeaders: string[]): Promise<void> {
  const body = up.body;
  res.writeHead(up.status, outHeaders);
  body.on('data', (c: Buffer) => {
    tally.bytesOut += c.length;
    bodyBytes(c.length);
  });
  // A broken provider stream must cut the client's connection, never end it as if complete.
  // (Plain pipe with explicit error handling: stream/promises' pipeline costs a DOMException per
  // response on this hot path.)
  await new Promise<void>((resolve) => {
    const fail = () => {
      res.destroy();
      body.destroy();
      resolve();
    };
    body.once('error', fail);
    res.once('close', () => {
      if (!res.writableFinished) fail();
      else resolve();
    });
    res.once('finish', resolve);
    // The client may have gone while the provider (or the local store) answered: 'close' has
    // passed, and the body (for the local store, an open FileHandle) must still be let go.
    if (res.destroyed || res.closed) fail();
    else body.pipe(res);
  });
}

/** A response s3gate composed itself (ListBuckets, merged listings). */
export function respondXml(tally: ResponseTally, res: ServerResponse, xml: string, extraHeaders: Record<string, string> = {}): void {
  tally.status = 200;
  tally.bytesOut = Buffer.byteLength(xml);
  res.writeHead(200, s3Spelled({ ...extraHeaders, 'content-type': 'application/xml', 'content-length': tally.bytesOut }));
  res.end(xml);
}
