// The request body as it goes upstream: decoded and verified by payload/ while it streams,
// with the end held back until everything verified. What the provider is told about the body
// (length, encoding, checksums) follows its profile.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { Authenticated } from '../authenticate/index.js';
import type { ProviderProfile } from '../config/provider.js';
import { inboundPayload, algorithmOfHeader, type InboundPayload } from '../payload/index.js';
import { S3Error } from '../s3/errors.js';
import { bodyBytes } from './memory.js';
import type { BodyBudget } from '../limits/body-budget.js';

export interface InboundBody {
  stream: Readable;
  /** the whole verified body, for small ones: sent as one buffer */
  buffer?: Buffer;
  /** reads and verifies a small plain body whole, straight off the socket (instead of `stream`), and tells the sink; a method: call it as `body.collect(sink)` */
  collect?(sink: BodySink): void;
  /** the length to declare upstream, when known */
  length?: number;
  /** outbound header changes: a value sets, null removes */
  headers: Record<string, string | null>;
  /** an aws-chunked body's trailer checksums, verified; complete once `stream` ended */
  trailerChecksums?: () => Record<string, string>;
  /** PutObject, UploadPart: the x-amz-checksum-* headers the client declared, verified with the body */
  declaredChecksums?: Record<string, string>;
}

/** Who hears a small body read whole: the body, or why there is none. Told once, from the request's own events. */
export interface BodySink {
  body(b: InboundBody): void;
  fail(e: unknown): void;
}

const acceptedByProfile = new WeakMap<ProviderProfile, Set<string>>();
/** The checksum algorithms a provider takes in headers, as a set made once per profile. */
function acceptedAlgorithms(profile: ProviderProfile): Set<string> {
  let s = acceptedByProfile.get(profile);
  if (!s) acceptedByProfile.set(profile, (s = new Set(profile.checksums.headerAlgorithms)));
  return s;
}

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

// Operations whose body is object data: AWS demands a length for them.
const DATA_UPLOADS = new Set(['PutObject', 'UploadPart']);

export function inboundBody(
  req: IncomingMessage, headers: Record<string, string | string[] | undefined>, auth: Authenticated,
  operation: string, profile: ProviderProfile, ctx: { bytesIn: number },
): InboundBody {
  // The body answers to every hash the signature covers: a presigned URL's signed
  // X-Amz-Content-Sha256 binds it as the header would (authenticate/ refused a header that differs).
  // On CompleteMultipartUpload, x-amz-checksum-* is the object's checksum (composite or
  // full-object, per x-amz-checksum-type), never the XML body's: the provider checks it against
  // the parts, or it is dropped below when the provider knows no such header.
  const pinned = auth.signedPayloadHash;
  const described = operation === 'CompleteMultipartUpload' ? withoutChecksums(headers) : headers;
  const payload = inboundPayload(
    pinned !== undefined && headers['x-amz-content-sha256'] === undefined ? { ...described, 'x-amz-content-sha256': pinned } : described,
    auth.chunkSigning,
  );
  if (payload.mode === 'plain' && payload.outboundLength === undefined && DATA_UPLOADS.has(operation)) {
    throw new S3Error('MissingContentLength');
  }
  const small = payload.mode === 'plain' && payload.digests !== undefined && payload.outboundLength !== undefined && payload.outboundLength <= SMALL_BODY;

  const out: Record<string, string | null> = { 'content-encoding': payload.contentEncoding ?? null };
  if (!profile.checksums.checksumMode) out['x-amz-checksum-mode'] = null;
  const accepted = acceptedAlgorithms(profile);
  let declared: Record<string, string> | undefined;
  for (const name in headers) {
    const alg = algorithmOfHeader(name);
    if (!alg) continue;
    // Verified here already; pass on only what the provider understands.
    if (!accepted.has(alg)) out[name] = null;
    const v = joined(headers[name]);
    if (v !== undefined && DATA_UPLOADS.has(operation)) (declared ??= {})[`x-amz-checksum-${alg}`] = v.trim();
  }
  if (payload.mode !== 'plain') {
    // The trailer's checksum is only known at the end, too late for a header: the provider is
    // not told to expect one.
    out['x-amz-sdk-checksum-algorithm'] = null;
  } else {
    const sdkAlg = joined(headers['x-amz-sdk-checksum-algorithm'])?.toLowerCase();
    if (sdkAlg && !accepted.has(sdkAlg)) out['x-amz-sdk-checksum-algorithm'] = null;
  }
  const body = new ClientBody(req, payload, ctx, out, small);
  if (declared !== undefined) body.declaredChecksums = declared;
  // The object's checksum dropped: its type goes with it.
  if (operation === 'CompleteMultipartUpload' && Object.keys(out).some((k) => algorithmOfHeader(k))) {
    out['x-amz-checksum-type'] = null;
  }
  if (operation === 'CreateMultipartUpload') {
    // Parts will reach the provider without checksums it does not know: it must not expect them.
    const alg = joined(headers['x-amz-checksum-algorithm'])?.toLowerCase();
    if (alg && !accepted.has(alg)) {
      out['x-amz-checksum-algorithm'] = null;
      out['x-amz-checksum-type'] = null;
    }
  }
  return body;
}

