// One object from source to destination, streamed: the source's GET body is the destination's
// PUT body, so memory stays at a few socket buffers whatever the object's size. Large objects
// go as multipart uploads fed by ranged GETs, and an upload that fails is aborted so the
// destination never keeps a partial object.
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { text } from '../forward/client.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { blocks, leaf, type ListedObject } from './list.js';
import { partRanges, type PartRange } from './plan.js';
import { bareEtag, drain, fail, header, send, UpstreamError, type Endpoint } from './s3.js';

/** What S3 stores with an object besides its bytes, and that a copy must keep. */
const KEPT_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'];

export function metadataHeaders(res: UpstreamResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    const n = name.toLowerCase();
    if (KEPT_HEADERS.includes(n) || n.startsWith('x-amz-meta-')) out[n] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** The source version a copy was made from, and what the destination made of it. */
export interface CopyResult {
  size: number;
  etag: string;
  lastModified: string;
  destEtag: string;
  multipart: boolean;
}

export interface UploadRef {
  uploadId: string;
  partSize: number;
  size: number;
  etag: string;
  lastModified: string;
}

export interface CopyOptions {
  multipartThreshold: number;
  partSize: number;
  /** parts of one object in flight at once */
  partConcurrency: number;
  signal: AbortSignal;
  /** bytes as they flow, for progress */
  onBytes?: (n: number) => void;
  /** an upload the journal left open for this key: continue it instead of starting over */
  resume?: UploadRef;
  /** called once the upload id exists, before any part is sent */
  onUploadCreated?: (u: UploadRef) => void;
  onUploadEnded?: (uploadId: string) => void;
  /** attempts per request on transient failures */
  attempts?: number;
}

class Counter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

/** The body to send on: counted when someone watches, with errors carried through either way. */
function passOn(body: Readable, onBytes?: (n: number) => void): Readable {
  if (!onBytes) return body;
  const counter = new Counter(onBytes);
  pipeline(body, counter, () => {});
  return counter;
}

export async function withRetry<T>(attempts: number, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted || i >= attempts || !(e instanceof UpstreamError && e.transient)) throw e;
      await new Promise((r) => setTimeout(r, 250 * 2 ** i).unref());
    }
  }
}

// Where the source's ETag is the MD5 of its bytes, Content-MD5 makes the destination check
// the whole path end to end. Server-side-encrypted objects have ETags that are not MD5s.
function contentMd5(etag: string, res: UpstreamResponse): string | undefined {
  if (!/^[0-9a-f]{32}$/i.test(etag)) return undefined;
  const sse = header(res, 'x-amz-server-side-encryption');
  if ((sse && sse !== 'AES256') || header(res, 'x-amz-server-side-encryption-customer-algorithm')) return undefined;
  return Buffer.from(etag, 'hex').toString('base64');
}

export async function copyObject(src: Endpoint, dst: Endpoint, obj: ListedObject, opts: CopyOptions): Promise<CopyResult> {
  if (obj.size >= opts.multipartThreshold && obj.size > 0) return copyMultipart(src, dst, obj, opts);
  return withRetry(opts.attempts ?? 3, opts.signal, () => copySingle(src, dst, obj, opts));
}

async function copySingle(src: Endpoint, dst: Endpoint, obj: ListedObject, opts: CopyOptions): Promise<CopyResult> {
  const got = await send(src, { operation: 'GetObject', method: 'GET', key: obj.key, signal: opts.signal });
  if (got.status !== 200) await fail('GetObject', got);
  try {
    const size = Number(header(got, 'content-length'));
    if (!Number.isSafeInteger(size)) throw new UpstreamError('GetObject', got.status, 'NoContentLength', 'the source sent no Content-Length');
    const etag = bareEtag(header(got, 'etag'));
    const lastModified = header(got, 'last-modified') ?? obj.lastModified;
    const headers = metadataHeaders(got);
    const md5 = contentMd5(etag, got);
    if (md5) headers['content-md5'] = md5;
    const put = await send(dst, {
      operation: 'PutObject', method: 'PUT', key: obj.key, headers, body: passOn(got.body, opts.onBytes), length: size, signal: opts.signal,
    });
    if (put.status !== 200) await fail('PutObject', put);
    drain(put.body);
    return { size, etag, lastModified, destEtag: bareEtag(header(put, 'etag')), multipart: false };
  } finally {
    got.body.destroy();
  }
}

async function createUpload(dst: Endpoint, key: string, headers: Record<string, string>, signal: AbortSignal): Promise<string> {
  const res = await send(dst, { operation: 'CreateMultipartUpload', method: 'POST', key, query: [['uploads', '']], headers, body: Buffer.alloc(0), signal });
  if (res.status !== 200) await fail('CreateMultipartUpload', res);
  const id = leaf(await text(res), 'UploadId');
  if (!id) throw new UpstreamError('CreateMultipartUpload', res.status, 'NoUploadId', 'no UploadId in the response');
  return id;
}

export async function abortUpload(dst: Endpoint, key: string, uploadId: string): Promise<void> {
  // Its own signal: this runs exactly when the copy's signal has fired.
  const res = await send(dst, { operation: 'AbortMultipartUpload', method: 'DELETE', key, query: [['uploadId', uploadId]], signal: AbortSignal.timeout(60_000) });
  drain(res.body);
  if (res.status !== 204 && res.status !== 200 && res.status !== 404) await fail('AbortMultipartUpload', res);
}

