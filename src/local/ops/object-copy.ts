import { S3Error } from '../../s3/errors.js';
import { cannedFromHeaders } from '../acl.js';
import { checksumElements, copyChecksum, fullObject, type WriteChecksum } from '../checksums.js';
import { checkWritePreconditions } from '../conditions.js';
import { checkCopySourceConditions } from '../../s3/copy-source-conditions.js';
import type { Spooled } from '../disk.js';
import { md5Quoted, parseCopySource, REDIRECT_LOCATION, requestedStorageClass, STORAGE_CLASS, storedHeaders, xml } from '../http.js';
import { validateBucket, validateKey } from '../keys.js';
import type { Operation } from '../op.js';
import { parseTaggingHeader } from '../tagging.js';
import type { ObjectMeta } from '../types.js';

function directive(h: Record<string, string>, name: string): 'COPY' | 'REPLACE' {
  const v = (h[name] ?? 'COPY').toUpperCase();
  if (v !== 'COPY' && v !== 'REPLACE') throw new S3Error('InvalidArgument', `Unknown ${name === 'x-amz-tagging-directive' ? 'tagging' : 'metadata'} directive.`, { ArgumentName: name, ArgumentValue: v });
  return v;
}

/**
 * The source's stored headers but its website redirect location and storage class, which S3
 * never copies: the copy has those the request names, else none and STANDARD.
 */
function copiedHeaders(src: Record<string, string>, redirect: string | undefined, storageClass: string | undefined): Record<string, string> {
  const out = { ...src };
  delete out[REDIRECT_LOCATION];
  delete out[STORAGE_CLASS];
  if (redirect !== undefined) out[REDIRECT_LOCATION] = redirect;
  if (storageClass !== undefined) out[STORAGE_CLASS] = storageClass;
  return out;
}

export const copyObject: Operation = async (d, r) => {
  const b = r.bucket;
  const key = r.key;
  const h = r.headers;
  const src = parseCopySource(h['x-amz-copy-source'] ?? '');
  validateBucket(src.bucket);
  validateKey(src.key);
  await d.requireBucket(b);
  const metaDirective = directive(h, 'x-amz-metadata-directive');
  const tagDirective = directive(h, 'x-amz-tagging-directive');
  const newTags = parseTaggingHeader(h['x-amz-tagging']);
  const acl = cannedFromHeaders(h);
  const redirect = h[REDIRECT_LOCATION];
  const storageClass = requestedStorageClass(h);
  const replaced = metaDirective === 'REPLACE' ? storedHeaders(h) : undefined;
  // Asking for encryption is a change too: S3 takes a copy onto itself with
  // x-amz-server-side-encryption (minio-go's CopyObject with SSE-S3 does it), and the store
  // refused it. Only SSE-S3 gets this far (refuseEncryption).
  if (src.bucket === b && src.key === key && metaDirective === 'COPY' && redirect === undefined && h[STORAGE_CLASS] === undefined && h['x-amz-server-side-encryption'] === undefined) {
    throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  const { meta: srcMeta, fh } = await d.openObject(src.bucket, src.key);
  let spooled: Spooled;
  let sum: WriteChecksum;
  try {
    checkCopySourceConditions(h, srcMeta);
    // The copy's checksum is computed over the bytes copied, never carried over unread.
    sum = copyChecksum(h, srcMeta);
    spooled = await d.spool(b, fh.createReadStream({ autoClose: false }), sum.observe);
  } finally {
    await fh.close();
  }
  const meta: ObjectMeta = {
    key,
    size: spooled.size,
    etag: md5Quoted(spooled.md5.toString('hex')),
    lastModified: Date.now(),
    headers: replaced ?? copiedHeaders(srcMeta.headers, redirect, storageClass),
  };
  const tags = tagDirective === 'REPLACE' ? newTags : srcMeta.tags;
  if (tags?.length) meta.tags = tags;
  // S3 does not copy the source's ACL: the new object gets the one asked for, or private.
  if (acl !== undefined) meta.acl = acl;
  const checksum = fullObject(sum.finish());
  if (checksum) meta.checksum = checksum;
  await d.commit(b, meta, spooled.path, (current) => checkWritePreconditions(h, current));
  return xml(200, 'CopyObjectResult', { LastModified: new Date(meta.lastModified).toISOString(), ETag: meta.etag, ...checksumElements(checksum) });
};
