// AWS Signature Version 4 as S3 computes it, as pure functions, used both ways: authenticate/
// recomputes what a client signed, and resign/ signs the outbound request with the same code
// (signV4; @smithy/signature-v4 cost more per request, docs/performance.md, and now only checks
// this signer in the tests). Written here rather than borrowed because a verifier needs the
// intermediate values (canonical request, string-to-sign) for S3's SignatureDoesNotMatch document.
import { createHmac, hash } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
const ALGORITHM_LINE = ALGORITHM + '\n';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const PLAIN = /^[A-Za-z0-9\-._~]*$/;
const PLAIN_PATH = /^[A-Za-z0-9\-._~/]*$/;
const SUBDELIMS = /[!'()*]/g;
const HAS_SUBDELIMS = /[!'()*]/;

function slowEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const ch of s) {
    if (UNRESERVED.test(ch) || (keepSlash && ch === '/')) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

/** AWS's URI encoding: every byte but the unreserved set is %XX (uppercase); '/' kept when asked. */
export function uriEncode(s: string, keepSlash: boolean): string {
  // Hot path: most keys and query values need no escaping at all.
  if ((keepSlash ? PLAIN_PATH : PLAIN).test(s)) return s;
  let out: string;
  try {
    // encodeURIComponent escapes all but the unreserved set and !'()*, in uppercase hex.
    out = encodeURIComponent(s);
  } catch {
    return slowEncode(s, keepSlash); // lone surrogates
  }
  if (HAS_SUBDELIMS.test(out)) out = out.replace(SUBDELIMS, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash && out.includes('%2F') ? out.replace(/%2F/g, '/') : out;
}

/** Percent-decoding that never throws: malformed escapes stay as they are, like S3 does. */
export function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
      const code = parseInt(h, 16);
      return code < 0x80 ? String.fromCharCode(code) : m;
    });
  }
}

// The names a presigned URL carries, and the SDKs' x-id. parseQuery hands back these very strings
// for them rather than a slice of the query: a string literal is internalized, so its hash is
// computed already and comparing it with the same literal is one pointer comparison. A slice of 13
// or more characters is a SlicedString, which every Map or Set lookup hashed afresh and which every
// comparison (=== in authenticate/, the lower-case table in authorize/view.ts) took through V8's
// runtime. The name is the same text either way. Found with one sticky expression (about 45 ns a
// name here; startsWith against each candidate of the name's length cost 140, which V8 compiles
// into a loop over the characters), then told apart by length and, for two pairs of one length,
// by their seventh character.
const KNOWN_NAME = /(?:X-Amz-(?:Algorithm|Content-Sha256|Credential|Date|Expires|Signature|SignedHeaders|Security-Token)|x-id)=/y;

/** The literal raw[at, eq) is, when it is one of KNOWN_NAME's and raw[eq] is '='. */
function knownNameAt(raw: string, at: number, eq: number): string | undefined {
  // by length first: a name of no known length costs no call of the expression
  const name = knownNameOfLength(raw, at, eq - at);
  if (name === undefined) return undefined;
  KNOWN_NAME.lastIndex = at;
  return KNOWN_NAME.test(raw) ? name : undefined;
}

/** The one of KNOWN_NAME's literals that raw[at, at + length) can be, told by length and, for two of one length, by their seventh character. */
function knownNameOfLength(raw: string, at: number, length: number): string | undefined {
  switch (length) {
    case 4: return 'x-id';
    case 10: return 'X-Amz-Date';
    case 13: return 'X-Amz-Expires';
    case 15: return raw.charCodeAt(at + 6) === 0x41 /* A */ ? 'X-Amz-Algorithm' : 'X-Amz-Signature';
    case 16: return 'X-Amz-Credential';
    case 19: return 'X-Amz-SignedHeaders';
    case 20: return raw.charCodeAt(at + 6) === 0x43 /* C */ ? 'X-Amz-Content-Sha256' : 'X-Amz-Security-Token';
    default: return undefined;
  }
}

/** raw.slice(at, eq), or the same text as a literal when it is one of KNOWN_NAME's. */
function nameAt(raw: string, at: number, eq: number): string {
  return knownNameAt(raw, at, eq) ?? raw.slice(at, eq);
}

/**
 * Raw query string → decoded [name, value] pairs, in wire order. A '+' is a space, as S3 reads a
 * query (a literal plus is %2B): the AWS SDK for Java v1 and fog-aws (excon's CGI.escape) send a
 * space as '+' and sign it as %20, and S3, RGW and MinIO answer them; SigV2's own reading of the
 * query (URLSearchParams) always did. In a path, '+' stays a plus.
 */
