// The IAM action S3 checks for each operation (the "Permissions" of each operation in the S3 API
// reference), for sessions whose policy named actions (src/sts/policy.ts). A configured key is
// granted whole classes (read, write, list, delete, admin); a session policy says more than that,
// and is held to exactly what it says: the session may do an operation only where the policy
// allows its IAM action, on a resource of the action's kind (a bucket, or objects).
import type { Action } from '../config/types.js';
import type { RequestView } from './view.js';

export type Level = 'object' | 'bucket';

export interface IamAction {
  /** the class the operations it authorizes are classified in (authorize/operation.ts) */
  cls: Action;
  /** what its Resource names: a bucket ARN, or objects (`bucket/prefix*`) */
  level: Level;
}

// Every s3 action a session policy may name, by its IAM spelling. A class here is the class
// classify gives the operations the action authorizes (test/authorize/iam.test.ts holds them to it).
const ACTIONS: Record<string, [Action, Level]> = {
  GetObject: ['read', 'object'], GetObjectVersion: ['read', 'object'],
  GetObjectTagging: ['read', 'object'], GetObjectVersionTagging: ['read', 'object'],
  GetObjectRetention: ['read', 'object'], GetObjectLegalHold: ['read', 'object'],
  GetObjectAttributes: ['read', 'object'], GetObjectVersionAttributes: ['read', 'object'],
  GetObjectTorrent: ['read', 'object'], GetObjectVersionTorrent: ['read', 'object'],
  ListMultipartUploadParts: ['read', 'object'],
  GetObjectAcl: ['admin', 'object'], GetObjectVersionAcl: ['admin', 'object'],
  PutObject: ['write', 'object'], PutObjectAcl: ['write', 'object'], PutObjectVersionAcl: ['write', 'object'],
  PutObjectTagging: ['write', 'object'], PutObjectVersionTagging: ['write', 'object'],
  DeleteObjectTagging: ['write', 'object'], DeleteObjectVersionTagging: ['write', 'object'],
  PutObjectRetention: ['write', 'object'], PutObjectLegalHold: ['write', 'object'],
  AbortMultipartUpload: ['write', 'object'], RestoreObject: ['write', 'object'],
  DeleteObject: ['delete', 'object'], DeleteObjectVersion: ['delete', 'object'],
  // Asked beside the operation's own action by x-amz-bypass-governance-retention.
  BypassGovernanceRetention: ['write', 'object'],
  ListBucket: ['list', 'bucket'], ListBucketVersions: ['list', 'bucket'], ListBucketMultipartUploads: ['list', 'bucket'],
  GetBucketLocation: ['read', 'bucket'], GetBucketCORS: ['read', 'bucket'], GetBucketTagging: ['read', 'bucket'],
  GetBucketVersioning: ['read', 'bucket'], GetBucketWebsite: ['read', 'bucket'], GetLifecycleConfiguration: ['read', 'bucket'],
  GetBucketRequestPayment: ['read', 'bucket'], GetBucketObjectLockConfiguration: ['read', 'bucket'],
  GetBucketOwnershipControls: ['read', 'bucket'], GetBucketPublicAccessBlock: ['read', 'bucket'],
  GetAccelerateConfiguration: ['read', 'bucket'], GetBucketAbac: ['read', 'bucket'],
  GetBucketAcl: ['admin', 'bucket'], GetBucketPolicy: ['admin', 'bucket'], GetBucketPolicyStatus: ['admin', 'bucket'],
  GetBucketLogging: ['admin', 'bucket'], GetBucketNotification: ['admin', 'bucket'], GetEncryptionConfiguration: ['admin', 'bucket'],
  GetReplicationConfiguration: ['admin', 'bucket'], GetInventoryConfiguration: ['admin', 'bucket'],
  GetAnalyticsConfiguration: ['admin', 'bucket'], GetMetricsConfiguration: ['admin', 'bucket'],
  GetIntelligentTieringConfiguration: ['admin', 'bucket'], GetBucketMetadataTableConfiguration: ['admin', 'bucket'],
  CreateBucket: ['admin', 'bucket'], DeleteBucket: ['admin', 'bucket'],
  PutBucketAcl: ['admin', 'bucket'], PutBucketCORS: ['admin', 'bucket'], PutBucketLogging: ['admin', 'bucket'],
  PutBucketNotification: ['admin', 'bucket'], PutBucketPolicy: ['admin', 'bucket'], DeleteBucketPolicy: ['admin', 'bucket'],
  PutBucketRequestPayment: ['admin', 'bucket'], PutBucketTagging: ['admin', 'bucket'], PutBucketVersioning: ['admin', 'bucket'],
  PutBucketWebsite: ['admin', 'bucket'], DeleteBucketWebsite: ['admin', 'bucket'], PutEncryptionConfiguration: ['admin', 'bucket'],
  PutLifecycleConfiguration: ['admin', 'bucket'], PutReplicationConfiguration: ['admin', 'bucket'],
  PutBucketObjectLockConfiguration: ['admin', 'bucket'], PutBucketOwnershipControls: ['admin', 'bucket'],
  PutBucketPublicAccessBlock: ['admin', 'bucket'], PutAccelerateConfiguration: ['admin', 'bucket'],
  PutInventoryConfiguration: ['admin', 'bucket'], PutAnalyticsConfiguration: ['admin', 'bucket'],
  PutMetricsConfiguration: ['admin', 'bucket'], PutIntelligentTieringConfiguration: ['admin', 'bucket'],
  PutBucketAbac: ['admin', 'bucket'],
  CreateBucketMetadataTableConfiguration: ['admin', 'bucket'], DeleteBucketMetadataTableConfiguration: ['admin', 'bucket'],
  UpdateBucketMetadataInventoryTableConfiguration: ['admin', 'bucket'], UpdateBucketMetadataJournalTableConfiguration: ['admin', 'bucket'],
};

