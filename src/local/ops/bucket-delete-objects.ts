import { S3Error } from '../../s3/errors.js';
import { checkDeletePrecondition } from '../conditions.js';
import { readSmall, xml } from '../http.js';
import { validateKey } from '../keys.js';
import type { Operation } from '../op.js';
import { requireRoot, xmlBlocks, xmlLeaf } from '../xml.js';

export const deleteObjects: Operation = async (d, r) => {
  const b = r.bucket;
  await d.requireBucket(b);
  const doc = await readSmall(r.body);
  requireRoot(doc, 'Delete');
  const quiet = xmlLeaf(doc, 'Quiet') === 'true';
  const objects = xmlBlocks(doc, 'Object');
  if (objects.length === 0 || objects.length > 1000) throw new S3Error('MalformedXML');
  const deleted: { Key: string; VersionId?: string }[] = [];
  const errors: { Key: string; VersionId?: string; Code: string; Message: string }[] = [];
  // Refused as a whole before any key is deleted: a malformed entry, or a directory bucket's
  // condition (not kept here).
  for (const o of objects) {
    if (xmlLeaf(o, 'Key') === undefined) throw new S3Error('MalformedXML');
    for (const f of ['LastModifiedTime', 'Size']) {
      if (xmlLeaf(o, f) !== undefined) throw new S3Error('NotImplemented', `A condition on ${f} in DeleteObjects is not implemented by the local store`);
    }
  }
  for (const o of objects) {
    const key = xmlLeaf(o, 'Key')!;
    const version = xmlLeaf(o, 'VersionId');
    // S3 names the version asked for in the entry for it, deleted or not.
    const named = version !== undefined ? { Key: key, VersionId: version } : { Key: key };
    try {
      validateKey(key);
      // Versioning is never enabled here: only the "null" version exists, and deleting another
      // version must not delete the object.
      if (version !== undefined && version !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified');
      // Per object, S3's conditional delete: an ETag to match (the others are directory buckets').
      const etag = xmlLeaf(o, 'ETag');
      await d.removeObject(b, key, (current) => checkDeletePrecondition(etag, current));
      deleted.push(named);
    } catch (e) {
      if (!(e instanceof S3Error)) throw e;
      errors.push({ ...named, Code: e.code, Message: e.message });
    }
  }
  return xml(200, 'DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors });
};
