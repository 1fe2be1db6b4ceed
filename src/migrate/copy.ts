// One object from source to destination, streamed: the source's GET body is the destination's
// PUT body, so memory stays at a few socket buffers whatever the object's size. Large objects,
// and every object the source holds as a multipart upload, go as multipart uploads fed by
// ranged GETs read in order, so the whole object is hashed on the way and checked against the
// source's ETag before the upload is completed. An upload that fails is aborted, so the
// destination never keeps a partial object.
//
// Every write is conditional on what the destination held when the copy was decided (nothing,
// or the copy this migration made before): with If-None-Match / If-Match where the provider's
// preset says it honours them, else by a HEAD just before the commit. Writing over our own copy
// also needs its Last-Modified unchanged, which no provider checks on a write (S3's conditional
// writes are If-None-Match and If-Match only): a client's write of the same bytes (a re-upload, a
// CopyObject onto itself with new metadata) keeps the ETag. So such a write is always checked by
// a HEAD just before its commit too, its last bytes held back until then.
//
// Tags travel as x-amz-tagging on the PUT or CreateMultipartUpload, read with GetObjectTagging
// where the source's GET says it has some (route/object-tags.ts).
import { createHash, type Hash } from 'node:crypto';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { text } from '../forward/client.js';
import { CommitGate } from '../route/commit-gate.js';
import { readTagging, tagCount } from '../route/object-tags.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { IntegrityError, isMd5Etag, SourceDigest, type Proof } from './integrity.js';
import { blocks, leaf, type ListedObject } from './list.js';
import { isMultipartEtag, partRanges, sameInstant, type PartRange } from './plan.js';
import { bareEtag, drain, fail, header, send, UpstreamError, withRetry, type Endpoint } from './s3.js';

export { withRetry } from './s3.js';

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

/** What the destination must still hold for the copy to go ahead: nothing, or our own copy (its ETag and Last-Modified). */
export type Expectation = { absent: true } | { etag: string; lastModified: string };

/** The destination no longer holds what the copy was decided on: a newer write won. */
export class DestinationChanged extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'DestinationChanged';
  }
}

/** The source version a copy was made from, and what the destination made of it. */
export interface CopyResult {
  size: number;
  etag: string;
  lastModified: string;
  destEtag: string;
  /** the destination's Last-Modified for the copy, where its answer said (else the caller HEADs) */
  destLastModified?: string;
  multipart: boolean;
  proof: Proof;
  /**
   * The commit was not (wholly) conditional: how long a client's write could land unseen. From the
   * HEAD right before the commit to its answer (a multipart copy, or a single PUT over our own
   * copy); other single PUTs: from the GET to the PUT's answer (the deciding HEAD, just before, is
   * the caller's to add: `fromDecision`).
   */
  windowMs?: number;
  fromDecision?: boolean;
  /**
   * The multipart upload that made it: the caller journals its end only after the copy itself,
   * so a crash between the two leaves the upload open in the journal, which is how the next run
   * recognises the completed object as this migration's.
   */
  uploadId?: string;
}

export interface UploadRef {
  uploadId: string;
  partSize: number;
  size: number;
  etag: string;
  lastModified: string;
  /** taggingDigest() of the tags it was created with; undefined for uploads journalled before tags were carried */
  tagging?: string;
}

/** A short digest of an x-amz-tagging value, so the journal holds no tag text ('' for none). */
export function taggingDigest(tagging: string): string {
  return tagging === '' ? '' : createHash('sha256').update(tagging).digest('hex').slice(0, 16);
}

export interface CopyOptions {
  multipartThreshold: number;
  partSize: number;
  signal: AbortSignal;
  expect: Expectation;
  /** bytes as they flow, for progress */
  onBytes?: (n: number) => void;
  /** an upload the journal left open for this key: continue it instead of starting over */
  resume?: UploadRef;
  /** called once the upload id exists, before any part is sent */
  onUploadCreated?: (u: UploadRef) => void;
  onUploadEnded?: (uploadId: string) => void;
  /** attempts per request on transient failures */
  attempts?: number;
  /** written with the object (its canned ACL, src/route/object-acl.ts) */
  headers?: Record<string, string>;
}