export function parseQuery(raw: string): [string, string][] {
  return readQuery(formSpaces(raw), false, undefined);
}

/** '+' as the %20 it stands for in a query: then the query reads (and canonicalises) as S3 reads it. */
function formSpaces(raw: string): string {
  return raw.indexOf('+') < 0 ? raw : raw.replace(/\+/g, '%20');
}

/** What one read of a presigned URL's query gives: its pairs and its canonical query. */
export interface PresignedQuery {
  /** parseQuery(raw) */
  pairs: [string, string][];
  /** canonicalQuery(pairs, exclude) */
  canonical: string;
}

/**
 * parseQuery(raw) and the canonical query without `exclude` (a presigned URL's signature), from
 * one scan: the names and the '&' and '=' found once serve both, and the values of a query in
 * canonical form already are decoded without decodeURIComponent.
 */
export function parsePresignedQuery(raw: string, exclude: string): PresignedQuery {
  const pairs = readQuery(formSpaces(raw), true, exclude);
  return { pairs, canonical: readCanonical ?? canonicalQuery(pairs, exclude) };
}

const byNameThenValue = (a: [string, string], b: [string, string]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;

/** The canonical query string: names and values URI-encoded, sorted by name then value. */
export function canonicalQuery(pairs: [string, string][], exclude?: string): string {
  return canonicalQueryInOrder(pairs, exclude) ?? sortedCanonicalQuery(pairs, exclude);
}

/**
 * canonicalQuery(pairs, exclude) when the pairs are in canonical order already, undefined
 * otherwise. Without `exclude` that string is also the query for the wire in the pairs' order
 * (resign's queryString), so the outbound signer encodes its query once for both.
 */
export function canonicalQueryInOrder(pairs: [string, string][], exclude?: string): string | undefined {
  // Presigners send their parameters already in canonical order: the string is built straight
  // from the encoded pairs, with no array per pair and no sort (V8's sort copies the array
  // even when it is in order). Only a pair out of order makes the sorted copy.
  let out = '';
  let lastN = '';
  let lastV = '';
  let first = true;
  for (const [n, v] of pairs) {
    if (n === exclude) continue;
    const en = uriEncode(n, false);
    const ev = uriEncode(v, false);
    if (!first && (lastN > en || (lastN === en && lastV > ev))) return undefined;
    out += first ? en + '=' + ev : '&' + en + '=' + ev;
    first = false;
    lastN = en;
    lastV = ev;
  }
  return out;
}

function sortedCanonicalQuery(pairs: [string, string][], exclude?: string): string {
  const enc: [string, string][] = [];
  for (const [n, v] of pairs) if (n !== exclude) enc.push([uriEncode(n, false), uriEncode(v, false)]);
  enc.sort(byNameThenValue);
  let out = '';
  for (let i = 0; i < enc.length; i++) out += (i ? '&' : '') + enc[i]![0] + '=' + enc[i]![1];
  return out;
}

// A query already in canonical form: parts name=value of unreserved characters and uppercase
// %XX escapes of ASCII characters outside that set (which decode and re-encode to themselves; an
// escape of an unreserved character would re-encode as the character itself), no empty part
// and no empty name (both refused by the scan below). Checked part by part, one sticky expression
// each, written unrolled (runs of unreserved characters between escapes) so that each input has
// one way to match and a failing one backtracks linearly; `(?:[unreserved]+|escape)*` would be
// exponential. KNOWN_PART is one of KNOWN_NAME's names and a value of canonical form: for a
// presigned URL's parameters the one call both finds the name and checks the part (one
// expression over the whole query and another per name read every name twice).
const UNRESERVED_RUN = '[A-Za-z0-9\\-._~]*';
const CANONICAL_TEXT = `${UNRESERVED_RUN}(?:%(?:[01][0-9A-F]|2[0-9A-CF]|3[A-F]|40|5[B-E]|60|7[B-DF])${UNRESERVED_RUN})*`;
// what follows a part: '&' or the end
const PART_END = '(?![^&])';
const CANONICAL_PART = new RegExp(`${CANONICAL_TEXT}=${CANONICAL_TEXT}${PART_END}`, 'y');
const KNOWN_PART = new RegExp(`${KNOWN_NAME.source.slice(0, -1)}=${CANONICAL_TEXT}${PART_END}`, 'y');

/** Whether the part of raw at `at` is name=value in canonical form (the name possibly empty). */
function canonicalPartAt(raw: string, at: number): boolean {
  CANONICAL_PART.lastIndex = at;
  return CANONICAL_PART.test(raw);
}

/** Whether the part of raw at `at` is one of KNOWN_NAME's names, '=' and a value in canonical form. */
function knownPartAt(raw: string, at: number): boolean {
  KNOWN_PART.lastIndex = at;
  return KNOWN_PART.test(raw);
}

const AMP = 0x26;

/** Which of KNOWN_NAME's names raw has at `at`, where KNOWN_PART has just matched: told by a few characters. */
function knownLiteralAt(raw: string, at: number): string {
  if (raw.charCodeAt(at) === 0x78 /* x */) return 'x-id';
  switch (raw.charCodeAt(at + 6)) {
    case 0x41 /* A */: return 'X-Amz-Algorithm';
    case 0x43 /* C */: return raw.charCodeAt(at + 7) === 0x6f /* o */ ? 'X-Amz-Content-Sha256' : 'X-Amz-Credential';
    case 0x44 /* D */: return 'X-Amz-Date';
    case 0x45 /* E */: return 'X-Amz-Expires';
    // S: Security-Token, Signature, SignedHeaders
    default: return raw.charCodeAt(at + 7) === 0x65 /* e */ ? 'X-Amz-Security-Token' : raw.charCodeAt(at + 10) === 0x61 /* a */ ? 'X-Amz-Signature' : 'X-Amz-SignedHeaders';
  }
}

/** s[a0, a1) against s[b0, b1), as the < of their strings compares them. */
function compareRanges(s: string, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(a0 + k) - s.charCodeAt(b0 + k);
    if (d !== 0) return d;
  }
  return (a1 - a0) - (b1 - b0);
}

