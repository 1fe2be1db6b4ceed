import { escapeXml } from '../../s3/errors.js';
import type { Operation } from '../op.js';
import { S3_NS } from '../xml.js';

export const getBucketLocation: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const meta = await d.bucketMeta(r.bucket);
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NS}">${escapeXml(meta.location)}</LocationConstraint>`,
  };
};