/** Sees every byte on its way through: hashes and counters. */
class Tap extends Transform {
  constructor(private readonly see: (chunk: Buffer) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.see(chunk);
    cb(null, chunk);
  }
}

function tap(body: Readable, see: (chunk: Buffer) => void): Readable {
  const t = new Tap(see);
  pipeline(body, t, () => {});
  return t;
}

// Where the source's ETag is the MD5 of its bytes, Content-MD5 makes the destination check
// the whole path end to end. Server-side-encrypted objects have ETags that are not MD5s.
function contentMd5(etag: string, res: UpstreamResponse): string | undefined {
  if (!isMd5Etag(etag)) return undefined;
  const sse = header(res, 'x-amz-server-side-encryption');
  if ((sse && sse !== 'AES256') || header(res, 'x-amz-server-side-encryption-customer-algorithm')) return undefined;
  return Buffer.from(etag, 'hex').toString('base64');
}

/** The precondition header for a write, when the provider honours it for that operation. */
function condition(dst: Endpoint, op: 'put' | 'complete', expect: Expectation): Record<string, string> | undefined {
  const c = dst.up.profile.conditionalWrites;
  if (!c || (op === 'complete' && !c.onComplete)) return undefined;
  if ('absent' in expect) return c.ifNoneMatch ? { 'if-none-match': '*' } : undefined;
  if (!c.ifMatch) return undefined;
  return { 'if-match': c.ifMatch === 'unquoted' ? expect.etag : `"${expect.etag}"` };
}

/** A write refused for its precondition: the destination changed since the copy was decided. */
async function failWrite(operation: string, res: UpstreamResponse, conditional: boolean): Promise<never> {
  try {
    await fail(operation, res);
  } catch (e) {
    if (conditional && e instanceof UpstreamError && (e.status === 412 || e.code === 'NoSuchKey' || e.code === 'ConditionalRequestConflict')) {
      throw new DestinationChanged(`the destination changed during the copy (${operation} answered ${e.status} ${e.code})`);
    }
    throw e;
  }
  throw new Error('unreachable');
}

async function destinationState(dst: Endpoint, key: string, signal: AbortSignal): Promise<{ etag: string; lastModified?: string } | undefined> {
  return withRetry(3, signal, async () => {
    const res = await send(dst, { operation: 'HeadObject', method: 'HEAD', key, signal });
    drain(res.body);
    if (res.status === 404) return undefined;
    if (res.status !== 200) await fail('HeadObject', res);
    const lm = header(res, 'last-modified');
    return { etag: bareEtag(header(res, 'etag')), ...(lm ? { lastModified: lm } : {}) };
  });
}

/** Where the provider cannot make the commit conditional on all of `expect`: look right before it. */
async function checkStill(dst: Endpoint, key: string, expect: Expectation, signal: AbortSignal): Promise<void> {
  const now = await destinationState(dst, key, signal);
  if ('absent' in expect) {
    if (now) throw new DestinationChanged(`the destination was written during the copy (ETag ${now.etag})`);
    return;
  }
  if (!now) throw new DestinationChanged('the destination object was deleted during the copy');
  if (now.etag !== expect.etag) throw new DestinationChanged(`the destination was written during the copy (ETag ${now.etag})`);
  if (!sameInstant(now.lastModified, expect.lastModified)) {
    throw new DestinationChanged(`the destination was written during the copy (same ETag, Last-Modified ${now.lastModified ?? 'none'}, our copy's ${expect.lastModified})`);
  }
}

/** The source's tags as an x-amz-tagging value ('' for none), where its GET counted some; a failure to read them fails the copy. */
async function sourceTagging(src: Endpoint, key: string, count: number): Promise<string> {
  if (count === 0) return '';
  const got = await readTagging(src.up, src.bucket, key);
  if ('why' in got) throw new UpstreamError('GetObjectTagging', got.status ?? 0, got.code ?? 'TagsUnreadable', `the object's tags could not be read, so it is not copied: ${got.why}`);
  return got.tagging;
}

