// Which operation a request is, decided as S3 does: by the resource level (service, bucket,
// object), then the sub-resource in the query, and only then the verb. Every sub-resource of the
// S3 API has an answer here, so none can fall through to the plain object or bucket operation:
// those the store does not implement answer 501 NotImplemented and touch nothing.
import { S3Error } from '../s3/errors.js';
import type { AnonymousNeed } from './acl.js';
import type { Operation } from './op.js';
import { createBucket } from './ops/bucket-create.js';
import { deleteBucket } from './ops/bucket-delete.js';
import { deleteObjects } from './ops/bucket-delete-objects.js';
import { headBucket } from './ops/bucket-head.js';
import { getBucketAcl, putBucketAcl } from './ops/bucket-acl.js';
import { listObjects, listObjectsV2, listObjectVersions } from './ops/bucket-list-objects.js';
import { getBucketLocation } from './ops/bucket-location.js';
import { deleteBucketTagging, getBucketTagging, putBucketTagging } from './ops/bucket-tagging.js';
import { getBucketVersioning } from './ops/bucket-versioning.js';
import { getBucketLogging } from './ops/bucket-logging.js';
import { getBucketRequestPayment } from './ops/bucket-request-payment.js';
import { abortMultipartUpload } from './ops/multipart-abort.js';
import { completeMultipartUpload } from './ops/multipart-complete.js';
import { createMultipartUpload } from './ops/multipart-create.js';
import { listParts } from './ops/multipart-list-parts.js';
import { listMultipartUploads } from './ops/multipart-list-uploads.js';
import { uploadPart } from './ops/multipart-upload-part.js';
import { getObjectAcl, putObjectAcl } from './ops/object-acl.js';
import { getObjectAttributes } from './ops/object-attributes.js';
import { copyObject } from './ops/object-copy.js';
import { deleteObject } from './ops/object-delete.js';
import { getObject, headObject } from './ops/object-get.js';
import { putObject } from './ops/object-put.js';
import { deleteObjectTagging, getObjectTagging, putObjectTagging } from './ops/object-tagging.js';
import { listBuckets } from './ops/service-list-buckets.js';

export type Level = 'service' | 'bucket' | 'object';

/**
 * The query names that select an S3 operation other than the plain one (botocore's S3 model,
 * `requestUri`), in the order they are tried. `uploadId` comes last: it selects the multipart
 * operations, and a request naming another sub-resource beside it is that sub-resource's.
 */
export const SUBRESOURCES: readonly string[] = [
  'abac', 'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'location', 'logging', 'metadataConfiguration', 'metadataInventoryTable', 'metadataJournalTable',
  'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock',
  'renameObject', 'replication', 'requestPayment', 'restore', 'retention', 'select', 'session', 'tagging', 'torrent',
  'versioning', 'versions', 'website', 'uploads', 'uploadId',
];

export interface Route {
  level: Level;
  method: string;
  /** the sub-resource that selects it; undefined for the plain operation */
  sub?: string;
  /** for the plain PUT of an object: only with (true) or without (false) x-amz-copy-source */
  copy?: boolean;
  name: string;
  op: Operation;
  /** what an anonymous request needs the canned ACLs to allow */
  anonymous: AnonymousNeed;
}

