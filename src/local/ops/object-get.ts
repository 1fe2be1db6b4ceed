// GetObject and HeadObject.
import { S3Error } from '../../s3/errors.js';
import { checksumHeaders } from '../checksums.js';
import { etagListMatches, httpDate, parseHttpDate, parseRange, seconds } from '../http.js';
import type { Operation, OpRequest } from '../op.js';
import type { Disk } from '../disk.js';
import { tagCountHeader } from '../tagging.js';
import { utf8ToWire } from '../../s3/wire-text.js';
import type { ObjectMeta } from '../types.js';

/** `partNumber`, checked as S3 checks it; undefined when the request names none. */
function partNumberOf(q: URLSearchParams): number | undefined {
  const v = q.get('partNumber');
  if (v === null) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 10000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: v });
  }
  return Number(v);
}

/**
 * The bytes of part `n`. Parts are addressed by their place in the object (1 to the parts count,
 * x-amz-mp-parts-count), which is how clients that download by part walk them; an object that was
 * not uploaded in parts is its own part 1. Beyond the count: 400 InvalidPart, as S3 answers and
 * Ceph's s3-tests (test_multipart_get_part, test_non_multipart_get_part) hold servers to; some
 * S3-compatible servers (MinIO, versitygw) answer 416 InvalidPartNumber instead.
 */
function partRange(meta: ObjectMeta, n: number): { start: number; end: number; count?: number } {
  const parts = meta.parts;
  const count = parts?.length ?? 1;
  if (n > count) throw new S3Error('InvalidPart', 'The requested partnumber is not satisfiable', { PartNumberRequested: String(n), ActualPartCount: String(count) });
  if (!parts) return { start: 0, end: meta.size - 1 };
  let start = 0;
  for (let i = 0; i < n - 1; i++) start += parts[i]!.size;
  return { start, end: start + parts[n - 1]!.size - 1, count };
}

async function read(d: Disk, r: OpRequest, withBody: boolean) {
  const partNumber = partNumberOf(r.query);
  if (partNumber !== undefined && r.headers['range'] !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }
  const { meta, fh } = await d.openObject(r.bucket, r.key);
  let handedOff = false;
  try {
    const h = r.headers;
    const lm = seconds(meta.lastModified);
    const base: Record<string, string> = { etag: meta.etag, 'last-modified': httpDate(meta.lastModified) };
    // RFC 7232 order: If-Match beats If-Unmodified-Since, If-None-Match beats If-Modified-Since.
    if (h['if-match'] !== undefined) {
      if (!etagListMatches(h['if-match'], meta.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    } else {
      const ius = parseHttpDate(h['if-unmodified-since']);
      if (ius !== undefined && lm > ius) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
    }
    if (h['if-none-match'] !== undefined) {
      if (etagListMatches(h['if-none-match'], meta.etag)) return { status: 304, headers: base };
    } else {
      const ims = parseHttpDate(h['if-modified-since']);
      if (ims !== undefined && lm <= ims) return { status: 304, headers: base };
    }

    const headers: Record<string, string> = { ...meta.headers, ...base, 'accept-ranges': 'bytes', ...tagCountHeader(meta.tags) };
    const q = r.query;
    for (const name of ['content-type', 'content-language', 'expires', 'cache-control', 'content-disposition', 'content-encoding']) {
      const v = q.get(`response-${name}`);
      if (v === null) continue;
      // A line break or other control character no header carries (Node would throw at writeHead).
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) throw new S3Error('InvalidArgument', `The response-${name} value cannot be sent as a header.`, { ArgumentName: `response-${name}` });
      // Text beyond ASCII goes as its UTF-8 bytes, as S3 and RGW send `filename="日本.pdf"`.
      headers[name] = utf8ToWire(v);
    }
    let status = 200;
    let start = 0;
    let end = meta.size - 1;
    const range = partNumber !== undefined ? partRange(meta, partNumber) : parseRange(h['range'], meta.size);
    if (range) {
      ({ start, end } = range);
      if ('count' in range && range.count !== undefined) headers['x-amz-mp-parts-count'] = String(range.count);
      // An empty object has no byte to name: its part 1 is the whole (empty) answer.
      if (end >= start) {
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${meta.size}`;
      }
    }
    // The stored checksum describes the whole object: a Range or a part of a multipart object is
    // answered without it, as S3 does.
    const whole = range === undefined || (partNumber !== undefined && !meta.parts);
    if (whole && h['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED') Object.assign(headers, checksumHeaders(meta));
    headers['content-length'] = String(end - start + 1);
    if (!withBody || end < start) return { status, headers, body: withBody ? '' : undefined };
    handedOff = true;
    return { status, headers, body: fh.createReadStream({ start, end, autoClose: true }) };
  } finally {
    if (!handedOff) await fh.close();
  }
}

export const getObject: Operation = (d, r) => read(d, r, true);
export const headObject: Operation = (d, r) => read(d, r, false);
