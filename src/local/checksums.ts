// The checksums the store keeps, and how it answers them. The store never keeps a value it was
// only told: it computes the algorithm a write names over the bytes it writes, and compares every
// claim (an x-amz-checksum-* header, which s3gate's own requests may send unverified) with that.
// The one exception is an aws-chunked trailer, whose algorithm is known only at the end: payload/
// verified it over these very bytes before the body ended, and the request hands it over
// (LocalRequest.trailerChecksums).
import { algorithmOfHeader, createChecksum, type Checksum } from '../payload/checksums.js';
import { checksumMismatch } from '../payload/verify.js';
import { S3Error } from '../s3/errors.js';
import type { ChecksumAlgorithm, ChecksumType, ObjectMeta, StoredChecksum } from './types.js';
import type { XmlNode } from './xml.js';

export const ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** The XML element of each algorithm (ListParts, CompleteMultipartUpload, GetObjectAttributes). */
export const ELEMENT: Readonly<Record<ChecksumAlgorithm, string>> = {
  crc32: 'ChecksumCRC32', crc32c: 'ChecksumCRC32C', crc64nvme: 'ChecksumCRC64NVME', sha1: 'ChecksumSHA1', sha256: 'ChecksumSHA256',
};

const UNSUPPORTED = 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]';

/** `CRC32` (x-amz-checksum-algorithm, x-amz-sdk-checksum-algorithm) → `crc32`. */
export function parseAlgorithm(v: string | undefined): ChecksumAlgorithm | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const a = v.trim().toLowerCase() as ChecksumAlgorithm;
  if (!ALGORITHMS.includes(a)) throw new S3Error('InvalidRequest', UNSUPPORTED);
  return a;
}

