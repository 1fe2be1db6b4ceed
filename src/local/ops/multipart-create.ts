import { mkdir } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { cannedFromHeaders } from '../acl.js';
import { uploadChecksum } from '../checksums.js';
import { storedHeaders, xml } from '../http.js';
import type { Operation } from '../op.js';
import { parseTaggingHeader } from '../tagging.js';
import type { UploadMeta } from '../types.js';

export const createMultipartUpload: Operation = async (d, r) => {
  const b = r.bucket;
  await d.requireBucket(b);
  const tags = parseTaggingHeader(r.headers['x-amz-tagging']);
  const acl = cannedFromHeaders(r.headers);
  const checksum = uploadChecksum(r.headers);
  const stored = storedHeaders(r.headers);
  await d.ensureSys(b);
  const uploadId = randomUUID().replace(/-/g, '');
  const dir = d.uploadDir(b, uploadId);
  await mkdir(dir);
  const u: UploadMeta = { key: r.key, uploadId, initiated: Date.now(), headers: stored };
  if (tags?.length) u.tags = tags;
  if (acl !== undefined) u.acl = acl;
  const headers: Record<string, string> = {};
  if (checksum.algorithm) {
    u.checksumAlgorithm = checksum.algorithm;
    u.checksumType = checksum.type!;
    headers['x-amz-checksum-algorithm'] = checksum.algorithm.toUpperCase();
    headers['x-amz-checksum-type'] = checksum.type!;
  }
  await d.writeJsonAtomic(b, join(dir, 'upload.json'), u);
  return xml(200, 'InitiateMultipartUploadResult', { Bucket: b, Key: r.key, UploadId: uploadId }, headers);
};