// The excluded name is a constant of the caller's ('X-Amz-Signature'): encoded once, not per request.
let lastExclude = '';
let lastExcludeRaw = '';
function encodeExclude(exclude: string): string {
  lastExcludeRaw = uriEncode(exclude, false);
  lastExclude = exclude;
  return lastExcludeRaw;
}

/**
 * The canonical query straight from the raw query string, when the client sent it canonical
 * already: every part name=value in canonical encoding, in canonical order once the excluded
 * parameter (a presigned URL's signature) is taken out, wherever it stands. That is what the
 * SDKs' presigned URLs are (they sort X-Amz-Signature before X-Amz-SignedHeaders), and it spares
 * decoding and re-encoding every parameter (a quarter of a presigned verification in the fifth
 * round's profile). undefined whenever anything differs: canonicalQuery(parseQuery(raw), exclude)
 * then decides, and the two always agree (test/signing/canonical-query.test.ts).
 */
export function canonicalQueryFromRaw(raw: string, exclude?: string): string | undefined {
  readQuery(formSpaces(raw), true, exclude);
  return readCanonical;
}

// readQuery's second answer, when asked for: canonicalQueryFromRaw(raw, exclude).
let readCanonical: string | undefined;

/**
 * parseQuery(raw); with `canonical`, also canonicalQueryFromRaw(raw, exclude) into readCanonical.
 * One scan: a split array and a string per part were made per request before, and the two
 * answers were two scans (the second found the names again, one regular expression per name).
 * When the canonical query is asked for, a part with one of the known names is read by
 * KNOWN_PART alone, which gives its end (no indexOf for its '&' and '='); other parts are found
 * with indexOf. The next '%' is looked up only when the scan passes it, and a name or value
 * before it is the slice itself.
 */