/** Every action a session policy may name, lower-cased (IAM matches action names without case), with its class and level. */
export const IAM_ACTIONS: ReadonlyMap<string, IamAction> = new Map(
  Object.entries(ACTIONS).map(([name, [cls, level]]) => [name.toLowerCase(), { cls, level }]),
);

// The operation's action where its name is not the action's. Any other operation (GetObjectTagging,
// PutBucketPolicy…) is authorized by the action of its own name.
const OF_OPERATION: Record<string, string> = {
  HeadObject: 'GetObject', SelectObjectContent: 'GetObject', ListParts: 'ListMultipartUploadParts',
  UploadPart: 'PutObject', UploadPartCopy: 'PutObject', CopyObject: 'PutObject', CreateMultipartUpload: 'PutObject',
  CompleteMultipartUpload: 'PutObject', PostObject: 'PutObject',
  ListObjects: 'ListBucket', ListObjectsV2: 'ListBucket', HeadBucket: 'ListBucket',
  ListObjectVersions: 'ListBucketVersions', ListMultipartUploads: 'ListBucketMultipartUploads',
  DeleteObjects: 'DeleteObject',
  GetBucketCors: 'GetBucketCORS', PutBucketCors: 'PutBucketCORS', DeleteBucketCors: 'PutBucketCORS',
  GetBucketLifecycleConfiguration: 'GetLifecycleConfiguration', PutBucketLifecycleConfiguration: 'PutLifecycleConfiguration',
  DeleteBucketLifecycleConfiguration: 'PutLifecycleConfiguration',
  GetBucketNotificationConfiguration: 'GetBucketNotification', PutBucketNotificationConfiguration: 'PutBucketNotification',
  GetBucketReplication: 'GetReplicationConfiguration', PutBucketReplication: 'PutReplicationConfiguration',
  DeleteBucketReplication: 'PutReplicationConfiguration',
  DeleteBucketTagging: 'PutBucketTagging',
  GetBucketEncryption: 'GetEncryptionConfiguration', PutBucketEncryption: 'PutEncryptionConfiguration',
  DeleteBucketEncryption: 'PutEncryptionConfiguration',
  GetObjectLockConfiguration: 'GetBucketObjectLockConfiguration', PutObjectLockConfiguration: 'PutBucketObjectLockConfiguration',
  DeleteBucketOwnershipControls: 'PutBucketOwnershipControls',
  GetPublicAccessBlock: 'GetBucketPublicAccessBlock', PutPublicAccessBlock: 'PutBucketPublicAccessBlock',
  DeletePublicAccessBlock: 'PutBucketPublicAccessBlock',
  GetBucketAccelerateConfiguration: 'GetAccelerateConfiguration', PutBucketAccelerateConfiguration: 'PutAccelerateConfiguration',
  GetBucketAnalyticsConfiguration: 'GetAnalyticsConfiguration', PutBucketAnalyticsConfiguration: 'PutAnalyticsConfiguration',
  DeleteBucketAnalyticsConfiguration: 'PutAnalyticsConfiguration',
  GetBucketInventoryConfiguration: 'GetInventoryConfiguration', PutBucketInventoryConfiguration: 'PutInventoryConfiguration',
  DeleteBucketInventoryConfiguration: 'PutInventoryConfiguration',
  GetBucketMetricsConfiguration: 'GetMetricsConfiguration', PutBucketMetricsConfiguration: 'PutMetricsConfiguration',
  DeleteBucketMetricsConfiguration: 'PutMetricsConfiguration',
  GetBucketIntelligentTieringConfiguration: 'GetIntelligentTieringConfiguration',
  PutBucketIntelligentTieringConfiguration: 'PutIntelligentTieringConfiguration',
  DeleteBucketIntelligentTieringConfiguration: 'PutIntelligentTieringConfiguration',
  GetBucketMetadataConfiguration: 'GetBucketMetadataTableConfiguration',
  CreateBucketMetadataConfiguration: 'CreateBucketMetadataTableConfiguration',
  DeleteBucketMetadataConfiguration: 'DeleteBucketMetadataTableConfiguration',
};

