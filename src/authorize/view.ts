// The one view of a request: what it is (its operation), every resource it names, and the exact
// headers and query that will be forwarded. Authorization decides on this view and resign/
// forwards exactly it: nothing later adds, moves or reinterprets anything that decides access
// (docs/security.md, "One view"). Whatever could be read two ways (a header sent twice, a copy
// source in both the header and the query, a bucket name with an encoded '/') is refused here,
// not resolved, because s3gate cannot know which reading the provider will pick.
import { S3Error } from '../s3/errors.js';
import { uriEncode } from '../signing/sigv4.js';
import { lowerCase } from '../s3/names.js';
import { utf8FromWire } from '../s3/wire-text.js';
import { classify, QueryView, SUBRESOURCES, type Operation } from './operation.js';

export type RawHeaders = Record<string, string | string[] | undefined>;

export interface CopySource {
  /** the client's bucket name, exactly as sent (never percent-encoded) */
  bucket: string;
  /** the decoded key */
  key: string;
  versionId?: string;
}

export interface RequestView {
  operation: Operation;
  /** the client's bucket and decoded key (addressing/) */
  bucket?: string;
  key?: string;
  /** the query pairs that travel: no client credentials, no hoisted x-amz-* parameters */
  query: [string, string][];
  /**
   * The headers that travel, one value each: no hop-by-hop headers, no client auth, and the
   * x-amz-* parameters of a presigned URL moved here. `x-amz-copy-source` is re-rendered from
   * `copySource` (client bucket name, one encoding); route/ renames the bucket for the provider
   * with `copySourceHeader`, as it renames the target bucket.
   */
  headers: Record<string, string>;
  copySource?: CopySource;
  /** a listing's `prefix` */
  listPrefix?: string;
}

// Hop-by-hop headers, the client's own auth, and proxy bookkeeping never travel upstream.
const DROP = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'expect', 'authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip',
  'content-length', 'x-amz-decoded-content-length', 'x-amz-trailer', 'date',
]);

// Query parameters that carried the client's signature (SigV4 and SigV2 query auth);
// authenticate/ reads them, they never travel.
const AUTH_QUERY = new Set([
  'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature',
  'x-amz-security-token', 'x-amz-content-sha256', 'awsaccesskeyid', 'signature', 'expires',
]);

// Headers whose value is a list, where a repeated line means the same as one joined line (RFC
// 9110 §5.3). Every other header is single-valued for S3: a second line is ambiguous.
/** Whether a header may travel upstream at all (hop-by-hop and client auth never do). */
export function travels(name: string): boolean {
  return !DROP.has(name);
}

const LIST_VALUED = new Set(['accept', 'accept-encoding', 'accept-language', 'cache-control', 'if-match', 'if-none-match', 'via']);
const listValued = (name: string): boolean => LIST_VALUED.has(name) || name.startsWith('x-amz-meta-') || name.startsWith('x-amz-grant-');

function ambiguous(name: string, why: string): S3Error {
  return new S3Error('InvalidArgument', why, { ArgumentName: name });
}

/**
 * Builds the view. `queryAuth`: the client's credentials are in the query (a presigned URL), so
 * its x-amz-* parameters are request headers moved there by the presigner, and signed as such.
 */
export function requestView(
  method: string, bucket: string | undefined, key: string | undefined, pairs: [string, string][], raw: RawHeaders, queryAuth: boolean,
): RequestView {
  const headers: Record<string, string> = {};
  for (const name in raw) {
    const v = raw[name];
    if (v === undefined || DROP.has(name)) continue;
    if (Array.isArray(v)) {
      if (!listValued(name)) throw ambiguous(name, `The header ${name} was sent more than once; it takes one value.`);
      headers[name] = v.join(',');
    } else headers[name] = v;
  }
  // Made at the first pair that travels, at its size: a push into an empty array grows it to 17
  // slots (152 B), for the one parameter or none that most requests carry.
  let travelling: [string, string][] | undefined;
  // Most requests carry one parameter or none: the set of names is made at the second.
  let firstName: string | undefined;
  let seen: Set<string> | undefined;
  // Indexed loops over the pairs, not `for (const [n, v] of ...)`: that destructuring cost about
  // 200 B of iterator objects per loop in place (V8 did not take them out).
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const n = pair[0];
    const v = pair[1];
    const lower = lowerCase(n);
    // A session token is authentication's to judge wherever it is (src/sts/ refuses one in the
    // query of a header-signed request); it never travels.
    if ((queryAuth && AUTH_QUERY.has(lower)) || lower === 'x-amz-security-token') continue;
    if (lower.startsWith('x-amz-')) {
      // The JS SDK presigns PUTs with the CRC32 of an empty body whatever is uploaded later; no
      // provider applies it, so neither does s3gate (docs/checksums.md).
      if (queryAuth && (lower.startsWith('x-amz-checksum') || lower === 'x-amz-sdk-checksum-algorithm')) continue;
      // A header-signed request has its headers in the headers: an x-amz-* query parameter there
      // is something a provider might, or might not, read as a header.
      if (!queryAuth) throw ambiguous(n, `The query parameter ${n} is only accepted in a presigned URL; send it as a header.`);
      if (headers[lower] !== undefined) throw ambiguous(lower, `${lower} was sent both as a header and in the query.`);
      headers[lower] = v;
      continue;
    }
    // A name twice (or twice in different case) is read as the first, the last or both,
    // depending on who reads it.
    if (firstName === undefined) firstName = lower;
    else {
      seen ??= new Set([firstName]);
      if (seen.has(lower)) throw ambiguous(n, `The query parameter ${n} was sent more than once.`);
      seen.add(lower);
    }
    if (travelling === undefined) travelling = [pair];
    else travelling.push(pair);
  }
  const query = travelling ?? [];
  requireOneOperation(query);
  const view: RequestView = { operation: classify(method, bucket, key, new QueryView(query), headers), query, headers };
  if (bucket !== undefined) view.bucket = bucket;
  if (key !== undefined) view.key = key;
  const copy = headers['x-amz-copy-source'];
  if (copy !== undefined) {
    view.copySource = parseCopySource(copy);
    headers['x-amz-copy-source'] = copySourceHeader(view.copySource.bucket, view.copySource);
  }
  // A HeadBucket's `prefix` selects nothing at the provider (and IAM sees no s3:prefix in it): a
  // grant limited to a prefix is not met by naming one there.
  if (view.operation.name !== 'HeadBucket') {
    for (let i = 0; i < query.length; i++) {
      if (query[i]![0] === 'prefix') view.listPrefix = query[i]![1];
    }
  }
  return view;
}