function withoutChecksums(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const k in headers) if (!algorithmOfHeader(k)) out[k] = headers[k];
  return out;
}

/**
 * A client's body, wired to its socket on first use: streamed through payload/ (`stream`), or
 * read whole when small (`collect`). Nothing listens to `req` until then, so no chunk can flow
 * past unread. A class, not an object literal with a getter: V8 puts a literal's getter and
 * setter in an AccessorPair it always allocates in the old generation, which then held this
 * request's closures, and so the whole request, until the next major GC. That promoted 1.3 MiB
 * per scavenge at 4 KiB PUTs (c=64) and cost a PUT 13–20% more CPU (docs/performance.md;
 * test/listen/body-objects.test.ts keeps getters out of object literals).
 */
class ClientBody implements InboundBody {
  length?: number;
  collect?: (sink: BodySink) => void;
  trailerChecksums?: () => Record<string, string>;
  declaredChecksums?: Record<string, string>;
  private piped = false;
  private replaced: Readable | undefined;

  constructor(
    private readonly req: IncomingMessage, private readonly payload: InboundPayload,
    private readonly ctx: { bytesIn: number }, readonly headers: Record<string, string | null>, small: boolean,
  ) {
    if (payload.outboundLength !== undefined) this.length = payload.outboundLength;
    // No function literal is assigned straight to a property here (`this.x = () => ...`): V8's
    // parser marks such a literal for the old generation, and the closure, dead once the request
    // ended, then kept what it captured (the request, its socket state, this body) alive through
    // every scavenge until the next major GC. That promoted 1.1 KiB per 4 KiB PUT against 0.1 for
    // a GET, with a mark-compact every 4,000 PUTs (docs/performance.md, `node bench/alloc.mjs`).
    // A closure held in a local first is young like any other.
    if (payload.mode === 'signed-trailer' || payload.mode === 'unsigned-trailer') {
      const trailers = () => payload.trailerChecksums();
      this.trailerChecksums = trailers;
    }
    // The prototype's method, so no closure at all per request; called as `body.collect(sink)`.
    if (small) this.collect = this.collectVerified;
  }

