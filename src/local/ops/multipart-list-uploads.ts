import { readdir, readFile } from 'node:fs/promises';
import { intParam, isNotFound, OWNER, xml } from '../http.js';
import { compareKeys } from '../keys.js';
import type { Operation } from '../op.js';
import type { UploadMeta } from '../types.js';

export const listMultipartUploads: Operation = async (d, r) => {
  const b = r.bucket;
  const q = r.query;
  await d.requireBucket(b);
  const prefix = q.get('prefix') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const idMarker = q.get('upload-id-marker') ?? '';
  const maxUploads = intParam(q, 'max-uploads', 1000, 1000);
  let ids: string[] = [];
  try {
    ids = await readdir(d.sysDir(b, 'uploads'));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const uploads: UploadMeta[] = [];
  for (const id of ids) {
    if (!/^[0-9a-f]{32}$/.test(id) || (await d.completedUpload(b, id)) !== undefined) continue;
    try {
      uploads.push(JSON.parse(await readFile(d.sysDir(b, 'uploads', id, 'upload.json'), 'utf8')) as UploadMeta);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  uploads.sort((x, y) => compareKeys(x.key, y.key) || x.initiated - y.initiated || (x.uploadId < y.uploadId ? -1 : 1));
  const eligible = uploads.filter((u) => {
    if (!u.key.startsWith(prefix)) return false;
    if (!keyMarker) return true;
    const c = compareKeys(u.key, keyMarker);
    // Without an upload-id-marker, key-marker skips every upload of that key.
    return c > 0 || (c === 0 && idMarker !== '' && u.uploadId > idMarker);
  });
  const page = eligible.slice(0, maxUploads);
  const truncated = eligible.length > page.length;
  const last = page[page.length - 1];
  return xml(200, 'ListMultipartUploadsResult', {
    Bucket: b,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker,
    NextKeyMarker: truncated ? last?.key : undefined,
    NextUploadIdMarker: truncated ? last?.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    Upload: page.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: new Date(u.initiated).toISOString() })),
  });
};
