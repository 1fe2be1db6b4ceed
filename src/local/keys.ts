import { createHash } from 'node:crypto';
import { S3Error } from '../s3/errors.js';

// Object keys become one flat file name each: percent-encoding every byte outside
// [A-Za-z0-9_-.] removes '/', NUL and '%' from names, so no key can form a path,
// and a leading '.' is encoded too so keys never collide with our hidden `.s3gate` dir.
// Names longer than a filesystem allows are replaced by a hash; '~' is never produced by
// the encoder, so hashed names cannot collide with encoded ones.
const MAX_NAME = 200;

export function keyToFileName(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.-]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.startsWith('.')) out = '%2E' + out.slice(1);
  if (out.length > MAX_NAME) out = '~' + createHash('sha256').update(key, 'utf8').digest('hex');
  return out;
}

export function validateKey(key: string | undefined): string {
  if (key === undefined || key === '') throw new S3Error('InvalidArgument', 'Object key must not be empty');
  if (Buffer.byteLength(key, 'utf8') > 1024) throw new S3Error('KeyTooLongError', undefined, { Size: String(Buffer.byteLength(key, 'utf8')), MaxSizeAllowed: '1024' });
  // A lone surrogate cannot round-trip through UTF-8, so the key we would store differs from the one asked for.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(key)) throw new S3Error('InvalidURI');
  return key;
}

// Bucket names per the S3 naming rules; they are also our directory names, and the rules
// already exclude '/', '..', leading dots and anything else that could leave the root.
export function validateBucket(bucket: string): string {
  if (
    bucket.length < 3 ||
    bucket.length > 63 ||
    !/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket) ||
    bucket.includes('..') ||
    /^\d+\.\d+\.\d+\.\d+$/.test(bucket)
  ) {
    throw new S3Error('InvalidBucketName', undefined, { BucketName: bucket });
  }
  return bucket;
}

/**
 * The rules S3 holds a new bucket's name to beyond those validateBucket keeps for every request:
 * each dot-separated label begins and ends with a letter or digit (no `.-` or `-.`), and the
 * prefixes and suffixes S3 reserves. Checked at CreateBucket only, so that no bucket the store
 * already holds becomes unreachable.
 */
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
export function validateNewBucket(bucket: string): string {
  validateBucket(bucket);
  if (bucket.includes('.-') || bucket.includes('-.') || RESERVED_PREFIXES.some((p) => bucket.startsWith(p)) || RESERVED_SUFFIXES.some((x) => bucket.endsWith(x))) {
    throw new S3Error('InvalidBucketName', undefined, { BucketName: bucket });
  }
  return bucket;
}

/**
 * The key a file name (keyToFileName's, not a hashed '~' one) stands for, as its UTF-8 bytes in a
 * latin1 string: one char per byte, so that `<` on two of them is S3's key order (compareKeys)
 * with no Buffer per comparison.
 */
export function fileNameKeyBytes(name: string): string {
  return name.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** A key's UTF-8 bytes as a latin1 string (fileNameKeyBytes' form), and back. */
export function keyBytes(key: string): string {
  return Buffer.from(key, 'utf8').toString('latin1');
}
export function keyOfBytes(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** S3 orders keys by their UTF-8 bytes, which differs from JS UTF-16 order above U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
