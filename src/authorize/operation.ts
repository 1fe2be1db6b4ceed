// Every request is classified into its S3 operation before anything is allowed: grants are
// written in actions (read, write, list, delete, admin), and the provider profile may sign
// each operation differently.
import type { Action } from '../config/types.js';
import { PROVIDER_DETAIL_READS } from '../s3/provider-details.js';

export interface Operation {
  name: string;
  action: Action;
}

// Bucket sub-resources, as [query name, operation] in the order they are tried. GET reads the
// configuration (read), PUT/DELETE change it (admin); either needs a grant on the whole bucket.
const BUCKET_SUBRESOURCES = Object.entries({
  acl: 'BucketAcl', cors: 'BucketCors', lifecycle: 'BucketLifecycleConfiguration', location: 'BucketLocation',
  logging: 'BucketLogging', notification: 'BucketNotificationConfiguration', policy: 'BucketPolicy',
  replication: 'BucketReplication', requestPayment: 'BucketRequestPayment', tagging: 'BucketTagging',
  versioning: 'BucketVersioning', website: 'BucketWebsite', encryption: 'BucketEncryption',
  'object-lock': 'ObjectLockConfiguration', ownershipControls: 'BucketOwnershipControls',
  publicAccessBlock: 'PublicAccessBlock', accelerate: 'BucketAccelerateConfiguration',
  analytics: 'BucketAnalyticsConfiguration', inventory: 'BucketInventoryConfiguration', metrics: 'BucketMetricsConfiguration',
  'intelligent-tiering': 'BucketIntelligentTieringConfiguration', policyStatus: 'BucketPolicyStatus',
  metadataTable: 'BucketMetadataTableConfiguration', metadataConfiguration: 'BucketMetadataConfiguration', session: 'Session',
  abac: 'BucketAbac',
});

// Bucket sub-resources S3 defines only a PUT for, named Update…: UpdateBucketMetadataInventoryTableConfiguration.
const BUCKET_UPDATES = Object.entries({
  metadataInventoryTable: 'BucketMetadataInventoryTableConfiguration', metadataJournalTable: 'BucketMetadataJournalTableConfiguration',
});

const OBJECT_SUBRESOURCES = Object.entries({
  acl: 'ObjectAcl', tagging: 'ObjectTagging', retention: 'ObjectRetention', 'legal-hold': 'ObjectLegalHold',
  attributes: 'ObjectAttributes', torrent: 'ObjectTorrent',
});

/**
 * Every query name that selects an operation. A request may name one (uploadId goes with
 * partNumber, which is not in the set): authorize/view.ts refuses two, or one in another case.
 */
export const SUBRESOURCES: ReadonlySet<string> = new Set([
  ...BUCKET_SUBRESOURCES.map(([n]) => n), ...BUCKET_UPDATES.map(([n]) => n), ...OBJECT_SUBRESOURCES.map(([n]) => n),
  'uploads', 'uploadId', 'versions', 'delete', 'restore', 'select', 'renameObject',
]);

/**
 * Sub-resource and method pairs that S3 does not define (there is no DeleteBucketVersioning, no
 * PutObjectAttributes). They are refused (405) rather than sent on: a provider that does not know
 * the pair may run the plain operation in its place, and RGW 16 does, deleting an empty bucket for
 * DELETE ?versioning and overwriting the object with the body for PUT ?attributes
 * (test/ceph/unknown-subresources.test.ts).
 */
const UNDEFINED: ReadonlySet<string> = new Set([
  'PutBucketLocation', 'PutBucketPolicyStatus', 'PutBucketMetadataTableConfiguration', 'PutBucketMetadataConfiguration', 'PutSession',
  'DeleteBucketAcl', 'DeleteBucketLocation', 'DeleteBucketLogging', 'DeleteBucketNotificationConfiguration', 'DeleteBucketRequestPayment',
  'DeleteBucketVersioning', 'DeleteObjectLockConfiguration', 'DeleteBucketAccelerateConfiguration', 'DeleteBucketPolicyStatus', 'DeleteSession',
  'DeleteBucketAbac',
  'PutObjectAttributes', 'PutObjectTorrent',
]);

