// A provider's header name, from undici's raw Buffer to the lower-case string s3gate writes on.
// undici's own table (util.headerNameToString) knows the web's common names and gives one string
// for each; any other name costs a latin1 string and its lower-cased copy per answer, and S3's
// own names are all others: an S3 GET answer carries three to six (x-amz-request-id, x-amz-id-2,
// x-amz-version-id, x-amz-server-side-encryption, x-amz-checksum-*, …). This table holds both
// (docs/performance.md, "resp"); a name in neither is read as undici reads it.
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

const names = new TernarySearchTree();
for (const n of [...wellknownHeaderNames.map((w) => w.toLowerCase()), ...S3_NAMES]) names.insert(n, n);

/**
 * Headers as a flat `[name, value, …]` list: undici's raw Buffers (any case; a name is read as
 * undici's parser reads it, lower-cased, and a value as latin1), or strings taken as they are.
 */
export type HeaderList = readonly (string | Buffer)[];

/** The name lower-cased, as undici's parser reads it (latin1): one string per known name. */
export function headerName(raw: Buffer): string {
  return names.lookup(raw) ?? raw.toString('latin1').toLowerCase();
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