function typeMismatch(expected: ChecksumAlgorithm, actual: ChecksumAlgorithm): S3Error {
  return new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${expected}, actual checksum Type: ${actual}`);
}

/** The x-amz-checksum-<alg> header a request carries, if any (S3 takes one). */
export function headerClaim(h: Record<string, string>): { algorithm: ChecksumAlgorithm; value: string } | undefined {
  let found: { algorithm: ChecksumAlgorithm; value: string } | undefined;
  for (const name in h) {
    const algorithm = algorithmOfHeader(name);
    if (!algorithm) continue;
    if (found) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    found = { algorithm, value: h[name]!.trim() };
  }
  return found;
}

/**
 * The checksum of one write's bytes (PutObject, UploadPart, a copy): `observe` sees every byte
 * spooled, `finish` compares the claims and gives what to keep.
 */
export class WriteChecksum {
  readonly algorithm: ChecksumAlgorithm | undefined;
  private readonly hasher: Checksum | undefined;
  private readonly claim: string | undefined;

  /**
   * `required`: the algorithm the write must carry (a multipart upload's); otherwise the one its
   * headers name, else `fallback` (S3 gives an object written without a checksum a CRC64NVME).
   */
  constructor(h: Record<string, string>, private readonly required?: ChecksumAlgorithm, fallback?: ChecksumAlgorithm) {
    const claim = headerClaim(h);
    const named = claim?.algorithm ?? parseAlgorithm(h['x-amz-sdk-checksum-algorithm']);
    if (required && named && named !== required) throw typeMismatch(required, named);
    this.algorithm = required ?? named ?? fallback;
    this.claim = claim?.value;
    this.hasher = this.algorithm ? createChecksum(this.algorithm) : undefined;
    // Held in a local first: a function literal that initialises a field goes to V8's old
    // generation and keeps the object alive through scavenges (test/listen/body-objects.test.ts).
    const observe = (chunk: Buffer): void => this.hasher?.update(chunk);
    this.observe = observe;
  }

  readonly observe: (chunk: Buffer) => void;

  /** After the body ended: every claim checked (BadDigest), then the value to keep. */
  finish(trailers: Record<string, string> = {}): { algorithm: ChecksumAlgorithm; value: string } | undefined {
    const computed = this.hasher?.digest();
    if (this.claim !== undefined && this.claim !== computed) throw checksumMismatch(this.algorithm!);
    let trailed: { algorithm: ChecksumAlgorithm; value: string } | undefined;
    for (const [name, value] of Object.entries(trailers)) {
      const algorithm = algorithmOfHeader(name);
      if (!algorithm) continue;
      if (this.required && algorithm !== this.required) throw typeMismatch(this.required, algorithm);
      if (computed !== undefined && algorithm === this.algorithm && value !== computed) throw checksumMismatch(algorithm);
      trailed ??= { algorithm, value };
    }
    if (computed !== undefined) return { algorithm: this.algorithm!, value: computed };
    return trailed;
  }
}

/**
 * S3's checksum for an object written without one (since 2025): a full-object CRC64NVME. Not
 * guessed ahead of an aws-chunked trailer, which names its own algorithm only at the end.
 */
export const DEFAULT_ALGORITHM: ChecksumAlgorithm = 'crc64nvme';

/** A copy's checksum: the one it asks for (x-amz-checksum-algorithm), else the source's algorithm, else S3's default. */
export function copyChecksum(h: Record<string, string>, source: ObjectMeta): WriteChecksum {
  const asked = parseAlgorithm(h['x-amz-checksum-algorithm']);
  return new WriteChecksum({ 'x-amz-sdk-checksum-algorithm': asked ?? source.checksum?.algorithm ?? DEFAULT_ALGORITHM });
}

/** A single write's checksum as the object keeps it. */
export function fullObject(c: { algorithm: ChecksumAlgorithm; value: string } | undefined): StoredChecksum | undefined {
  return c ? { algorithm: c.algorithm, value: c.value, type: 'FULL_OBJECT' } : undefined;
}

/** CreateMultipartUpload's x-amz-checksum-algorithm and -type, checked as S3 checks them. */
export function uploadChecksum(h: Record<string, string>): { algorithm?: ChecksumAlgorithm; type?: ChecksumType } {
  const algorithm = parseAlgorithm(h['x-amz-checksum-algorithm']);
  const t = h['x-amz-checksum-type']?.trim().toUpperCase();
  if (t !== undefined && t !== 'FULL_OBJECT' && t !== 'COMPOSITE') {
    throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  }
  if (!algorithm) {
    if (t !== undefined) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return {};
  }
  // S3's defaults and pairs: CRC64NVME is full-object only, the SHAs composite only.
  const type: ChecksumType = t ?? (algorithm === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type === 'COMPOSITE' && algorithm === 'crc64nvme') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  if (type === 'FULL_OBJECT' && (algorithm === 'sha1' || algorithm === 'sha256')) {
    throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  return { algorithm, type };
}

/** S3's composite checksum: the algorithm over the parts' raw digests, in order. */
export function compositeOf(algorithm: ChecksumAlgorithm, partValues: string[]): string {
  const h = createChecksum(algorithm);
  for (const v of partValues) h.update(Buffer.from(v, 'base64'));
  return h.digest();
}

/** The value on the wire: a composite one ends in `-<parts>`. */
export function wireValue(c: StoredChecksum, parts: number): string {
  return c.type === 'COMPOSITE' ? `${c.value}-${parts}` : c.value;
}

/** GET/HEAD with x-amz-checksum-mode: ENABLED, on a whole-object read. */
export function checksumHeaders(meta: ObjectMeta): Record<string, string> {
  const c = meta.checksum;
  if (!c) return {};
  return { [`x-amz-checksum-${c.algorithm}`]: wireValue(c, meta.parts?.length ?? 1), 'x-amz-checksum-type': c.type };
}

/** A checksum as XML elements (`ChecksumCRC32`..., and `ChecksumType` when `type` is wanted). */
export function checksumElements(c: { algorithm: ChecksumAlgorithm; value: string; type?: ChecksumType } | undefined): Record<string, XmlNode> {
  if (!c) return {};
  return { [ELEMENT[c.algorithm]]: c.value, ...(c.type ? { ChecksumType: c.type } : {}) };
}