function readQuery(raw: string, canonical: boolean, exclude: string | undefined): [string, string][] {
  const out: [string, string][] = [];
  // Whether the query is in canonical form up to the part read: each part is checked as it is
  // read (a trailing '&' leaves an empty part, which the scan does not visit).
  let canon = canonical && (raw.length === 0 || raw.charCodeAt(raw.length - 1) !== AMP);
  readCanonical = undefined;
  // A name that passes the expression is the canonical encoding of its decoded self, so it
  // names the excluded parameter exactly when it is the excluded name's encoding.
  const excludeRaw = exclude === undefined ? undefined : exclude === lastExclude ? lastExcludeRaw : encodeExclude(exclude);
  let text = '';
  // start of the current run of kept parts, -1 when none is open
  let run = -1;
  // the last kept part: name [prevAt, prevEq), value (prevEq, prevEnd); prevAt < 0 before any
  let prevAt = -1;
  let prevEq = 0;
  let prevEnd = 0;
  // the last kept part's name when it is one of KNOWN_NAME's: two of those are ordered by the
  // literals themselves, not character by character over the query (a SlicedString, whose every
  // charCodeAt goes through its parent)
  let prevKnown: string | undefined;
  let pct = raw.indexOf('%');
  for (let at = 0; at < raw.length;) {
    let end: number;
    let eq: number;
    let known: string | undefined;
    let escaped = false;
    if (canon && knownPartAt(raw, at)) {
      // the expression found the part's end, and its name is one of the literals
      end = KNOWN_PART.lastIndex;
      known = knownLiteralAt(raw, at);
      eq = at + known.length;
    } else {
      end = raw.indexOf('&', at);
      if (end < 0) end = raw.length;
      if (end === at) {
        canon = false;
        at = end + 1;
        if (pct >= 0 && pct < at) pct = raw.indexOf('%', at);
        continue;
      }
      eq = raw.indexOf('=', at);
      if (eq < 0 || eq > end) eq = end;
      escaped = pct >= 0 && pct < eq;
      known = escaped ? undefined : knownNameAt(raw, at, eq);
      if (canon && (eq === at || !canonicalPartAt(raw, at))) canon = false;
    }
    const name = known ?? (escaped ? safeDecode(raw.slice(at, eq)) : raw.slice(at, eq));
    let value = '';
    if (eq < end) {
      if (pct >= 0 && pct <= eq) pct = raw.indexOf('%', eq + 1);
      value = pct < 0 || pct >= end ? raw.slice(eq + 1, end) : canon ? decodeCanonical(raw, eq + 1, end, pct) : safeDecode(raw.slice(eq + 1, end));
    }
    out.push([name, value]);
    if (canon) {
      if (excludeRaw !== undefined && (known !== undefined ? known === excludeRaw : eq - at === excludeRaw.length && raw.startsWith(excludeRaw, at))) {
        if (run >= 0) {
          text += text === '' ? raw.slice(run, at - 1) : '&' + raw.slice(run, at - 1);
          run = -1;
        }
      } else {
        if (prevAt >= 0) {
          const byName = known !== undefined && prevKnown !== undefined
            ? (prevKnown < known ? -1 : prevKnown === known ? 0 : 1) : compareRanges(raw, prevAt, prevEq, at, eq);
          if (byName > 0 || (byName === 0 && compareRanges(raw, prevEq + 1, prevEnd, eq + 1, end) > 0)) canon = false;
        }
        prevKnown = known;
        prevAt = at;
        prevEq = eq;
        prevEnd = end;
        if (run < 0) run = at;
      }
    }
    at = end + 1;
    if (pct >= 0 && pct < at) pct = raw.indexOf('%', at);
  }
  if (canon) readCanonical = run < 0 ? text : text === '' ? (run === 0 ? raw : raw.slice(run)) : text + '&' + raw.slice(run);
  return out;
}

/**
 * safeDecode(raw.slice(from, to)) for text of canonical form (CANONICAL_PART), whose first '%' is at
 * `pct`: its escapes are all of ASCII characters, in uppercase hex, so each is one character.
 * decodeURIComponent (a call into V8's runtime, which flattens, decodes as UTF-8 and copies) cost
 * about 3 k instructions per presigned GET for the credential's four %2F.
 */
function decodeCanonical(raw: string, from: number, to: number, pct: number): string {
  let out = '';
  let at = from;
  while (pct >= 0 && pct < to) {
    out += raw.slice(at, pct) + String.fromCharCode(hexDigit(raw.charCodeAt(pct + 1)) * 16 + hexDigit(raw.charCodeAt(pct + 2)));
    at = pct + 3;
    pct = raw.indexOf('%', at);
  }
  return out + raw.slice(at, to);
}

/** The value of an uppercase hex digit's character code. */
function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x37;
}

/** S3's canonical URI: the decoded path re-encoded once, slashes kept, no dot-segment normalization. */
export function canonicalUri(rawPath: string): string {
  return uriEncode(safeDecode(rawPath), true) || '/';
}

const FOLD = /\s{2,}|[\t\n\r\f\v]/;
function trimValue(v: string): string {
  const t = v.trim();
  return FOLD.test(t) ? t.replace(/\s+/g, ' ') : t;
}

export type HeaderValue = string | string[] | undefined;

/** `host`, when given, is the value of the host header (the verifier's Host may differ from the map's). */
export function canonicalHeaders(headers: Record<string, HeaderValue>, signed: string[], host?: string): string {
  let out = '';
  for (const name of signed) {
    // SignedHeaders is the client's text: a name like "constructor" must not find Object.prototype.
    const v = host !== undefined && name === 'host' ? host : Object.hasOwn(headers, name) ? headers[name] : undefined;
    const value = v === undefined ? '' : Array.isArray(v) ? v.map(trimValue).join(',') : trimValue(v);
    out += `${name}:${value}\n`;
  }
  return out;
}

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  headers: Record<string, HeaderValue>;
  /** the host header's value, when it is not (or not as signed) in `headers` */
  host?: string;
  signedHeaders: string[];
  /** signedHeaders.join(';'), when the caller has it (the text a client signed, the outbound header's list) */
  signedHeadersText?: string;
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalRequestParts): string {
  return `${p.method}\n${p.canonicalUri}\n${p.canonicalQuery}\n${canonicalHeaders(p.headers, p.signedHeaders, p.host)}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`;
}

