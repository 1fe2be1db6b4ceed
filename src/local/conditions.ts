// Preconditions on reads and writes, in the order RFC 7232 and S3 apply them (a copy source's:
// s3/copy-source-conditions.ts, shared with route/).
import { S3Error } from '../s3/errors.js';
import { etagListMatches } from './http.js';
import type { ObjectMeta } from './types.js';

/**
 * Conditional writes (PutObject, CopyObject's destination, CompleteMultipartUpload): S3 accepts
 * only `If-None-Match: *` and `If-Match: <etag>`. Runs under the object's lock (Disk.commit), so
 * of racing writers with `If-None-Match: *` exactly one finds no object.
 */
export function checkWritePreconditions(h: Record<string, string>, current: ObjectMeta | undefined): void {
  requireSupportedWriteConditions(h);
  const inm = h['if-none-match'];
  if (inm !== undefined) {
    if (current) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  }
  const im = h['if-match'];
  if (im !== undefined) {
    if (!current) throw new S3Error('NoSuchKey');
    if (!etagListMatches(im, current.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

/** Refuses what S3 refuses of conditional-write headers before any byte is stored. */
export function requireSupportedWriteConditions(h: Record<string, string>): void {
  const inm = h['if-none-match'];
  if (inm !== undefined && inm.trim() !== '*') throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', { Header: 'If-None-Match' });
}

/**
 * A conditional delete (DeleteObject's If-Match, an <ETag> in DeleteObjects): S3 answers 404
 * NoSuchKey where the key is absent and 412 where its ETag differs. Runs under the object's lock.
 * The directory-bucket conditions (last-modified time, size) are not kept here: refused.
 */
export function checkDeletePrecondition(ifMatch: string | undefined, current: ObjectMeta | undefined): void {
  if (ifMatch === undefined) return;
  if (!current) throw new S3Error('NoSuchKey');
  if (!etagListMatches(ifMatch, current.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
}

export function requireSupportedDeleteConditions(h: Record<string, string>): void {
  for (const name of ['x-amz-if-match-last-modified-time', 'x-amz-if-match-size']) {
    if (h[name] !== undefined) throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', { Header: name });
  }
}
