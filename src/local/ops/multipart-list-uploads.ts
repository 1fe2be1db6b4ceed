import { readdir, readFile } from 'node:fs/promises';
import { intParam, isNotFound, OWNER, storageClassOf, xml } from '../http.js';
import { compareKeys } from '../keys.js';
import { listingBasics } from '../list.js';
import type { Operation } from '../op.js';
import type { UploadMeta } from '../types.js';

export const listMultipartUploads: Operation = async (d, r) => {
  const b = r.bucket;
  const q = r.query;
  const { encodingType, enc, prefix, delimiter } = await listingBasics(d, r);
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
  // A delimiter rolls uploads up into common prefixes, which count toward max-uploads as uploads
  // do; a prefix given back as the key-marker is not repeated on the next page.
  const page: UploadMeta[] = [];
  const commonPrefixes: string[] = [];
  let truncated = false;
  let next: { key: string; uploadId?: string } | undefined;
  for (const u of eligible) {
    let rolled: string | undefined;
    if (delimiter) {
      const at = u.key.indexOf(delimiter, prefix.length);
      if (at >= 0) rolled = u.key.slice(0, at + delimiter.length);
    }
    if (rolled !== undefined && (rolled === commonPrefixes[commonPrefixes.length - 1] || rolled === keyMarker)) continue;
    if (page.length + commonPrefixes.length >= maxUploads) {
      truncated = true;
      break;
    }
    if (rolled !== undefined) {
      commonPrefixes.push(rolled);
      next = { key: rolled };
    } else {
      page.push(u);
      next = { key: u.key, uploadId: u.uploadId };
    }
  }
  return xml(200, 'ListMultipartUploadsResult', {
    Bucket: b,
    KeyMarker: enc(keyMarker),
    UploadIdMarker: idMarker,
    NextKeyMarker: truncated ? enc(next?.key) : undefined,
    Prefix: enc(prefix),
    Delimiter: enc(delimiter),
    NextUploadIdMarker: truncated ? next?.uploadId ?? '' : undefined,
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    Upload: page.map((u) => ({ Key: enc(u.key), UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: storageClassOf(u.headers), Initiated: new Date(u.initiated).toISOString() })),
    CommonPrefixes: commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    EncodingType: encodingType,
  });
};