// One-shot crypto.hash (Node >= 20.12) makes no Hash object: 0.5 against 1.0 µs for a
// canonical request here.
export function sha256Hex(s: string | Buffer): string {
  return hash('sha256', s, 'hex');
}

/** The hash of a canonical request given as text: its bytes, one per char, as on the wire (see put). */
export function canonicalRequestHash(canonicalReq: string): string {
  return hash('sha256', Buffer.from(canonicalReq, 'latin1'), 'hex');
}

export function stringToSign(datetime: string, scope: string, canonicalReq: string): string {
  return `${ALGORITHM}\n${datetime}\n${scope}\n${canonicalRequestHash(canonicalReq)}`;
}

// What a request's signature hashes (its canonical request, its string to sign behind the HMAC
// pad, the inner digest behind the outer pad) is written piece by piece into one scratch buffer
// and hashed from there, rather than joined into strings that V8 flattens and Buffer.from copies
// again: the strings are only built when a signature does not match, for S3's error document.
// Single-threaded and synchronous, so one buffer serves every request. Pieces that do not fit send
// the caller to the string functions above, which hash the same bytes.
const SCRATCH = Buffer.allocUnsafe(32 * 1024);
let used = 0;

// Each write is a call into C++ (20-30 ns in a microbenchmark, 2.4-2.6 µs per GET in the gateway's
// profile for ~30 of them): the callers join what they already hold joined, and an empty piece
// writes nothing.
// The length read once, and the room a constant: each `.length` here was a load site of its own,
// and the strings' many maps (sequential, sliced, cons, thin, internalized) left them to V8's
// generic and megamorphic property loads, 34 calls each per 4 KiB PUT.
const ROOM = SCRATCH.length;
//
// Written as latin1, one byte per char: what is hashed is the bytes that came on the wire. Node's
// parser reads a header value (and the Authorization header's scope) as latin1, one char per byte,
// and undici writes them so; everything else here is ASCII (the URI and query are percent-encoded).
// A client that sent UTF-8 metadata (botocore's x-amz-meta-a: é, C3 A9) is hashed C3 A9, not the
// C3 83 C2 A9 that writing its latin1 string as UTF-8 made of it.
function put(s: string): boolean {
  const n = s.length;
  if (n === 0) return true;
  if (used + n > ROOM) return false;
  used += SCRATCH.write(s, used, 'latin1');
  return true;
}

// Buffer#write takes V8's fast call only for a sequential string; anything else (a thin, sliced or
// cons string) goes through Node's slow path, about 900 instructions a write against 250 under
// callgrind. The request's method usually arrives as a thin string (Node's 'GET', internalized
// after it was made): its literal is the same text, sequential.
function methodText(m: string): string {
  switch (m) {
    case 'GET': return 'GET';
    case 'PUT': return 'PUT';
    case 'HEAD': return 'HEAD';
    case 'POST': return 'POST';
    case 'DELETE': return 'DELETE';
    default: return m;
  }
}

function putByte(b: number): boolean {
  if (used >= SCRATCH.length) return false;
  SCRATCH[used++] = b;
  return true;
}

// Views of the scratch by length, so that hashing its first n bytes makes no view per call;
// lengths repeat from one request to the next.
const views = new Map<number, Buffer>();
function written(): Buffer {
  let v = views.get(used);
  if (v === undefined) {
    if (views.size >= 256) views.clear();
    views.set(used, (v = SCRATCH.subarray(0, used)));
  }
  return v;
}

const NL = 0x0a;

function putHeaders(headers: Record<string, HeaderValue>, signed: string[], host?: string): boolean {
  for (const name of signed) {
    const v = host !== undefined && name === 'host' ? host : Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (!put(name) || !putByte(0x3a)) return false;
    if (typeof v === 'string') {
      if (!put(trimValue(v))) return false;
    } else if (v !== undefined) {
      for (let i = 0; i < v.length; i++) if ((i > 0 && !putByte(0x2c)) || !put(trimValue(v[i]!))) return false;
    }
    if (!putByte(NL)) return false;
  }
  return true;
}

