// A copy's conditions on its source (x-amz-copy-source-if-*), in the order and with the
// precedence S3's CopyObject and UploadPartCopy apply them: a true If-Match decides over
// If-Unmodified-Since, and If-None-Match over If-Modified-Since. Dates are compared to the second.
import { etagListMatches } from './etag.js';
import { S3Error } from './errors.js';

/** The source as a HEAD of it shows: its ETag (quoted or not) and Last-Modified in ms. */
export interface CopySourceState {
  etag: string;
  lastModified: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

function date(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : seconds(t);
}

export function checkCopySourceConditions(h: Record<string, string>, src: CopySourceState): void {
  const lm = seconds(src.lastModified);
  const fail = (c: string) => new S3Error('PreconditionFailed', undefined, { Condition: c });
  const im = h['x-amz-copy-source-if-match'];
  const inm = h['x-amz-copy-source-if-none-match'];
  const ius = date(h['x-amz-copy-source-if-unmodified-since']);
  const ims = date(h['x-amz-copy-source-if-modified-since']);
  if (im !== undefined && !etagListMatches(im, src.etag)) throw fail('x-amz-copy-source-If-Match');
  if (im === undefined && ius !== undefined && lm > ius) throw fail('x-amz-copy-source-If-Unmodified-Since');
  if (inm !== undefined && etagListMatches(inm, src.etag)) throw fail('x-amz-copy-source-If-None-Match');
  if (inm === undefined && ims !== undefined && lm <= ims) throw fail('x-amz-copy-source-If-Modified-Since');
}