// With ?versionId, S3 checks the version's own action where IAM has one.
const OF_VERSION: Record<string, string> = {
  getobject: 'getobjectversion', getobjecttagging: 'getobjectversiontagging', getobjectacl: 'getobjectversionacl',
  getobjectattributes: 'getobjectversionattributes', getobjecttorrent: 'getobjectversiontorrent',
  putobjectacl: 'putobjectversionacl', putobjecttagging: 'putobjectversiontagging',
  deleteobjecttagging: 'deleteobjectversiontagging', deleteobject: 'deleteobjectversion',
};

/** The IAM action (lower-cased) S3 checks for operation `op`, of a version when `versioned`; undefined for none a policy can name. */
export function actionOf(op: string, versioned = false): string | undefined {
  const name = (OF_OPERATION[op] ?? op).toLowerCase();
  if (!IAM_ACTIONS.has(name)) return undefined;
  return versioned ? (OF_VERSION[name] ?? name) : name;
}

// Operations that create an object from headers: their ACL, tag and retention headers are what
// PutObjectAcl, PutObjectTagging and PutObjectRetention would do, and S3 asks for those too.
const CREATES = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload', 'PostObject']);
const BYPASS = new Set(['DeleteObject', 'DeleteObjects', 'PutObjectRetention']);

/**
 * Whether x-amz-bypass-governance-retention asks for the bypass. Anything but a plain "false"
 * counts: RGW percent-decodes the value before it compares it with "true" (`%74rue` bypasses
 * there), so only the one spelling no provider reads as true is let off the action.
 */
export function bypasses(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() !== 'false';
}

/**
 * Every action a request needs, its operation's first, as S3 checks them; undefined when the
 * operation has no action a policy can name (a session policy then allows it nowhere).
 */
export function actionsOf(view: RequestView): string[] | undefined {
  const op = view.operation.name;
  const first = actionOf(op, view.query.some((p) => p[0] === 'versionId'));
  if (first === undefined) return undefined;
  const out = [first];
  const h = view.headers;
  if (CREATES.has(op)) {
    if (h['x-amz-acl'] !== undefined || Object.keys(h).some((n) => n.startsWith('x-amz-grant-'))) out.push('putobjectacl');
    if (h['x-amz-tagging'] !== undefined) out.push('putobjecttagging');
    if (h['x-amz-object-lock-mode'] !== undefined || h['x-amz-object-lock-retain-until-date'] !== undefined) out.push('putobjectretention');
    if (h['x-amz-object-lock-legal-hold'] !== undefined) out.push('putobjectlegalhold');
  }
  if (op === 'CreateBucket') {
    // CreateBucket's own settings: an ACL other than private, object lock, object ownership.
    const acl = h['x-amz-acl'];
    if ((acl !== undefined && acl.trim().toLowerCase() !== 'private') || Object.keys(h).some((n) => n.startsWith('x-amz-grant-'))) out.push('putbucketacl');
    const lock = h['x-amz-bucket-object-lock-enabled'];
    if (lock !== undefined && lock.trim().toLowerCase() !== 'false') out.push('putbucketobjectlockconfiguration', 'putbucketversioning');
    if (h['x-amz-object-ownership'] !== undefined) out.push('putbucketownershipcontrols');
  }
  if (BYPASS.has(op) && bypasses(h['x-amz-bypass-governance-retention'])) out.push('bypassgovernanceretention');
  return out;
}
