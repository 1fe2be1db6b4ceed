import { rm } from 'node:fs/promises';
import { S3Error } from '../../s3/errors.js';
import { cannedFromHeaders } from '../acl.js';
import { checksumHeaders, DEFAULT_ALGORITHM, fullObject, WriteChecksum } from '../checksums.js';
import { checkWritePreconditions, requireSupportedWriteConditions } from '../conditions.js';
import { md5Quoted, storedHeaders } from '../http.js';
import type { Operation } from '../op.js';
import { parseTaggingHeader } from '../tagging.js';
import type { ObjectMeta } from '../types.js';

export const putObject: Operation = async (d, r) => {
  const b = r.bucket;
  const h = r.headers;
  await d.requireBucket(b);
  // Everything the headers can refuse is refused before a byte is stored.
  const tags = parseTaggingHeader(h['x-amz-tagging']);
  const acl = cannedFromHeaders(h);
  const headers = storedHeaders(h);
  requireSupportedWriteConditions(h);
  const sum = new WriteChecksum(h, undefined, r.trailerChecksums ? undefined : DEFAULT_ALGORITHM);
  const spooled = await d.spool(b, r.body as AsyncIterable<Buffer>, sum.observe);
  let checksum;
  try {
    const expected = h['x-amz-decoded-content-length'] ?? (h['content-encoding']?.includes('aws-chunked') ? undefined : h['content-length']);
    if (expected !== undefined && Number(expected) !== spooled.size) throw new S3Error('IncompleteBody');
    const md5 = h['content-md5'];
    if (md5 !== undefined && md5 !== spooled.md5.toString('base64')) {
      if (Buffer.from(md5, 'base64').length !== 16) throw new S3Error('InvalidDigest');
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', { ExpectedDigest: md5 });
    }
    checksum = fullObject(sum.finish(r.trailerChecksums?.()));
  } catch (e) {
    await rm(spooled.path, { force: true });
    throw e;
  }
  const meta: ObjectMeta = { key: r.key, size: spooled.size, etag: md5Quoted(spooled.md5.toString('hex')), lastModified: Date.now(), headers };
  if (tags?.length) meta.tags = tags;
  if (acl !== undefined) meta.acl = acl;
  if (checksum) meta.checksum = checksum;
  await d.commit(b, meta, spooled.path, (current) => checkWritePreconditions(h, current));
  return { status: 200, headers: { etag: meta.etag, ...checksumHeaders(meta) } };
};