/** sha256Hex(canonicalRequest(p)), without building the canonical request. */
export function canonicalRequestSha256(p: CanonicalRequestParts): string {
  used = 0;
  let ok = put(methodText(p.method)) && putByte(NL) && put(p.canonicalUri) && putByte(NL) && put(p.canonicalQuery) && putByte(NL)
    && putHeaders(p.headers, p.signedHeaders, p.host) && putByte(NL);
  if (p.signedHeadersText !== undefined) ok = ok && put(p.signedHeadersText);
  else for (let i = 0; ok && i < p.signedHeaders.length; i++) ok = (i === 0 || putByte(0x3b)) && put(p.signedHeaders[i]!);
  ok = ok && putByte(NL) && put(p.payloadHash);
  return ok ? hash('sha256', written(), 'hex') : canonicalRequestHash(canonicalRequest(p));
}

// Derived keys change once a day per key, region and service; caching them saves four HMACs
// per request. Found by the secret itself (so a rotated secret never reuses a stale key), then
// by comparing the scope's parts: a single cache key joined from all four was a new string that
// V8 flattened and hashed twice per request (verify, re-sign).
interface DerivedKey {
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly key: Buffer;
}
const keyCache = new Map<string, DerivedKey[]>();
// A secret signs for a few scopes at a time: yesterday's and today's date, a region or two.
const SCOPES_PER_SECRET = 8;

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  let scopes = keyCache.get(secret);
  if (scopes) {
    for (const d of scopes) if (d.date === date && d.region === region && d.service === service) return d.key;
  } else {
    if (keyCache.size > 10_000) keyCache.clear();
    keyCache.set(secret, (scopes = []));
  }
  const kDate = createHmac('sha256', 'AWS4' + secret).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  const key = createHmac('sha256', kService).update('aws4_request').digest();
  if (scopes.length >= SCOPES_PER_SECRET) scopes.shift();
  scopes.push({ date, region, service, key });
  return key;
}

// HMAC-SHA256 (RFC 2104) as two one-shot hashes over the key's pads, precomputed per signing
// key, the message written behind the inner pad in the scratch buffer and the inner digest behind
// the outer one: 0.6 against 1.1 µs for the pads joined to the message as latin1 strings and
// copied into Buffers, and 1.7 for createHmac (/tmp micro, min of 6 batches of 100,000), twice
// per request (verify, re-sign). Pinned by the same AWS vectors as everything else here.
// The inner pad is followed by the string to sign's first line, which every signature begins with:
// one copy for both.
interface Pads { readonly inner: Buffer; readonly outer: Buffer }
const pads = new WeakMap<Buffer, Pads>();
const BLOCK = 64;

function padsOf(key: Buffer): Pads {
  let p = pads.get(key);
  if (!p) {
    const inner = Buffer.alloc(BLOCK + ALGORITHM_LINE.length, 0x36);
    inner.write(ALGORITHM_LINE, BLOCK, 'latin1');
    const outer = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      inner[i]! ^= key[i]!;
      outer[i]! ^= key[i]!;
    }
    pads.set(key, (p = { inner, outer }));
  }
  return p;
}

/** The HMAC of what follows the inner pad in the scratch buffer (up to `used`), in hex. */
function finishHmac(p: Pads): string {
  const innerHash = hash('sha256', written(), 'binary');
  p.outer.copy(SCRATCH, 0);
  used = BLOCK + SCRATCH.write(innerHash, BLOCK, 'latin1');
  return hash('sha256', written(), 'hex');
}

export function signatureHex(key: Buffer, sts: string): string {
  if (key.length > BLOCK) return createHmac('sha256', key).update(sts, 'latin1').digest('hex');
  const p = padsOf(key);
  p.inner.copy(SCRATCH, 0, 0, BLOCK);
  used = BLOCK;
  return put(sts) ? finishHmac(p) : createHmac('sha256', key).update(sts, 'latin1').digest('hex');
}

/** signatureHex(key, stringToSign(datetime, scope, creq)), given sha256Hex(creq), without building the string. */
export function signatureV4(key: Buffer, datetime: string, scope: string, canonicalRequestHash: string): string {
  if (key.length <= BLOCK) {
    const p = padsOf(key);
    p.inner.copy(SCRATCH, 0);
    used = BLOCK + ALGORITHM_LINE.length;
    if (put(datetime) && putByte(NL) && put(scope) && putByte(NL) && put(canonicalRequestHash)) return finishHmac(p);
  }
  return createHmac('sha256', key).update(`${ALGORITHM_LINE}${datetime}\n${scope}\n${canonicalRequestHash}`, 'latin1').digest('hex');
}

/** signatureV4 with `${datetime}\n${scope}\n` given as one string (the outbound signer keeps it for the second). */
function signatureV4Joined(key: Buffer, dateAndScope: string, canonicalRequestHash: string): string {
  if (key.length <= BLOCK) {
    const p = padsOf(key);
    p.inner.copy(SCRATCH, 0);
    used = BLOCK + ALGORITHM_LINE.length;
    if (put(dateAndScope) && put(canonicalRequestHash)) return finishHmac(p);
  }
  return createHmac('sha256', key).update(`${ALGORITHM_LINE}${dateAndScope}${canonicalRequestHash}`, 'latin1').digest('hex');
}