export async function copyObject(src: Endpoint, dst: Endpoint, obj: ListedObject, opts: CopyOptions): Promise<CopyResult> {
  // A multipart source is checked against its composite ETag, which needs the bytes in parts
  // that can still be refused before the commit: those always go as a multipart upload.
  if (obj.size > 0 && (obj.size >= opts.multipartThreshold || isMultipartEtag(obj.etag))) return copyMultipart(src, dst, obj, opts);
  return withRetry(opts.attempts ?? 3, opts.signal, () => copySingle(src, dst, obj, opts));
}

async function copySingle(src: Endpoint, dst: Endpoint, obj: ListedObject, opts: CopyOptions): Promise<CopyResult> {
  const started = performance.now();
  const got = await send(src, { operation: 'GetObject', method: 'GET', key: obj.key, signal: opts.signal });
  if (got.status !== 200) await fail('GetObject', got);
  try {
    const size = Number(header(got, 'content-length'));
    if (!Number.isSafeInteger(size)) throw new UpstreamError('GetObject', got.status, 'NoContentLength', 'the source sent no Content-Length');
    const etag = bareEtag(header(got, 'etag'));
    if (isMultipartEtag(etag) && !isMultipartEtag(obj.etag)) throw new UpstreamError('GetObject', 0, 'SourceChanged', 'the source object was replaced by a multipart upload since the listing');
    const lastModified = header(got, 'last-modified') ?? obj.lastModified;
    const headers = { ...metadataHeaders(got), ...opts.headers };
    // Read while the GET's body waits (backpressure): the PUT starts with its tags or not at all.
    const tagging = await sourceTagging(src, obj.key, tagCount(got.headers));
    if (tagging !== '') headers['x-amz-tagging'] = tagging;
    const md5 = contentMd5(etag, got);
    if (md5) headers['content-md5'] = md5;
    const cond = condition(dst, 'put', opts.expect);
    Object.assign(headers, cond);
    const digest = new SourceDigest(md5 || isMultipartEtag(etag) ? etag : '', size);
    let body = tap(got.body, (c) => {
      digest.update(c);
      opts.onBytes?.(c.length);
    });
    // Over our own copy: its last bytes wait for a HEAD that finds it unchanged (ETag and
    // Last-Modified); a refused check ends the upload short and the provider discards it.
    let refused: Error | undefined;
    let checked = 0;
    const recheck = async () => {
      try {
        await checkStill(dst, obj.key, opts.expect, opts.signal);
        checked = performance.now();
      } catch (e) {
        refused = e as Error;
        throw e;
      }
    };
    const overwrite = 'etag' in opts.expect;
    if (overwrite && size === 0) await recheck();
    else if (overwrite) {
      const gate = new CommitGate(recheck);
      pipeline(body, gate, () => {});
      body = gate;
    }
    const put = await send(dst, { operation: 'PutObject', method: 'PUT', key: obj.key, headers, body, length: size, signal: opts.signal }).catch((e: unknown) => {
      throw refused ?? e;
    });
    if (refused) throw refused;
    if (put.status !== 200) await failWrite('PutObject', put, cond !== undefined);
    drain(put.body);
    // With Content-MD5 the destination itself refused damaged bytes; this says what it vouched for.
    const proof = digest.check();
    const window = overwrite ? { windowMs: performance.now() - checked } : cond ? {} : { windowMs: performance.now() - started, fromDecision: true };
    const destLastModified = header(put, 'last-modified');
    return { size, etag, lastModified, destEtag: bareEtag(header(put, 'etag')), ...(destLastModified ? { destLastModified } : {}), multipart: false, proof, ...window };
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
  const signal = AbortSignal.timeout(60_000);
  await withRetry(3, signal, async () => {
    const res = await send(dst, { operation: 'AbortMultipartUpload', method: 'DELETE', key, query: [['uploadId', uploadId]], signal });
    drain(res.body);
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) await fail('AbortMultipartUpload', res);
  });
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

async function getRange(src: Endpoint, key: string, etag: string, r: PartRange, signal: AbortSignal): Promise<UpstreamResponse> {
  // If-Match: every part must come from the same version of the source object.
  const got = await send(src, { operation: 'GetObject', method: 'GET', key, headers: { range: `bytes=${r.start}-${r.end}`, 'if-match': `"${etag}"` }, signal });
  if (got.status === 412) {
    drain(got.body);
    throw new UpstreamError('GetObject', 412, 'SourceChanged', 'the source object changed during the copy');
  }
  if (got.status !== 206) await fail('GetObject', got);
  return got;
}

/** One part: read, hashed into `digest` and on its own, sent; the destination's part ETag must be that hash. */
async function copyPart(src: Endpoint, dst: Endpoint, key: string, uploadId: string, etag: string, r: PartRange, digest: SourceDigest, opts: CopyOptions): Promise<string> {
  const got = await getRange(src, key, etag, r, opts.signal);
  try {
    const md5 = createHash('md5');
    const body = tap(got.body, (c) => {
      digest.update(c);
      md5.update(c);
      opts.onBytes?.(c.length);
    });
    const put = await send(dst, {
      operation: 'UploadPart', method: 'PUT', key, query: [['partNumber', String(r.partNumber)], ['uploadId', uploadId]],
      body, length: r.end - r.start + 1, signal: opts.signal,
    });
    if (put.status !== 200) await fail('UploadPart', put);
    drain(put.body);
    const partEtag = header(put, 'etag');
    if (!partEtag) throw new UpstreamError('UploadPart', put.status, 'NoETag', 'the destination returned no part ETag');
    samePart(r.partNumber, bareEtag(partEtag), md5);
    return partEtag;
  } finally {
    got.body.destroy();
  }
}

/** A part a previous run already sent: read again for the whole-object hash, and checked. */
async function rehashPart(src: Endpoint, key: string, etag: string, r: PartRange, digest: SourceDigest, stored: string, signal: AbortSignal): Promise<void> {
  const got = await getRange(src, key, etag, r, signal);
  const md5 = createHash('md5');
  for await (const c of got.body as AsyncIterable<Buffer>) {
    digest.update(c);
    md5.update(c);
  }
  samePart(r.partNumber, bareEtag(stored), md5);
}

function samePart(n: number, stored: string, sent: Hash): void {
  const ours = sent.digest('hex');
  // An ETag that is not an MD5 (SSE-KMS at the destination) cannot be held against the bytes.
  if (isMd5Etag(stored) && stored.toLowerCase() !== ours) throw new IntegrityError(`the destination stored part ${n} with MD5 ${stored}, s3gate sent ${ours}`);
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * How many tags the source has: a GET says (x-amz-tagging-count), a HEAD only at some providers
 * (not S3), so where the HEAD is silent the object's first byte is read for the count.
 */
async function sourceTagCount(src: Endpoint, key: string, etag: string, head: UpstreamResponse, signal: AbortSignal): Promise<number> {
  if (header(head, 'x-amz-tagging-count') !== undefined) return tagCount(head.headers);
  const got = await getRange(src, key, etag, { partNumber: 1, start: 0, end: 0 }, signal);
  drain(got.body);
  return tagCount(got.headers);
}

/** S3 tells a multipart object's first part size on HEAD with partNumber=1; RGW 16 and others do not. */
async function firstPartSize(src: Endpoint, key: string, signal: AbortSignal): Promise<number | undefined> {
  const res = await send(src, { operation: 'HeadObject', method: 'HEAD', key, query: [['partNumber', '1']], signal }).catch(() => undefined);
  if (!res) return undefined;
  drain(res.body);
  return res.status === 206 || (res.status === 200 && header(res, 'x-amz-mp-parts-count')) ? Number(header(res, 'content-length')) || undefined : undefined;
}

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
  const tagging = await withRetry(attempts, opts.signal, async () => sourceTagging(src, obj.key, await sourceTagCount(src, obj.key, etag, head, opts.signal)));
  const hint = isMultipartEtag(etag) ? await firstPartSize(src, obj.key, opts.signal) : undefined;
  let digest = new SourceDigest(etag, size, hint);

  let uploadId: string | undefined;
  let have = new Map<number, { etag: string; size: number }>();
  let partSize = opts.partSize;
  const prior = opts.resume;
  if (prior) {
    // An upload journalled before tags were carried has none.
    const sameSource = prior.size === size && prior.etag === etag && (prior.tagging ?? '') === taggingDigest(tagging);
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
  const createHeaders = { ...metadataHeaders(head), ...opts.headers, ...(tagging !== '' ? { 'x-amz-tagging': tagging } : {}) };
  if (uploadId === undefined) uploadId = await withRetry(attempts, opts.signal, () => createUpload(dst, obj.key, createHeaders, opts.signal));
  const id = uploadId;
  let completed = false;
  try {
    if (!prior || prior.uploadId !== id) opts.onUploadCreated?.({ uploadId: id, partSize, size, etag, lastModified, tagging: taggingDigest(tagging) });
    // In order, one part at a time: the whole-object hash needs the bytes in order, and
    // --concurrency objects in flight keep the links busy.
    const etags: string[] = [];
    for (const r of ranges) {
      const done = have.get(r.partNumber);
      const next = await withRetry(attempts, opts.signal, async () => {
        const d = digest.copy();
        if (done && done.size === r.end - r.start + 1 && done.etag) {
          await rehashPart(src, obj.key, etag, r, d, done.etag, opts.signal);
          return { d, partEtag: done.etag };
        }
        return { d, partEtag: await copyPart(src, dst, obj.key, id, etag, r, d, opts) };
      });
      digest = next.d;
      etags.push(next.partEtag);
    }
    const proof = digest.check();
    const cond = condition(dst, 'complete', opts.expect);
    // If-Match cannot see a write of the same bytes over our copy: its Last-Modified is looked at.
    const looks = !cond || 'etag' in opts.expect;
    const checked = performance.now();
    if (looks) await checkStill(dst, obj.key, opts.expect, opts.signal);
    const doc = `<CompleteMultipartUpload>${ranges.map((r) => `<Part><PartNumber>${r.partNumber}</PartNumber><ETag>${xmlEscape(etags[r.partNumber - 1]!)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const out = await withRetry(attempts, opts.signal, async () => {
      const res = await send(dst, { operation: 'CompleteMultipartUpload', method: 'POST', key: obj.key, query: [['uploadId', id]], headers: { 'content-type': 'application/xml', ...cond }, body: Buffer.from(doc), signal: opts.signal });
      if (res.status !== 200) await failWrite('CompleteMultipartUpload', res, cond !== undefined);
      // S3 may answer 200 and still fail the completion in the body.
      const body = await text(res);
      if (/<Error>/.test(body)) throw new UpstreamError('CompleteMultipartUpload', 200, leaf(body, 'Code') ?? 'InternalError', leaf(body, 'Message'));
      return { body, etag: header(res, 'etag'), lastModified: header(res, 'last-modified') };
    });
    const windowMs = looks ? performance.now() - checked : undefined;
    completed = true;
    // RGW 16 completes with an empty <ETag></ETag>; the journal needs the real one.
    let destEtag = bareEtag(leaf(out.body, 'ETag')) || bareEtag(out.etag);
    if (!destEtag) destEtag = (await destinationState(dst, obj.key, opts.signal))?.etag ?? '';
    return { size, etag, lastModified, destEtag, ...(out.lastModified ? { destLastModified: out.lastModified } : {}), multipart: true, proof, uploadId: id, ...(windowMs !== undefined ? { windowMs } : {}) };
  } catch (e) {
    if (!completed) await abortUpload(dst, obj.key, id).then(() => opts.onUploadEnded?.(id), () => {});
    throw e;
  }
}