  /**
   * A small plain body off the socket, then every claim about it checked in one pass; its bytes
   * are counted as they arrive (access log, metrics, streaming memory) by the same listener.
   * The sink is told from the request's own 'end' (or 'close'), with no promise between: the
   * request goes on to its provider from there, as the undici floor sends it (docs/performance.md,
   * "Session 11: tail"). `on`, not `once`: the sink is told once either way, and each `once` made
   * two objects more.
   */
  private collectVerified(sink: BodySink): void {
    const { req, ctx, headers } = this;
    const digests = this.payload.digests!;
    const limit = this.length!;
    // A small body is usually one chunk: the list is made at the second (a push into an empty
    // array grows it to 17 slots, 152 B).
    let first: Buffer | undefined;
    let parts: Buffer[] | undefined;
    let n = 0;
    let told = false;
    req.on('data', (c: Buffer) => {
      n += c.length;
      ctx.bytesIn += c.length;
      bodyBytes(c.length);
      if (told) return;
      if (n > limit) {
        told = true;
        req.destroy();
        return sink.fail(new S3Error('IncompleteBody'));
      }
      if (first === undefined) first = c;
      else if (parts === undefined) parts = [first, c];
      else parts.push(c);
    });
    req.on('end', () => {
      if (told) return;
      told = true;
      const buf = parts !== undefined ? Buffer.concat(parts, n) : first ?? Buffer.alloc(0);
      let whole: WholeBody;
      try {
        digests.whole(buf);
        whole = new WholeBody(buf, headers);
      } catch (e) {
        return sink.fail(e);
      }
      sink.body(whole);
    });
    // No 'error' listener: Node's IncomingMessage emits its hang-up error ('aborted') only to
    // one, and 'close' sees the body end short anyway: one listener fewer per PUT, and a client
    // gone mid-body is the IncompleteBody it is, not an internal error of the gateway.
    req.on('close', () => {
      if (told || req.complete) return;
      told = true;
      sink.fail(new S3Error('IncompleteBody'));
    });
  }

  /** Counts the body's bytes as they arrive (access log, metrics, streaming memory). */
  private count(): void {
    const ctx = this.ctx;
    this.req.on('data', (c: Buffer) => {
      ctx.bytesIn += c.length;
      bodyBytes(c.length);
    });
  }

  get stream(): Readable {
    if (this.replaced) return this.replaced;
    const target = this.payload.body;
    if (!this.piped) {
      this.piped = true;
      this.count();
      // Errors surface through payload.body, which undici reads: a failed check aborts the upstream
      // request, and so does a client that goes away mid-body. (A plain pipe: stream.pipeline cost
      // a DOMException per request here, 4% of a small PUT's CPU.)
      const req = this.req;
      req.on('error', (e) => target.destroy(e));
      req.on('close', () => {
        if (!req.complete) target.destroy(new S3Error('IncompleteBody'));
      });
      req.pipe(target);
    }
    return target;
  }

  set stream(s: Readable) {
    this.replaced = s;
  }
}

// Bodies s3gate must see whole before sending, with S3's own maxima and room for the SDKs'
// whitespace and checksums: CompleteMultipartUpload lists up to 10,000 parts (about 100 bytes
// each, up to 200 with a SHA-256 checksum); DeleteObjects up to 1,000 keys of up to 1,024 bytes.
// Anything else read whole is a small configuration document.
export const WHOLE_BODY_LIMITS: Readonly<Record<string, number>> = {
  CompleteMultipartUpload: 2 * 1024 * 1024,
  DeleteObjects: 2 * 1024 * 1024,
};
const OTHER_WHOLE_BODY_LIMIT = 256 * 1024;

export function wholeBodyLimit(operation: string): number {
  return WHOLE_BODY_LIMITS[operation] ?? OTHER_WHOLE_BODY_LIMIT;
}

/** Who holds the memory of a whole body, and until when. */
export interface WholeBodyAdmission {
  budget: BodyBudget;
  /** the access key id, or 'anonymous' */
  owner: string;
  /** the memory is given back when this emits 'close' (the exchange is over) */
  until: { once(event: 'close', f: () => void): unknown };
}

const CHECKSUM_ELEMENTS: Record<string, string> = {
  crc32: 'ChecksumCRC32', crc32c: 'ChecksumCRC32C', crc64nvme: 'ChecksumCRC64NVME', sha1: 'ChecksumSHA1', sha256: 'ChecksumSHA256',
};