/**
 * Equality of two signatures in time that does not depend on where they differ: every character
 * is compared, with no Buffer made per request (two per signature compared before). Their lengths
 * are not secret: the expected one is fixed by the scheme.
 */
export function signaturesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  if (a.length > COMPARED_UNITS) {
    for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return diff === 0;
  }
  // Both written as UTF-16 code units (exact: one unit, two bytes) and compared as 32-bit words.
  // The client's signature is a slice of its query or header, and charCodeAt on a SlicedString
  // follows it to its parent at every character: the loop above cost 4.0 k instructions per
  // presigned GET, the two writes and this loop 2.7 k (callgrind, bench/instructions.mjs).
  COMPARED.write(a, 0, COMPARED_UNITS * 2, 'utf16le');
  COMPARED.write(b, COMPARED_UNITS * 2, COMPARED_UNITS * 2, 'utf16le');
  const words = a.length >> 1;
  for (let i = 0; i < words; i++) diff |= COMPARED_WORDS[i]! ^ COMPARED_WORDS[COMPARED_UNITS / 2 + i]!;
  if (a.length & 1) diff |= a.charCodeAt(a.length - 1) ^ b.charCodeAt(a.length - 1);
  return diff === 0;
}
// Room for two signatures of up to 256 code units (a SigV4 one is 64, a SigV2 one 28), in a
// buffer of its own so that its 32-bit view is aligned.
const COMPARED_UNITS = 256;
const COMPARED = Buffer.allocUnsafeSlow(COMPARED_UNITS * 4);
const COMPARED_WORDS = new Uint32Array(COMPARED.buffer, COMPARED.byteOffset, COMPARED_UNITS);

const D0 = 0x30;
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - D0;
    if (!(d >= 0 && d <= 9)) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/**
 * 20130524T000000Z → milliseconds since the epoch, NaN when malformed. Read from the character
 * codes: the regular expression's match array and the Date were made per request before.
 */
export function amzDateMs(s: string): number {
  if (s.length !== 16 || s.charCodeAt(8) !== 0x54 /* T */ || s.charCodeAt(15) !== 0x5a /* Z */) return NaN;
  return Date.UTC(digits(s, 0, 4), digits(s, 4, 2) - 1, digits(s, 6, 2), digits(s, 9, 2), digits(s, 11, 2), digits(s, 13, 2));
}

/** 20130524T000000Z → Date, or null when malformed. */
export function parseAmzDate(s: string): Date | null {
  const ms = amzDateMs(s);
  return Number.isNaN(ms) ? null : new Date(ms);
}

// Every request formats "now" at least once; the text changes once a second.
let lastSecond = NaN;
let lastText = '';

export function formatAmzDate(d: Date): string {
  return amzDateAt(d.getTime());
}

/** formatAmzDate of an instant in ms: a Date is made only when the second changes. */
function amzDateAt(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === lastSecond) return lastText;
  const text = new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  lastSecond = second;
  lastText = text;
  return text;
}

export interface SignV4Input {
  method: string;
  /** the Host header value, as it will be sent */
  host: string;
  /** encoded path, as it will be sent */
  path: string;
  /** decoded query pairs */
  query: [string, string][];
  /** canonicalQuery(query), when the caller has it */
  canonicalQuery?: string | undefined;
  /** lowercase names; all are signed */
  headers: Record<string, string>;
  payloadHash: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service?: string;
  now?: Date;
}

/**
 * Puts `name` in its place in the sorted `list`: a handful of names, where Array.prototype.sort
 * allocated a work copy of the list on every request (0.9 KiB, `node bench/alloc.mjs`).
 */
function insertSorted(list: string[], name: string): void {
  let i = list.length;
  list.push(name);
  while (i > 0 && list[i - 1]! > name) {
    list[i] = list[i - 1]!;
    i--;
  }
  list[i] = name;
}

/**
 * Header-auth SigV4 for a request s3gate sends: returns the headers to send, with host,
 * x-amz-date, x-amz-content-sha256 and authorization added. Every given header is signed but
 * those named in `unsigned` (sent as they are).
 */
// s3gate's own credential scope and the start of its Authorization header, made again only when
// the day, the upstream's region or its key changes (three strings per request before). Keyed on
// s3gate's configuration and clock only, never on what a client sent.
let outScope = { date: '', region: '', service: '', accessKeyId: '', scope: '', authPrefix: '' };

