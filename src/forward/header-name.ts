// A provider's header name, from undici's raw Buffer to the lower-case string s3gate writes on.
// undici's own table (util.headerNameToString) knows the web's common names and gives one string
// for each; any other name costs a latin1 string and its lower-cased copy per answer, and S3's
// own names are all others: an S3 GET answer carries three to six (x-amz-request-id, x-amz-id-2,
// x-amz-version-id, x-amz-server-side-encryption, x-amz-checksum-*, …). This table holds both
// (docs/performance.md, "resp"); a name in neither is read as undici reads it.
import { internalized } from '../s3/names.js';
import { TernarySearchTree, wellknownHeaderNames } from './undici.js';

// The response headers of S3's object and upload operations (GetObject, HeadObject, PutObject,
// CopyObject, UploadPart, CreateMultipartUpload, CompleteMultipartUpload, DeleteObject).
const S3_NAMES = [
  'x-amz-id-2', 'x-amz-request-id', 'x-amz-version-id', 'x-amz-delete-marker', 'x-amz-expiration', 'x-amz-restore',
  'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-bucket-key-enabled',
  'x-amz-server-side-encryption-context', 'x-amz-server-side-encryption-customer-algorithm', 'x-amz-server-side-encryption-customer-key-md5',
  'x-amz-storage-class', 'x-amz-request-charged', 'x-amz-replication-status', 'x-amz-mp-parts-count', 'x-amz-tagging-count',
  'x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold', 'x-amz-website-redirect-location',
  'x-amz-missing-meta', 'x-amz-checksum-crc32', 'x-amz-checksum-crc32c', 'x-amz-checksum-crc64nvme', 'x-amz-checksum-sha1',
  'x-amz-checksum-sha256', 'x-amz-checksum-type', 'x-amz-abort-date', 'x-amz-abort-rule-id', 'x-amz-copy-source-version-id',
  'x-amz-bucket-region',
];

/**
 * A name the table knows: its one lower-case string (V8's internalized copy, so that a comparison
 * with a literal, Node's header switch included, is one pointer comparison), and what the answer
 * does with it (rewrite/response.ts), worked out once per name instead of per header.
 */
export interface KnownName<R> {
  readonly name: string;
  /** the name as S3 writes it in an answer (s3Spelling) */
  readonly spelled: string;
  readonly rule: R;
  /** the value last read for this name (knownValue), '' before the first */
  last: string;
}

const NAMES = [...new Set([...wellknownHeaderNames.map((w) => w.toLowerCase()), ...S3_NAMES])].map(internalized);

/**
 * A table of the known names, each with the rule `ruleOf` gives it: one walk of undici's
 * case-blind tree per header finds both. A name not in it is read as undici reads it and given
 * its rule afresh.
 */
export function nameTable<R>(ruleOf: (name: string) => R): (raw: Buffer) => KnownName<R> {
  const tree = new TernarySearchTree<KnownName<R>>();
  for (const name of NAMES) tree.insert(name, { name, spelled: s3Spelling(name), rule: ruleOf(name), last: '' });
  return (raw) => {
    const known = tree.lookup(raw);
    if (known !== null) return known;
    const name = raw.toString('latin1').toLowerCase();
    return { name, spelled: s3Spelling(name), rule: ruleOf(name), last: '' };
  };
}

// Header names are case-blind (RFC 9110 §5.1), but clients that match them byte for byte exist:
// libs3 (`s3 head`) took nothing of `content-length`, `etag` or `content-type`, and GDAL 3.6
// looks for `ETag: "` after a PUT. S3 and RGW write the HTTP names in their usual case and S3's
// own in lower case (x-amz-*, and the x-amz-meta-* of an object as stored).
const SPELLED = new Map<string, string>([['etag', 'ETag'], ['www-authenticate', 'WWW-Authenticate']]);

/** `name` (lower case) as S3 writes it: x-* as it is, ETag, and every other word capitalised (Content-Type). */
export function s3Spelling(name: string): string {
  if (name.charCodeAt(0) === 0x78 /* x */ && name.charCodeAt(1) === 0x2d /* - */) return name;
  const known = SPELLED.get(name);
  if (known !== undefined) return known;
  const spelled = name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  // Names a provider or the local store makes are few; a provider inventing names per answer must not grow this.
  if (SPELLED.size < 512) SPELLED.set(name, spelled);
  return spelled;
}

/** A header object's names as S3 writes them: for the answers s3gate composes itself. */
export function s3Spelled(headers: Record<string, string | number>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k in headers) out[s3Spelling(k)] = headers[k]!;
  return out;
}

/**
 * A value's latin1 text, the same string as the last time this name had the same bytes. A
 * Buffer's toString is a call into Node's C++ (about 550 instructions for a short value under
 * callgrind), and an answer's Content-Type, Accept-Ranges, ETag, Last-Modified and Content-Length
 * are mostly the bytes the answer before had: comparing them with the last text costs a few
 * instructions a byte. The text is what toString would make of these bytes, whatever they are.
 */
export function knownValue(known: KnownName<unknown>, raw: Buffer): string {
  const last = known.last;
  const n = raw.length;
  if (n === last.length) {
    let j = 0;
    while (j < n && raw[j] === last.charCodeAt(j)) j++;
    if (j === n) return last;
  }
  return (known.last = raw.toString('latin1'));
}

const plain = nameTable(() => 0);

/**
 * Headers as a flat `[name, value, …]` list: undici's raw Buffers (any case; a name is read as
 * undici's parser reads it, lower-cased, and a value as latin1), or strings taken as they are.
 */
export type HeaderList = readonly (string | Buffer)[];

/** The name lower-cased, as undici's parser reads it (latin1): one string per known name. */
export function headerName(raw: Buffer): string {
  return plain(raw).name;
}

/**
 * undici's raw headers as strings, names lower-cased: for an answer that outlives its first
 * socket read, whose Buffer the raw headers are views of.
 */
export function headerStrings(raw: readonly Buffer[]): string[] {
  const list: string[] = [];
  for (let i = 0; i < raw.length; i += 2) list.push(headerName(raw[i]!), raw[i + 1]!.toString('latin1'));
  return list;
}
