// Preconditions on reads, copy sources and writes, in the order RFC 7232 and S3 apply them.
import { S3Error } from '../s3/errors.js';
import { etagListMatches, parseHttpDate, seconds } from './http.js';
import type { ObjectMeta } from './types.js';

export function checkCopySourceConditions(h: Record<string, string>, src: ObjectMeta): void {
  const lm = seconds(src.lastModified);
  const fail = (c: string) => new S3Error('PreconditionFailed', undefined, { Condition: c });
  const im = h['x-amz-copy-source-if-match'];
  const inm = h['x-amz-copy-source-if-none-match'];
  const ius = parseHttpDate(h['x-amz-copy-source-if-unmodified-since']);
  const ims = parseHttpDate(h['x-amz-copy-source-if-modified-since']);
  if (im !== undefined && !etagListMatches(im, src.etag)) throw fail('x-amz-copy-source-If-Match');
  if (im === undefined && ius !== undefined && lm > ius) throw fail('x-amz-copy-source-If-Unmodified-Since');
  if (inm !== undefined && etagListMatches(inm, src.etag)) throw fail('x-amz-copy-source-If-None-Match');
  if (inm === undefined && ims !== undefined && lm <= ims) throw fail('x-amz-copy-source-If-Modified-Since');
}

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