// The string to sign's second and third lines, for the second of the clock and that scope.
let outDatetime = '';
let outDateScope = '';
let outDateAndScope = '';

function outboundScope(date: string, region: string, service: string, accessKeyId: string): typeof outScope {
  const o = outScope;
  if (o.date === date && o.region === region && o.service === service && o.accessKeyId === accessKeyId) return o;
  const scope = `${date}/${region}/${service}/aws4_request`;
  return (outScope = { date, region, service, accessKeyId, scope, authPrefix: `${ALGORITHM} Credential=${accessKeyId}/${scope}, SignedHeaders=` });
}

const OWN_SIGNED = 'host;x-amz-content-sha256;x-amz-date';

// With s3gate's own three headers alone, the canonical request from its headers on is a function
// of the host, the payload hash and the second: written as one piece, made again when one of them
// changes, instead of eight writes and three trims per request. One entry of s3gate's own values,
// compared by content: nothing is kept per client, and nothing of a verification.
let tailHost = '';
let tailPayload = '';
let tailDatetime = '';
let tail = '';

function ownHeadersTail(host: string, payloadHash: string, datetime: string): string {
  if (host !== tailHost || payloadHash !== tailPayload || datetime !== tailDatetime) {
    tail = `host:${trimValue(host)}\nx-amz-content-sha256:${trimValue(payloadHash)}\nx-amz-date:${trimValue(datetime)}\n\n${OWN_SIGNED}\n${payloadHash}`;
    tailHost = host;
    tailPayload = payloadHash;
    tailDatetime = datetime;
  }
  return tail;
}

/** The canonical request's sha256 from its first three lines and the rest as one string; undefined when it does not fit. */
function canonicalRequestSha256Tail(method: string, uri: string, query: string, rest: string): string | undefined {
  used = 0;
  return put(methodText(method)) && putByte(NL) && put(uri) && putByte(NL) && put(query) && putByte(NL) && put(rest) ? hash('sha256', written(), 'hex') : undefined;
}

export function signV4(i: SignV4Input, unsigned?: ReadonlySet<string>): Record<string, string> {
  const datetime = amzDateAt(i.now ? i.now.getTime() : Date.now());
  const service = i.service ?? 's3';
  const o = outScope.date !== '' && datetime.startsWith(outScope.date) && outScope.region === i.region && outScope.service === service
    && outScope.accessKeyId === i.accessKeyId ? outScope : outboundScope(datetime.slice(0, 8), i.region, service, i.accessKeyId);
  // One object and one name list, built in a single pass: object spreads of header maps were a
  // third of the signer's time (bench/micro.mjs).
  const headers: Record<string, string> = {};
  const signed = ['host', 'x-amz-content-sha256', 'x-amz-date'];
  for (const k in i.headers) {
    if (k === 'host' || k === 'x-amz-date' || k === 'x-amz-content-sha256') continue;
    headers[k] = i.headers[k]!;
    if (!unsigned?.has(k)) insertSorted(signed, k);
  }
  headers.host = i.host;
  headers['x-amz-date'] = datetime;
  headers['x-amz-content-sha256'] = i.payloadHash;
  // s3gate's own three alone (a GET's usual list) need no join: 80 ns of Array.prototype.join
  const signedText = signed.length === 3 ? OWN_SIGNED : signed.join(';');
  const uri = i.path || '/';
  const query = i.canonicalQuery ?? canonicalQuery(i.query);
  const creqHash = (signed.length === 3 ? canonicalRequestSha256Tail(i.method, uri, query, ownHeadersTail(i.host, i.payloadHash, datetime)) : undefined)
    ?? canonicalRequestSha256({ method: i.method, canonicalUri: uri, canonicalQuery: query, headers, signedHeaders: signed, signedHeadersText: signedText, payloadHash: i.payloadHash });
  if (outDatetime !== datetime || outDateScope !== o.scope) {
    outDateAndScope = `${datetime}\n${o.scope}\n`;
    outDatetime = datetime;
    outDateScope = o.scope;
  }
  const sig = signatureV4Joined(signingKey(i.secretAccessKey, o.date, i.region, service), outDateAndScope, creqHash);
  headers.authorization = `${o.authPrefix}${signedText}, Signature=${sig}`;
  return headers;
}

/**
 * A browser form's POST policy (S3 "sigv4-authentication-HTTPPOST"): the base64 policy itself is
 * the string to sign, under the same date/region/service key as a request's.
 */
export function postPolicySignatureV4(secret: string, date: string, region: string, service: string, policyBase64: string): string {
  return signatureHex(signingKey(secret, date, region, service), policyBase64);
}