export const ROUTES: readonly Route[] = [
  { level: 'service', method: 'GET', name: 'ListBuckets', op: listBuckets, anonymous: 'never' },

  { level: 'bucket', method: 'GET', sub: 'acl', name: 'GetBucketAcl', op: getBucketAcl, anonymous: 'never' },
  { level: 'bucket', method: 'PUT', sub: 'acl', name: 'PutBucketAcl', op: putBucketAcl, anonymous: 'never' },
  { level: 'bucket', method: 'GET', sub: 'tagging', name: 'GetBucketTagging', op: getBucketTagging, anonymous: 'never' },
  { level: 'bucket', method: 'PUT', sub: 'tagging', name: 'PutBucketTagging', op: putBucketTagging, anonymous: 'never' },
  { level: 'bucket', method: 'DELETE', sub: 'tagging', name: 'DeleteBucketTagging', op: deleteBucketTagging, anonymous: 'never' },
  { level: 'bucket', method: 'GET', sub: 'versioning', name: 'GetBucketVersioning', op: getBucketVersioning, anonymous: 'never' },
  { level: 'bucket', method: 'GET', sub: 'logging', name: 'GetBucketLogging', op: getBucketLogging, anonymous: 'never' },
  { level: 'bucket', method: 'GET', sub: 'requestPayment', name: 'GetBucketRequestPayment', op: getBucketRequestPayment, anonymous: 'never' },
  { level: 'bucket', method: 'GET', sub: 'location', name: 'GetBucketLocation', op: getBucketLocation, anonymous: 'never' },
  { level: 'bucket', method: 'GET', sub: 'uploads', name: 'ListMultipartUploads', op: listMultipartUploads, anonymous: 'list-bucket' },
  { level: 'bucket', method: 'GET', sub: 'versions', name: 'ListObjectVersions', op: listObjectVersions, anonymous: 'list-bucket' },
  { level: 'bucket', method: 'POST', sub: 'delete', name: 'DeleteObjects', op: deleteObjects, anonymous: 'write-bucket' },
  { level: 'bucket', method: 'GET', name: 'ListObjects', op: listObjects, anonymous: 'list-bucket' },
  { level: 'bucket', method: 'HEAD', name: 'HeadBucket', op: headBucket, anonymous: 'list-bucket' },
  { level: 'bucket', method: 'PUT', name: 'CreateBucket', op: createBucket, anonymous: 'never' },
  { level: 'bucket', method: 'DELETE', name: 'DeleteBucket', op: deleteBucket, anonymous: 'never' },

  { level: 'object', method: 'GET', sub: 'acl', name: 'GetObjectAcl', op: getObjectAcl, anonymous: 'never' },
  { level: 'object', method: 'PUT', sub: 'acl', name: 'PutObjectAcl', op: putObjectAcl, anonymous: 'never' },
  { level: 'object', method: 'GET', sub: 'attributes', name: 'GetObjectAttributes', op: getObjectAttributes, anonymous: 'read-object' },
  { level: 'object', method: 'GET', sub: 'tagging', name: 'GetObjectTagging', op: getObjectTagging, anonymous: 'never' },
  { level: 'object', method: 'PUT', sub: 'tagging', name: 'PutObjectTagging', op: putObjectTagging, anonymous: 'never' },
  { level: 'object', method: 'DELETE', sub: 'tagging', name: 'DeleteObjectTagging', op: deleteObjectTagging, anonymous: 'never' },
  { level: 'object', method: 'POST', sub: 'uploads', name: 'CreateMultipartUpload', op: createMultipartUpload, anonymous: 'write-bucket' },
  { level: 'object', method: 'PUT', sub: 'uploadId', name: 'UploadPart', op: uploadPart, anonymous: 'write-bucket' },
  { level: 'object', method: 'GET', sub: 'uploadId', name: 'ListParts', op: listParts, anonymous: 'write-bucket' },
  { level: 'object', method: 'POST', sub: 'uploadId', name: 'CompleteMultipartUpload', op: completeMultipartUpload, anonymous: 'write-bucket' },
  { level: 'object', method: 'DELETE', sub: 'uploadId', name: 'AbortMultipartUpload', op: abortMultipartUpload, anonymous: 'write-bucket' },
  { level: 'object', method: 'PUT', copy: true, name: 'CopyObject', op: copyObject, anonymous: 'never' },
  { level: 'object', method: 'PUT', copy: false, name: 'PutObject', op: putObject, anonymous: 'write-bucket' },
  { level: 'object', method: 'GET', name: 'GetObject', op: getObject, anonymous: 'read-object' },
  { level: 'object', method: 'HEAD', name: 'HeadObject', op: headObject, anonymous: 'read-object' },
  { level: 'object', method: 'DELETE', name: 'DeleteObject', op: deleteObject, anonymous: 'write-bucket' },
];

/** The sub-resource a query names, if any (the first in SUBRESOURCES' order). */
export function subresourceOf(query: URLSearchParams): string | undefined {
  for (const s of SUBRESOURCES) if (query.has(s)) return s;
  return undefined;
}

export function route(method: string, level: Level, query: URLSearchParams, headers: Record<string, string>): Route {
  const m = method.toUpperCase();
  const sub = subresourceOf(query);
  const candidates = ROUTES.filter((r) => r.level === level && r.sub === sub);
  // A HEAD with a sub-resource reads what its GET reads, as the gateway classifies it: the GET's
  // answer, whose body the HTTP layer does not send.
  const as = m === 'HEAD' && sub !== undefined ? 'GET' : m;
  const found = candidates.find((r) => r.method === as && (r.copy === undefined || r.copy === (headers['x-amz-copy-source'] !== undefined)));
  if (found) {
    if (found.name === 'ListObjects' && query.get('list-type') === '2') return { ...found, name: 'ListObjectsV2', op: listObjectsV2 };
    return found;
  }
  // The gateway refused (405) what S3 defines no operation for before the store saw it
  // (authorize/operation.ts); a sub-resource here is an S3 operation the store does not keep,
  // such as PutBucketVersioning.
  if (sub !== undefined) {
    const what = candidates.length === 0 ? `the ${sub} sub-resource` : `${m} ?${sub}`;
    throw new S3Error('NotImplemented', `The local store does not implement ${what} (${m} on a ${level})`);
  }
  throw new S3Error('MethodNotAllowed');
}