export function needsWholeBody(operation: string, profile: ProviderProfile, headers: Record<string, string | string[] | undefined>): boolean {
  // DeleteObjects: authorize/ checks every key it names before anything is forwarded.
  // CreateBucket: its location names the client's region, which route/location.ts names anew.
  if (operation === 'CompleteMultipartUpload' || operation === 'DeleteObjects' || operation === 'CreateBucket') return true;
  return profile.checksums.contentMd5Required.includes(operation) && headers['content-md5'] === undefined;
}

/** Reads a small verified body whole and adapts it to the provider: Content-MD5, part checksums. */
export async function wholeBody(body: InboundBody, operation: string, profile: ProviderProfile, admission?: WholeBodyAdmission): Promise<InboundBody & { sha256?: string }> {
  const limit = wholeBodyLimit(operation);
  // Refused on what it declares, before a byte is read or a byte of memory promised.
  if (body.length !== undefined && body.length > limit) throw new S3Error('MaxMessageLengthExceeded');
  if (admission) {
    const release = admission.budget.reserve(admission.owner, body.length ?? limit);
    if (!release) throw new S3Error('SlowDown', 'Too many request bodies held for this key at once; retry.');
    admission.until.once('close', release);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body.stream) {
    n += (c as Buffer).length;
    if (n > limit) throw new S3Error('MaxMessageLengthExceeded');
    parts.push(c as Buffer);
  }
  let buf = Buffer.concat(parts);
  let rewritten = false;
  const headers = { ...body.headers };
  if (operation === 'CompleteMultipartUpload') {
    const accepted = new Set(profile.checksums.headerAlgorithms);
    let xml = buf.toString('utf8');
    for (const [alg, el] of Object.entries(CHECKSUM_ELEMENTS)) {
      if (!accepted.has(alg)) xml = xml.replace(new RegExp(`<${el}>[^<]*</${el}>`, 'g'), '');
    }
    const changed = Buffer.from(xml, 'utf8');
    if (!changed.equals(buf)) {
      buf = changed;
      headers['content-md5'] = null;
      rewritten = true;
    }
  }
  if (profile.checksums.contentMd5Required.includes(operation)) {
    headers['content-md5'] = createHash('md5').update(buf).digest('base64');
  }
  const whole = new WholeBody(buf, headers);
  // The client's payload hash was of the body it sent: the provider is told the one it gets.
  if (rewritten) whole.sha256 = createHash('sha256').update(buf).digest('hex');
  return whole;
}

/**
 * Bodies up to this size are read whole (and verified) before the provider request starts:
 * one buffer is far cheaper to send than a chain of streams (docs/performance.md), and
 * the provider sees nothing until everything verified. Larger bodies stream.
 */
export const SMALL_BODY = 64 * 1024;

/** A small body read whole, as a promise (the pipeline has collect() tell it directly). */
export function readSmall(body: InboundBody): Promise<InboundBody> {
  if (body.length === undefined || body.length > SMALL_BODY || body.buffer) return Promise.resolve(body);
  const collect = body.collect;
  if (!collect) return readStreamed(body);
  return new Promise((resolve, reject) => collect.call(body, { body: resolve, fail: reject }));
}

async function readStreamed(body: InboundBody): Promise<InboundBody> {
  const parts: Buffer[] = [];
  for await (const c of body.stream) parts.push(c as Buffer);
  const whole = new WholeBody(parts.length === 1 ? parts[0]! : Buffer.concat(parts), body.headers);
  if (body.trailerChecksums) whole.trailerChecksums = body.trailerChecksums;
  return whole;
}

/** A body read whole: the buffer is what gets sent; a stream of it is made only if asked for. */
class WholeBody implements InboundBody {
  readonly length: number;
  trailerChecksums?: () => Record<string, string>;
  /** a body s3gate rewrote (part checksums the provider does not know): its payload hash */
  sha256?: string;
  private made?: Readable;

  constructor(readonly buffer: Buffer, readonly headers: Record<string, string | null>) {
    this.length = buffer.length;
  }

  get stream(): Readable {
    return (this.made ??= Readable.from([this.buffer]));
  }
}
