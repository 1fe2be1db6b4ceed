// The access line, one per request, built by hand: it is the only log line on the hot path, and
// pino's generic serializer cost 13–20 µs of CPU per request in place (a third of what s3gate adds
// to a 4 KiB GET; docs/performance.md). The line is exactly what `log.info(fields, 'request')`
// would write, and goes into the logger's own stream, so it keeps its place among pino's lines.
import { symbols, type Logger } from 'pino';

export interface AccessFields {
  reqId: string;
  key?: string | undefined;
  auth?: string | undefined;
  /** a temporary key's role and RoleSessionName (src/sts/) */
  role?: string | undefined;
  session?: string | undefined;
  op?: string | undefined;
  method?: string | undefined;
  bucket?: string | undefined;
  status: number;
  error?: string | undefined;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  upstream?: string | undefined;
  /** the access key id a request that failed authentication named (never its secret or signature) */
  triedKey?: string | undefined;
  /** the provider's request id on an error it answered: the body carries s3gate's */
  upstreamId?: string | undefined;
  /** the S3 error code of an error the provider answered (`error` is for s3gate's own refusals) */
  upstreamError?: string | undefined;
  /**
   * The answer did not end whole: `shutdown` when the shutdown deadline closed its connection,
   * `connection` when its connection closed mid-body otherwise (the client went away, the
   * provider's stream broke). `status` is then what was sent, and `bytesOut` what got out.
   */
  cut?: string | undefined;
  /**
   * The logger's own bindings as pino keeps them, already JSON with a leading comma
   * (`,"worker":1` in a worker): written after "time", where pino writes them.
   */
  bindings?: string | undefined;
}

const INFO = 30;

/**
 * The line pino writes for `info(fields, 'request')` with no base fields, newline included: what
 * JSON.stringify writes for the fields in pino's order, fields left undefined left out (as pino
 * leaves them out).
 */
export function accessLine(f: AccessFields, time: number): string {
  let buf = lineScratch;
  const most = accessLineMost(f);
  if (most > buf.length) buf = Buffer.allocUnsafe(most);
  return buf.toString('utf8', 0, encodeAccessLine(buf, 0, f, time));
}
let lineScratch = Buffer.allocUnsafe(4096);

// The line is encoded byte by byte straight into the log's batch: JSON.stringify of a flat object
// (10.5 k instructions per request under callgrind, its two doubles through V8's FastDtoa) and then
// the UTF-8 encoding of its result cost more than this loop over the same characters. Text that
// JSON escapes, or that is not ASCII, is rare here (a client's key id, bucket); such a value is
// JSON.stringify'd alone and encoded by Buffer#write, so escaping stays V8's own.

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEAD = bytes('{"level":30,"time":');
const REQ_ID = bytes(',"reqId":');
const KEY = bytes(',"key":');
const AUTH = bytes(',"auth":');
const ROLE = bytes(',"role":');
const SESSION = bytes(',"session":');
const TRIED_KEY = bytes(',"triedKey":');
const OP = bytes(',"op":');
const METHOD = bytes(',"method":');
const BUCKET = bytes(',"bucket":');
const STATUS = bytes(',"status":');
const ERROR = bytes(',"error":');
const BYTES_IN = bytes(',"bytesIn":');
const BYTES_OUT = bytes(',"bytesOut":');
const MS = bytes(',"ms":');
const UPSTREAM = bytes(',"upstream":');
const UPSTREAM_ID = bytes(',"upstreamId":');
const UPSTREAM_ERROR = bytes(',"upstreamError":');
const CUT = bytes(',"cut":');
const TAIL = bytes(',"msg":"request"}\n');
// Keys, punctuation, numbers and the tail: under 400 bytes.
const FIXED_MOST = 512;

/** The most bytes encodeAccessLine can write for `f`: a UTF-16 unit is at most 6 bytes as JSON (\u001f) and 3 as UTF-8. */
export function accessLineMost(f: AccessFields): number {
  return FIXED_MOST + 3 * len(f.bindings) + 6 * (len(f.reqId) + len(f.key) + len(f.auth) + len(f.role) + len(f.session) + len(f.triedKey) + len(f.op)
    + len(f.method) + len(f.bucket) + len(f.error) + len(f.upstream) + len(f.upstreamId) + len(f.upstreamError) + len(f.cut));
}
const len = (s: string | undefined) => (typeof s === 'string' ? s.length : 0);

