import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { S3Error } from '../../s3/errors.js';
import { checkWritePreconditions, requireSupportedWriteConditions } from '../conditions.js';
import type { CompletedUpload } from '../disk.js';
import { readSmall, unquote, xml } from '../http.js';
import type { Operation } from '../op.js';
import type { ObjectMeta, PartMeta } from '../types.js';
import { requireRoot, xmlBlocks, xmlLeaf } from '../xml.js';

const MIN_PART = 5 * 1024 * 1024;

function answer(b: string, done: CompletedUpload) {
  return xml(200, 'CompleteMultipartUploadResult', { Location: done.location, Bucket: b, Key: done.key, ETag: done.etag });
}

export const completeMultipartUpload: Operation = async (d, r) => {
  const b = r.bucket;
  const key = r.key;
  const uploadId = r.query.get('uploadId') ?? '';
  await d.requireBucket(b);
  d.uploadDir(b, uploadId);
  requireSupportedWriteConditions(r.headers);
  // A client that retries a Complete that succeeded (its answer lost on the way) gets the same
  // answer, as S3 gives it.
  const earlier = await d.completedUpload(b, uploadId);
  if (earlier && earlier.key === key) {
    await readSmall(r.body);
    return answer(b, earlier);
  }
  const upload = await d.readUpload(b, key, uploadId);
  const doc = await readSmall(r.body);
  requireRoot(doc, 'CompleteMultipartUpload');
  const requested = xmlBlocks(doc, 'Part').map((p) => ({ partNumber: Number(xmlLeaf(p, 'PartNumber')), etag: xmlLeaf(p, 'ETag') ?? '' }));
  if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  return d.withLock(`upload:${uploadId}`, async () => {
    const done = await d.completedUpload(b, uploadId); // completed while we waited
    if (done && done.key === key) return answer(b, done);
    await d.readUpload(b, key, uploadId); // aborted while we waited
    const have = new Map((await d.readParts(b, uploadId)).map((p) => [p.partNumber, p]));
    const chosen: PartMeta[] = [];
    let prev = 0;
    for (const q of requested) {
      if (!Number.isInteger(q.partNumber) || q.partNumber <= prev) throw new S3Error('InvalidPartOrder');
      prev = q.partNumber;
      const p = have.get(q.partNumber);
      if (!p || unquote(p.etag) !== unquote(q.etag)) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(q.partNumber), ETag: q.etag });
      chosen.push(p);
    }
    chosen.forEach((p, i) => {
      if (i < chosen.length - 1 && p.size < MIN_PART) {
        throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(p.size), MinSizeAllowed: String(MIN_PART), PartNumber: String(p.partNumber), ETag: p.etag });
      }
    });
    const partFiles = async function* (): AsyncGenerator<Buffer> {
      for (const p of chosen) {
        const fh = await open(d.partPath(b, uploadId, p), 'r');
        try {
          yield* fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>;
        } finally {
          await fh.close();
        }
      }
    };
    const spooled = await d.spool(b, partFiles());
    const etagHash = createHash('md5');
    for (const p of chosen) etagHash.update(Buffer.from(unquote(p.etag), 'hex'));
    const meta: ObjectMeta = { key, size: spooled.size, etag: `"${etagHash.digest('hex')}-${chosen.length}"`, lastModified: Date.now(), headers: upload.headers };
    if (upload.tags?.length) meta.tags = upload.tags;
    if (upload.acl !== undefined) meta.acl = upload.acl;
    await d.commit(b, meta, spooled.path, (current) => checkWritePreconditions(r.headers, current));
    const completed: CompletedUpload = { key, etag: meta.etag, location: `/${b}/${encodeURIComponent(key).replace(/%2F/g, '/')}`, completed: Date.now() };
    await d.markCompleted(b, uploadId, completed);
    return answer(b, completed);
  }, d.uploadLock(b, uploadId));
};
