// ListObjects (v1), ListObjectsV2, and ListObjectVersions over a store that never versions.
import { S3Error } from '../../s3/errors.js';
import { intParam, OWNER, storageClassOf, xml } from '../http.js';
import { keyBytes, keyOfBytes } from '../keys.js';
import { listingBasics, paginate, type Page } from '../list.js';
import type { Operation, OpRequest } from '../op.js';
import type { Disk } from '../disk.js';
import type { ObjectMeta } from '../types.js';

const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A page of the bucket's objects in UTF-8 key order, after `after`. Paged over the sidecars'
 * names, keys as their UTF-8 bytes (one char each, so plain string order is S3's); only the
 * page's own sidecars are read.
 */
async function objectPage(d: Disk, b: string, opts: { prefix: string; delimiter?: string | undefined; after?: string | undefined; maxKeys: number }): Promise<Page<ObjectMeta>> {
  const prefix = keyBytes(opts.prefix);
  const names = (await d.objectNames(b)).filter((n) => n.key.startsWith(prefix)).sort((x, y) => byBytes(x.key, y.key));
  const delimiter = opts.delimiter === undefined ? undefined : keyBytes(opts.delimiter);
  const after = opts.after === undefined ? undefined : keyBytes(opts.after);
  const named = paginate(names, { prefix, ...(delimiter !== undefined ? { delimiter } : {}), ...(after !== undefined ? { after } : {}), maxKeys: opts.maxKeys }, byBytes);
  const page: Page<ObjectMeta> = {
    contents: await d.readListed(b, named.contents),
    commonPrefixes: named.commonPrefixes.map(keyOfBytes),
    isTruncated: named.isTruncated,
  };
  if (named.last !== undefined) page.last = keyOfBytes(named.last);
  // max-keys=0 asks for nothing: S3 answers an empty page that is not truncated.
  if (opts.maxKeys === 0) page.isTruncated = false;
  return page;
}

async function list(d: Disk, r: OpRequest, version: 1 | 2) {
  const b = r.bucket;
  const q = r.query;
  const { encodingType, enc, prefix, delimiter } = await listingBasics(d, r);
  const maxKeys = intParam(q, 'max-keys', 1000, 1000);
  let after: string | undefined;
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after') ?? undefined;
  const marker = q.get('marker') ?? undefined;
  if (version === 2) {
    if (token !== null) {
      after = Buffer.from(token, 'base64url').toString('utf8');
      if (!token || Buffer.from(after, 'utf8').toString('base64url') !== token) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
    } else after = startAfter || undefined;
  } else after = marker || undefined;

  const page = await objectPage(d, b, { prefix, delimiter, after, maxKeys });
  const contents = page.contents.map((o) => ({
    Key: enc(o.key),
    LastModified: new Date(o.lastModified).toISOString(),
    ETag: o.etag,
    Size: o.size,
    Owner: version === 1 || q.get('fetch-owner') === 'true' ? OWNER : undefined,
    StorageClass: storageClassOf(o.headers),
  }));
  const commonPrefixes = page.commonPrefixes.map((p) => ({ Prefix: enc(p) }));
  if (version === 1) {
    return xml(200, 'ListBucketResult', {
      Name: b,
      Prefix: enc(prefix),
      Marker: enc(marker ?? ''),
      // S3 gives NextMarker only under a delimiter; without one a client continues from the last Key.
      NextMarker: page.isTruncated && delimiter !== undefined ? enc(page.last) : undefined,
      MaxKeys: maxKeys,
      Delimiter: enc(delimiter),
      IsTruncated: page.isTruncated,
      EncodingType: encodingType,
      Contents: contents,
      CommonPrefixes: commonPrefixes,
    });
  }
  return xml(200, 'ListBucketResult', {
    Name: b,
    Prefix: enc(prefix),
    MaxKeys: maxKeys,
    KeyCount: contents.length + commonPrefixes.length,
    Delimiter: enc(delimiter),
    IsTruncated: page.isTruncated,
    EncodingType: encodingType,
    ContinuationToken: token ?? undefined,
    NextContinuationToken: page.isTruncated && page.last !== undefined ? Buffer.from(page.last, 'utf8').toString('base64url') : undefined,
    StartAfter: enc(startAfter),
    Contents: contents,
    CommonPrefixes: commonPrefixes,
  });
}

export const listObjects: Operation = (d, r) => list(d, r, 1);
export const listObjectsV2: Operation = (d, r) => list(d, r, 2);

/**
 * ListObjectVersions. Versioning is never enabled here, so every object is its one version,
 * `null`, and the latest, as S3 lists an unversioned bucket's objects; there are no delete
 * markers. Cleanup code walks this listing (boto3's `bucket.object_versions.delete()`, ceph's
 * s3-tests, Terraform's force_destroy), so it must answer, not 501.
 */
export const listObjectVersions: Operation = async (d, r) => {
  const b = r.bucket;
  const q = r.query;
  const { encodingType, enc, prefix, delimiter } = await listingBasics(d, r);
  const maxKeys = intParam(q, 'max-keys', 1000, 1000);
  const keyMarker = q.get('key-marker') || undefined;
  // An empty marker is no marker: boto3's resource collections send both empty on their first page.
  const versionIdMarker = q.get('version-id-marker') || undefined;
  if (versionIdMarker !== undefined) {
    if (keyMarker === undefined) throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
    if (versionIdMarker !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
  }
  // With one version per key, the versions after (key-marker, null) are those of the keys after it.
  const page = await objectPage(d, b, { prefix, delimiter, after: keyMarker, maxKeys });
  const lastIsKey = page.isTruncated && page.last !== undefined && !page.commonPrefixes.includes(page.last);
  return xml(200, 'ListVersionsResult', {
    Name: b,
    Prefix: enc(prefix),
    KeyMarker: enc(keyMarker ?? ''),
    VersionIdMarker: versionIdMarker ?? '',
    NextKeyMarker: page.isTruncated ? enc(page.last) : undefined,
    NextVersionIdMarker: lastIsKey ? 'null' : undefined,
    MaxKeys: maxKeys,
    Delimiter: enc(delimiter),
    IsTruncated: page.isTruncated,
    EncodingType: encodingType,
    Version: page.contents.map((o) => ({
      Key: enc(o.key),
      VersionId: 'null',
      IsLatest: true,
      LastModified: new Date(o.lastModified).toISOString(),
      ETag: o.etag,
      Size: o.size,
      Owner: OWNER,
      StorageClass: storageClassOf(o.headers),
    })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
};