/** The access line, newline included, encoded as UTF-8 into `buf` from `at`, which has accessLineMost(f) bytes free; returns where it ends. */
export function encodeAccessLine(buf: Buffer, at: number, f: AccessFields, time: number): number {
  let p = putBytes(buf, at, HEAD);
  p = putNumber(buf, p, time);
  if (f.bindings) p = putBindings(buf, p, f.bindings);
  p = putString(buf, putBytes(buf, p, REQ_ID), f.reqId);
  p = putWho(buf, p, f);
  p = putNumber(buf, putBytes(buf, p, BYTES_IN), f.bytesIn);
  p = putNumber(buf, putBytes(buf, p, BYTES_OUT), f.bytesOut);
  p = putNumber(buf, putBytes(buf, p, MS), f.ms);
  return putWhere(buf, p, f);
}

// From "key" to "error", and from "upstream" to the end, a line is usually the one before it
// (the same key, operation, bucket and status; the same upstream): each part's bytes are kept
// with the values they were made of, and copied while those stay (compared by ===: the same
// strings, or equal ones). Encoded again, character by character, when any differs.
const PART_MOST = 512;
let who: Uint8Array | undefined;
let whoKey: string | undefined, whoAuth: string | undefined, whoRole: string | undefined, whoSession: string | undefined;
let whoTried: string | undefined, whoOp: string | undefined, whoMethod: string | undefined, whoBucket: string | undefined;
let whoStatus = -1;
let whoError: string | undefined;

function putWho(buf: Buffer, at: number, f: AccessFields): number {
  if (who !== undefined && f.key === whoKey && f.auth === whoAuth && f.role === whoRole && f.session === whoSession && f.triedKey === whoTried
    && f.op === whoOp && f.method === whoMethod && f.bucket === whoBucket && f.status === whoStatus && f.error === whoError) {
    buf.set(who, at);
    return at + who.length;
  }
  let p = at;
  if (f.key !== undefined) p = putString(buf, putBytes(buf, p, KEY), f.key);
  if (f.auth !== undefined) p = putString(buf, putBytes(buf, p, AUTH), f.auth);
  if (f.role !== undefined) p = putString(buf, putBytes(buf, p, ROLE), f.role);
  if (f.session !== undefined) p = putString(buf, putBytes(buf, p, SESSION), f.session);
  if (f.triedKey !== undefined) p = putString(buf, putBytes(buf, p, TRIED_KEY), f.triedKey);
  if (f.op !== undefined) p = putString(buf, putBytes(buf, p, OP), f.op);
  if (f.method !== undefined) p = putString(buf, putBytes(buf, p, METHOD), f.method);
  if (f.bucket !== undefined) p = putString(buf, putBytes(buf, p, BUCKET), f.bucket);
  p = putNumber(buf, putBytes(buf, p, STATUS), f.status);
  if (f.error !== undefined) p = putString(buf, putBytes(buf, p, ERROR), f.error);
  if (p - at <= PART_MOST) {
    who = Uint8Array.prototype.slice.call(buf, at, p);
    whoKey = f.key; whoAuth = f.auth; whoRole = f.role; whoSession = f.session; whoTried = f.triedKey;
    whoOp = f.op; whoMethod = f.method; whoBucket = f.bucket; whoStatus = f.status; whoError = f.error;
  } else {
    who = undefined;
  }
  return p;
}

let where: Uint8Array | undefined;
let whereUpstream: string | undefined, whereId: string | undefined, whereError: string | undefined, whereCut: string | undefined;

function putWhere(buf: Buffer, at: number, f: AccessFields): number {
  if (where !== undefined && f.upstream === whereUpstream && f.upstreamId === whereId && f.upstreamError === whereError && f.cut === whereCut) {
    buf.set(where, at);
    return at + where.length;
  }
  let p = at;
  if (f.upstream !== undefined) p = putString(buf, putBytes(buf, p, UPSTREAM), f.upstream);
  if (f.upstreamId !== undefined) p = putString(buf, putBytes(buf, p, UPSTREAM_ID), f.upstreamId);
  if (f.upstreamError !== undefined) p = putString(buf, putBytes(buf, p, UPSTREAM_ERROR), f.upstreamError);
  if (f.cut !== undefined) p = putString(buf, putBytes(buf, p, CUT), f.cut);
  p = putBytes(buf, p, TAIL);
  if (p - at <= PART_MOST) {
    where = Uint8Array.prototype.slice.call(buf, at, p);
    whereUpstream = f.upstream;
    whereId = f.upstreamId;
    whereError = f.upstreamError;
    whereCut = f.cut;
  } else {
    where = undefined;
  }
  return p;
}

// A process has one logger, so its bindings are one string: encoded once.
let bound: Uint8Array | undefined;
let boundText: string | undefined;