/** Parts the destination already holds for an upload: number → ETag and size. */
export async function listParts(dst: Endpoint, key: string, uploadId: string, signal: AbortSignal): Promise<Map<number, { etag: string; size: number }> | undefined> {
  const parts = new Map<number, { etag: string; size: number }>();
  let marker = '0';
  for (;;) {
    const res = await send(dst, { operation: 'ListParts', method: 'GET', key, query: [['uploadId', uploadId], ['part-number-marker', marker]], signal });
    if (res.status === 404) {
      drain(res.body);
      return undefined;
    }
    if (res.status !== 200) await fail('ListParts', res);
    const doc = await text(res);
    for (const p of blocks(doc, 'Part')) parts.set(Number(leaf(p, 'PartNumber')), { etag: leaf(p, 'ETag') ?? '', size: Number(leaf(p, 'Size')) });
    if (leaf(doc, 'IsTruncated') !== 'true') return parts;
    const next = leaf(doc, 'NextPartNumberMarker');
    if (!next || next === marker) return parts;
    marker = next;
  }
}

async function copyPart(src: Endpoint, dst: Endpoint, key: string, uploadId: string, etag: string, r: PartRange, opts: CopyOptions): Promise<string> {
  // If-Match: every part must come from the same version of the source object.
  const got = await send(src, {
    operation: 'GetObject', method: 'GET', key, headers: { range: `bytes=${r.start}-${r.end}`, 'if-match': `"${etag}"` }, signal: opts.signal,
  });
  if (got.status === 412) {
    drain(got.body);
    throw new UpstreamError('GetObject', 412, 'SourceChanged', 'the source object changed during the copy');
  }
  if (got.status !== 206) await fail('GetObject', got);
  try {
    const put = await send(dst, {
      operation: 'UploadPart', method: 'PUT', key, query: [['partNumber', String(r.partNumber)], ['uploadId', uploadId]],
      body: passOn(got.body, opts.onBytes), length: r.end - r.start + 1, signal: opts.signal,
    });
    if (put.status !== 200) await fail('UploadPart', put);
    drain(put.body);
    const partEtag = header(put, 'etag');
    if (!partEtag) throw new UpstreamError('UploadPart', put.status, 'NoETag', 'the destination returned no part ETag');
    return partEtag;
  } finally {
    got.body.destroy();
  }
}

async function destinationEtag(dst: Endpoint, key: string, signal: AbortSignal): Promise<string> {
  const res = await send(dst, { operation: 'HeadObject', method: 'HEAD', key, signal });
  drain(res.body);
  return res.status === 200 ? bareEtag(header(res, 'etag')) : '';
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

async function copyMultipart(src: Endpoint, dst: Endpoint, obj: ListedObject, opts: CopyOptions): Promise<CopyResult> {
  const attempts = opts.attempts ?? 3;
  const head = await withRetry(attempts, opts.signal, async () => {
    const res = await send(src, { operation: 'HeadObject', method: 'HEAD', key: obj.key, signal: opts.signal });
    drain(res.body);
    if (res.status !== 200) await fail('HeadObject', res);
    return res;
  });
  const size = Number(header(head, 'content-length'));
  const etag = bareEtag(header(head, 'etag'));
  const lastModified = header(head, 'last-modified') ?? obj.lastModified;

  let uploadId: string | undefined;
  let have = new Map<number, { etag: string; size: number }>();
  let partSize = opts.partSize;
  const prior = opts.resume;
  if (prior) {
    const sameSource = prior.size === size && prior.etag === etag;
    const parts = sameSource ? await listParts(dst, obj.key, prior.uploadId, opts.signal).catch(() => undefined) : undefined;
    if (parts) {
      uploadId = prior.uploadId;
      partSize = prior.partSize;
      have = parts;
    } else {
      await abortUpload(dst, obj.key, prior.uploadId).catch(() => {});
      opts.onUploadEnded?.(prior.uploadId);
    }
  }
  const ranges = partRanges(size, partSize);
  if (uploadId === undefined) {
    uploadId = await withRetry(attempts, opts.signal, () => createUpload(dst, obj.key, metadataHeaders(head), opts.signal));
    opts.onUploadCreated?.({ uploadId, partSize, size, etag, lastModified });
  }
  const id = uploadId;
  try {
    const etags = new Array<string>(ranges.length);
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const r = ranges[next++]!;
        const done = have.get(r.partNumber);
        if (done && done.size === r.end - r.start + 1 && done.etag) {
          etags[r.partNumber - 1] = done.etag;
          continue;
        }
        etags[r.partNumber - 1] = await withRetry(attempts, opts.signal, () => copyPart(src, dst, obj.key, id, etag, r, opts));
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.partConcurrency, ranges.length) }, worker));
    const doc = `<CompleteMultipartUpload>${ranges.map((r) => `<Part><PartNumber>${r.partNumber}</PartNumber><ETag>${xmlEscape(etags[r.partNumber - 1]!)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const res = await send(dst, { operation: 'CompleteMultipartUpload', method: 'POST', key: obj.key, query: [['uploadId', id]], headers: { 'content-type': 'application/xml' }, body: Buffer.from(doc), signal: opts.signal });
    if (res.status !== 200) await fail('CompleteMultipartUpload', res);
    // S3 may answer 200 and still fail the completion in the body.
    const out = await text(res);
    if (/<Error>/.test(out)) throw new UpstreamError('CompleteMultipartUpload', 200, leaf(out, 'Code') ?? 'InternalError', leaf(out, 'Message'));
    opts.onUploadEnded?.(id);
    // RGW 16 completes with an empty <ETag></ETag>; the journal needs the real one.
    let destEtag = bareEtag(leaf(out, 'ETag')) || bareEtag(header(res, 'etag'));
    if (!destEtag) destEtag = await destinationEtag(dst, obj.key, opts.signal);
    return { size, etag, lastModified, destEtag, multipart: true };
  } catch (e) {
    await abortUpload(dst, obj.key, id).then(() => opts.onUploadEnded?.(id), () => {});
    throw e;
  }
}
