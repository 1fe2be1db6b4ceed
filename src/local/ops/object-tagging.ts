import { readSmall } from '../http.js';
import type { Operation } from '../op.js';
import { parseTaggingXml, taggingResponse } from '../tagging.js';

export const getObjectTagging: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  return taggingResponse((await d.readMeta(r.bucket, r.key)).tags ?? []);
};

export const putObjectTagging: Operation = async (d, r) => {
  await d.requireBucket(r.bucket);
  const tags = parseTaggingXml(await readSmall(r.body), 'object');
  await d.updateMeta(r.bucket, r.key, (m) => ({ ...m, tags }));
  return { status: 200, headers: {} };
};

export const deleteObjectTagging: Operation = async (d, r) => {
  await d.updateMeta(r.bucket, r.key, (m) => {
    const { tags: _dropped, ...rest } = m;
    return rest;
  });
  return { status: 204, headers: {} };
};