function putBindings(buf: Buffer, p: number, text: string): number {
  if (text !== boundText) {
    bound = Buffer.from(text, 'utf8');
    boundText = text;
  }
  buf.set(bound!, p);
  return p + bound!.length;
}

function putBytes(buf: Buffer, p: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) buf[p + i] = b[i]!;
  return p + b.length;
}

/** A JSON string: printable ASCII but '"' and '\\' as it is, anything else as JSON.stringify and Buffer#write make it. */
function putString(buf: Buffer, at: number, s: string): number {
  buf[at] = 0x22;
  const n = s.length;
  let p = at + 1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return putJson(buf, at, JSON.stringify(s));
    buf[p++] = c;
  }
  buf[p] = 0x22;
  return p + 1;
}

function putJson(buf: Buffer, at: number, json: string): number {
  return at + buf.write(json, at, 'utf8');
}

/**
 * A number as JSON.stringify writes it: integers and values of two decimals (the `ms` field)
 * digit by digit; anything else (negative, more decimals, NaN) through JSON.stringify.
 */
function putNumber(buf: Buffer, p: number, n: number): number {
  if (n >= 0 && n <= MAX_SAFE) {
    if (Math.floor(n) === n) return putUint(buf, p, n);
    // JSON.stringify writes the shortest decimal that reads back as n; below 1e9 one with two
    // decimals that reads back as n is that one (doubles there are closer than 0.01 apart).
    const c = Math.round(n * 100);
    if (n < 1e9 && c / 100 === n) {
      const whole = Math.floor(c / 100);
      const frac = c - whole * 100;
      p = putUint(buf, p, whole);
      buf[p++] = 0x2e;
      const tens = Math.floor(frac / 10);
      buf[p++] = 0x30 + tens;
      if (frac !== tens * 10) buf[p++] = 0x30 + frac - tens * 10;
      return p;
    }
  }
  return putJson(buf, p, JSON.stringify(n));
}
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A safe non-negative integer's digits. */
function putUint(buf: Buffer, p: number, n: number): number {
  if (n < 0x80000000) return putInt32(buf, p, n | 0);
  // Int32 arithmetic only: the part above nine digits, then those nine padded.
  const hi = Math.floor(n / 1e9);
  p = putInt32(buf, p, hi | 0);
  let lo = (n - hi * 1e9) | 0;
  for (let i = p + 8; i >= p; i--) {
    const q = (lo / 10) | 0;
    buf[i] = 0x30 + lo - q * 10;
    lo = q;
  }
  return p + 9;
}

function putInt32(buf: Buffer, p: number, n: number): number {
  let end = p + 1;
  for (let x = n; x >= 10; x = (x / 10) | 0) end++;
  for (let i = end - 1; i >= p; i--) {
    const q = (n / 10) | 0;
    buf[i] = 0x30 + n - q * 10;
    n = q;
  }
  return end;
}

// The access key id is the part of the credential before the first '/' (SigV4), or the id before
// ':' (SigV2 header), or a query parameter: enough to name it without keeping anything secret.
const V4_HEADER = /Credential=([^/,\s]{1,128})\//;
const V2_HEADER = /^AWS ([^:\s]{1,128}):/;
const V4_QUERY = /(?:^|&)X-Amz-Credential=([^&%/]{1,128})(?:%2F|\/)/i;
const V2_QUERY = /(?:^|&)AWSAccessKeyId=([^&]{1,128})/;

/** The access key id a request claims, for the log line of a request that failed authentication. */
export function claimedAccessKeyId(authorization: string | undefined, rawQuery: string): string | undefined {
  const m = (authorization !== undefined ? V4_HEADER.exec(authorization) ?? V2_HEADER.exec(authorization) : null) ??
    V4_QUERY.exec(rawQuery) ?? V2_QUERY.exec(rawQuery);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
}

interface LineStream {
  write(line: string): unknown;
  /** log.ts's batches: `most` bytes made room for, and the line encoded into them */
  writeEncoded?(most: number, encode: (buf: Buffer, at: number, f: AccessFields, time: number) => number, f: AccessFields, time: number): unknown;
}

/** Writes the access line where `log` writes, when `log` is at info or below. */
export function writeAccess(log: Logger, f: AccessFields): void {
  if (log.levelVal > INFO) return;
  const own = log as unknown as Record<symbol, unknown>;
  const stream = own[symbols.streamSym] as LineStream;
  // A child logger's fields ({worker: N} in a worker), as its other lines carry them.
  const bindings = own[symbols.chindingsSym] as string | undefined;
  if (bindings) f.bindings = bindings;
  if (stream.writeEncoded) stream.writeEncoded(accessLineMost(f), encodeAccessLine, f, Date.now());
  else stream.write(accessLine(f, Date.now()));
}