/** Bucket-level operations that may be narrowed by a grant's prefix: they list, and only under their own `prefix`. */
export const LISTINGS: ReadonlySet<string> = new Set(['ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'HeadBucket']);

/** What classify reads of the query: URLSearchParams fits, and so does QueryView. */
export interface QueryLookup {
  has(name: string): boolean;
  get(name: string): string | null;
}

/**
 * The query as classify and the route read it, over the parsed pairs. A scan, not a Set: a
 * request has a handful of pairs, and a Set hashed every name of every request.
 */
export class QueryView implements QueryLookup {
  constructor(private readonly pairs: [string, string][]) {}

  has(name: string): boolean {
    for (let i = 0; i < this.pairs.length; i++) if (this.pairs[i]![0] === name) return true;
    return false;
  }

  get(name: string): string | null {
    for (let i = 0; i < this.pairs.length; i++) if (this.pairs[i]![0] === name) return this.pairs[i]![1];
    return null;
  }

  /** Whether any pair's name is in `names`. */
  some(names: ReadonlySet<string>): boolean {
    for (let i = 0; i < this.pairs.length; i++) if (names.has(this.pairs[i]![0])) return true;
    return false;
  }
}

function has(q: QueryLookup, name: string): boolean {
  return q.has(name);
}

/**
 * Whether the query names any sub-resource. Called where a request would otherwise be the plain
 * operation of its level and method: a sub-resource that did not select an operation there (DELETE
 * /bucket?uploads, DELETE /bucket/key?lifecycle, PUT /bucket/key?uploadId without partNumber) names
 * none S3 defines, and must not run the plain one (DeleteBucket, DeleteObject, PutObject) instead.
 */
function namesSubresource(q: QueryLookup): boolean {
  if (q instanceof QueryView) return q.some(SUBRESOURCES);
  for (const s of SUBRESOURCES) if (q.has(s)) return true;
  return false;
}

/**
 * The operation, with its action. Reading a setting whose answer carries the provider's account
 * (policy, ACL, logging...) is an admin action: src/s3/provider-details.ts.
 */
export function classify(method: string, bucket: string | undefined, key: string | undefined, query: QueryLookup, headers: Record<string, string | string[] | undefined>): Operation {
  const op = classifyRequest(method, bucket, key, query, headers);
  return op.action !== 'admin' && PROVIDER_DETAIL_READS.has(op.name) ? { name: op.name, action: 'admin' } : op;
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS']);
const UNKNOWN: Operation = { name: 'Unknown', action: 'admin' };

// Indexed loops over the sub-resource tables, not `for (const [sub, op] of ...)`: that
// destructuring cost iterator objects per request in place (docs/performance.md, flow).
function classifyRequest(method: string, bucket: string | undefined, key: string | undefined, query: QueryLookup, headers: Record<string, string | string[] | undefined>): Operation {
  // Node hands the method in upper case: no upper-cased copy of it per request.
  const m = METHODS.has(method) ? method : method.toUpperCase();
  if (!bucket) {
    return m === 'GET' ? { name: 'ListBuckets', action: 'list' } : { name: 'Unknown', action: 'admin' };
  }
  if (key === undefined) {
    if (m === 'GET' || m === 'HEAD') {
      // A HEAD is a GET without the body (providers answer it so): with a sub-resource it reads
      // that sub-resource, and is authorized as the GET.
      if (has(query, 'uploads')) return { name: 'ListMultipartUploads', action: 'list' };
      if (has(query, 'versions')) return { name: 'ListObjectVersions', action: 'list' };
      for (let i = 0; i < BUCKET_SUBRESOURCES.length; i++) {
        const entry = BUCKET_SUBRESOURCES[i]!;
        if (has(query, entry[0])) return { name: `Get${entry[1]}`, action: 'read' };
      }
      if (namesSubresource(query)) return UNKNOWN;
      if (m === 'HEAD') return { name: 'HeadBucket', action: 'list' };
      if (query.get('list-type') === '2') return { name: 'ListObjectsV2', action: 'list' };
      return { name: 'ListObjects', action: 'list' };
    }
    if (m === 'POST' && has(query, 'delete')) return { name: 'DeleteObjects', action: 'delete' };
    if (m === 'POST' && has(query, 'metadataTable')) return { name: 'CreateBucketMetadataTableConfiguration', action: 'admin' };
    if (m === 'POST' && has(query, 'metadataConfiguration')) return { name: 'CreateBucketMetadataConfiguration', action: 'admin' };
    // A browser form upload (POST Object): the key and the credentials are in the form.
    if (m === 'POST') return namesSubresource(query) ? UNKNOWN : { name: 'PostObject', action: 'write' };
    if (m === 'PUT' || m === 'DELETE') {
      for (let i = 0; i < BUCKET_SUBRESOURCES.length; i++) {
        const entry = BUCKET_SUBRESOURCES[i]!;
        if (!has(query, entry[0])) continue;
        const name = `${m === 'PUT' ? 'Put' : 'Delete'}${entry[1]}`;
        return UNDEFINED.has(name) ? UNKNOWN : { name, action: 'admin' };
      }
      for (let i = 0; i < BUCKET_UPDATES.length; i++) {
        if (has(query, BUCKET_UPDATES[i]![0])) return m === 'PUT' ? { name: `Update${BUCKET_UPDATES[i]![1]}`, action: 'admin' } : UNKNOWN;
      }
      if (namesSubresource(query)) return UNKNOWN;
      return m === 'PUT' ? { name: 'CreateBucket', action: 'admin' } : { name: 'DeleteBucket', action: 'admin' };
    }
    return { name: 'Unknown', action: 'admin' };
  }
  const copy = headers['x-amz-copy-source'] !== undefined;
  switch (m) {
    case 'GET':
    case 'HEAD': {
      if (has(query, 'uploadId')) return { name: 'ListParts', action: 'read' };
      for (let i = 0; i < OBJECT_SUBRESOURCES.length; i++) if (has(query, OBJECT_SUBRESOURCES[i]![0])) return { name: `Get${OBJECT_SUBRESOURCES[i]![1]}`, action: 'read' };
      if (namesSubresource(query)) return UNKNOWN;
      return { name: m === 'GET' ? 'GetObject' : 'HeadObject', action: 'read' };
    }
    case 'PUT': {
      // Renames name a second object (x-amz-rename-source) s3gate does not authorize yet: refused.
      if (has(query, 'renameObject')) return { name: 'RenameObject', action: 'write' };
      if (has(query, 'partNumber') && has(query, 'uploadId')) return { name: copy ? 'UploadPartCopy' : 'UploadPart', action: 'write' };
      // Changes a stored object's encryption in place; refused (501) by authorize until supported.
      if (has(query, 'encryption')) return { name: 'UpdateObjectEncryption', action: 'write' };
      for (let i = 0; i < OBJECT_SUBRESOURCES.length; i++) {
        if (!has(query, OBJECT_SUBRESOURCES[i]![0])) continue;
        const name = `Put${OBJECT_SUBRESOURCES[i]![1]}`;
        return UNDEFINED.has(name) ? UNKNOWN : { name, action: 'write' };
      }
      if (namesSubresource(query)) return UNKNOWN;
      return { name: copy ? 'CopyObject' : 'PutObject', action: 'write' };
    }
    case 'POST': {
      if (has(query, 'uploads')) return { name: 'CreateMultipartUpload', action: 'write' };
      if (has(query, 'uploadId')) return { name: 'CompleteMultipartUpload', action: 'write' };
      if (has(query, 'restore')) return { name: 'RestoreObject', action: 'write' };
      if (has(query, 'select')) return { name: 'SelectObjectContent', action: 'read' };
      if (namesSubresource(query)) return UNKNOWN;
      return { name: 'PostObject', action: 'write' };
    }
    case 'DELETE': {
      if (has(query, 'uploadId')) return { name: 'AbortMultipartUpload', action: 'write' };
      if (has(query, 'tagging')) return { name: 'DeleteObjectTagging', action: 'write' };
      // DELETE ?acl, ?retention… is no S3 operation: never a DeleteObject of the key.
      if (namesSubresource(query)) return UNKNOWN;
      return { name: 'DeleteObject', action: 'delete' };
    }
    default:
      return { name: 'Unknown', action: 'admin' };
  }
}
