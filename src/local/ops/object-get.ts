// GetObject and HeadObject.
import { S3Error } from '../../s3/errors.js';
import { etagListMatches, httpDate, parseHttpDate, parseRange, seconds } from '../http.js';
import type { Operation, OpRequest } from '../op.js';
import type { Disk } from '../disk.js';
import { tagCountHeader } from '../tagging.js';

async function read(d: Disk, r: OpRequest, withBody: boolean) {
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
      if (v !== null) headers[name] = v;
    }
    const range = parseRange(h['range'], meta.size);
    let status = 200;
    let start = 0;
    let end = meta.size - 1;
    if (range) {
      status = 206;
      ({ start, end } = range);
      headers['content-range'] = `bytes ${start}-${end}/${meta.size}`;
    }
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
