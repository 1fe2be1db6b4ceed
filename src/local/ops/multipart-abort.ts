import { rm } from 'node:fs/promises';
import type { Operation } from '../op.js';

export const abortMultipartUpload: Operation = async (d, r) => {
  const uploadId = r.query.get('uploadId') ?? '';
  await d.readUpload(r.bucket, r.key, uploadId);
  await d.withLock(`upload:${uploadId}`, () => rm(d.uploadDir(r.bucket, uploadId), { recursive: true, force: true }), d.uploadLock(r.bucket, uploadId));
  return { status: 204, headers: {} };
};
