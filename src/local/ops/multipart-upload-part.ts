// UploadPart and UploadPartCopy.
import { rm } from 'node:fs/promises';
import { S3Error } from '../../s3/errors.js';
import { checkCopySourceConditions } from '../../s3/copy-source-conditions.js';
import { checksumElements, WriteChecksum } from '../checksums.js';
import type { Spooled } from '../disk.js';
import { md5Quoted, parseCopySource, xml } from '../http.js';
import { validateBucket, validateKey } from '../keys.js';
import type { Operation } from '../op.js';
import type { PartMeta } from '../types.js';

export const uploadPart: Operation = async (d, r) => {
  const b = r.bucket;
  const uploadId = r.query.get('uploadId') ?? '';
  const pn = r.query.get('partNumber') ?? '';
  if (!/^\d+$/.test(pn) || Number(pn) < 1 || Number(pn) > 10000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: pn });
  }
  const partNumber = Number(pn);
  const upload = await d.readUpload(b, r.key, uploadId);
  const h = r.headers;
  const copySource = h['x-amz-copy-source'];
  // A copied part's checksum is computed here; an uploaded one is checked against its claim.
  const sum = new WriteChecksum(copySource !== undefined ? {} : h, upload.checksumAlgorithm);
  let spooled: Spooled;
  if (copySource !== undefined) {
    const src = parseCopySource(copySource);
    validateBucket(src.bucket);
    validateKey(src.key);
    const { meta: srcMeta, fh } = await d.openObject(src.bucket, src.key);
    try {
      checkCopySourceConditions(h, srcMeta);
      let start = 0;
      let end = srcMeta.size - 1;
      const range = h['x-amz-copy-source-range'];
      if (range !== undefined) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
        if (!m || Number(m[2]) < Number(m[1])) {
          throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range });
        }
        if (Number(m[2]) >= srcMeta.size) {
          throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${srcMeta.size}`, { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range });
        }
        start = Number(m[1]);
        end = Number(m[2]);
      }
      spooled = await d.spool(b, end < start ? (async function* () {})() : fh.createReadStream({ start, end, autoClose: false }), sum.observe);
    } finally {
      await fh.close();
    }
  } else {
    spooled = await d.spool(b, r.body as AsyncIterable<Buffer>, sum.observe);
    const expected = h['x-amz-decoded-content-length'] ?? (h['content-encoding']?.includes('aws-chunked') ? undefined : h['content-length']);
    const md5 = h['content-md5'];
    if ((expected !== undefined && Number(expected) !== spooled.size) || (md5 !== undefined && md5 !== spooled.md5.toString('base64'))) {
      await rm(spooled.path, { force: true });
      throw expected !== undefined && Number(expected) !== spooled.size ? new S3Error('IncompleteBody') : new S3Error('BadDigest');
    }
  }
  let checksum;
  try {
    checksum = sum.finish(copySource !== undefined ? {} : r.trailerChecksums?.());
  } catch (e) {
    await rm(spooled.path, { force: true });
    throw e;
  }
  const part: PartMeta = { partNumber, etag: md5Quoted(spooled.md5.toString('hex')), size: spooled.size, lastModified: Date.now() };
  if (checksum) part.checksum = checksum;
  await d.commitPart(b, uploadId, part, spooled.path);
  if (copySource !== undefined) {
    return xml(200, 'CopyPartResult', { LastModified: new Date(part.lastModified).toISOString(), ETag: part.etag, ...checksumElements(checksum) });
  }
  return { status: 200, headers: { etag: part.etag, ...(checksum ? { [`x-amz-checksum-${checksum.algorithm}`]: checksum.value } : {}) } };
};