/**
 * A request names at most one sub-resource, each in S3's exact spelling: with two (`?uploads&policy`)
 * or another case (`?Policy`), s3gate's classification and the provider's could differ, and
 * with them the grant that applies. uploadId goes with partNumber (UploadPart), and with nothing else.
 */
function requireOneOperation(query: [string, string][]): void {
  let named: string | undefined;
  for (let i = 0; i < query.length; i++) {
    const n = query[i]![0];
    if (!SUBRESOURCES.has(n)) {
      const spelled = SUBRESOURCES_LOWER.get(lowerCase(n));
      if (spelled !== undefined) throw ambiguous(n, `The sub-resource ${spelled} is spelled ${n}.`);
      continue;
    }
    if (named !== undefined) throw ambiguous(n, `The request names two sub-resources, ${named} and ${n}.`);
    named = n;
  }
}
const SUBRESOURCES_LOWER = new Map([...SUBRESOURCES].map((s) => [s.toLowerCase(), s]));

const COPY_SOURCE_FORMAT = 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey';
// A bucket name as S3 has ever allowed it (legacy names included). Nothing percent-encoded: a
// bucket name never needs it, and any decoding (`alpha%2Fteam`) could differ from the provider's.
const BUCKET = /^[A-Za-z0-9._-]{1,255}$/;

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=id]` (or `bucket%2Fkey`), the key URL-encoded. Anything else is refused. */
export function parseCopySource(value: string): CopySource {
  // A key's UTF-8 sent unescaped (the Ruby SDK's `copy_source: "bucket/ü.txt"`) names that key, as RGW reads it.
  const text = utf8FromWire(value);
  if (text === undefined) throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  const v = text.startsWith('/') ? text.slice(1) : text;
  const q = v.indexOf('?');
  const path = q < 0 ? v : v.slice(0, q);
  let slash = path.indexOf('/');
  let sep = 1;
  // jets3t encodes `bucket/key` whole, slash and all (`bucket%2Fkey`), and S3 and RGW decode it
  // before they split it. With no literal '/', that is its one reading: the first %2F parts
  // bucket from key (a bucket holding a '%' is refused below, so no other split names one).
  if (slash < 0) {
    slash = path.search(/%2F/i);
    sep = 3;
  }
  if (slash <= 0 || slash + sep >= path.length) throw new S3Error('InvalidArgument', COPY_SOURCE_FORMAT, { ArgumentName: 'x-amz-copy-source' });
  const bucket = path.slice(0, slash);
  if (!BUCKET.test(bucket)) throw new S3Error('InvalidArgument', 'The copy source bucket name is not valid', { ArgumentName: 'x-amz-copy-source' });
  const src: CopySource = { bucket, key: strictDecode(path.slice(slash + sep)) };
  if (q >= 0) {
    // S3 reads one thing after the '?': the source's version.
    const rest = v.slice(q + 1);
    if (!rest.startsWith('versionId=') || rest.includes('&')) {
      throw new S3Error('InvalidArgument', 'The only parameter a copy source takes is versionId', { ArgumentName: 'x-amz-copy-source' });
    }
    const id = strictDecode(rest.slice('versionId='.length));
    if (id === '') throw new S3Error('InvalidArgument', 'The copy source versionId is empty', { ArgumentName: 'x-amz-copy-source' });
    src.versionId = id;
  }
  return src;
}

function strictDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
}

/**
 * The copy source as the provider receives it: its own bucket name, the key encoded one way
 * only (every byte outside the unreserved set escaped, '/' kept), so it decodes to exactly the
 * key that was authorized.
 */
export function copySourceHeader(providerBucket: string, src: CopySource): string {
  const version = src.versionId !== undefined ? `?versionId=${uriEncode(src.versionId, false)}` : '';
  return `/${uriEncode(providerBucket, false)}/${uriEncode(src.key, true)}${version}`;
}

/** The copy source as route/mirror.ts names it for a second provider: the version as a `?versionId=` tail. */
export function copySourceParts(src: CopySource): { bucket: string; key: string; rest: string } {
  return { bucket: src.bucket, key: src.key, rest: src.versionId !== undefined ? `?versionId=${uriEncode(src.versionId, false)}` : '' };
}
