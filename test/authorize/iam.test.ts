// A session policy is held to exactly the IAM actions it allows (src/authorize/iam.ts): every
// operation s3gate routes has the action S3 checks for it, in the class s3gate classifies the
// operation in, and a policy's grants allow that action and no other of its class.
import { describe, expect, it } from 'vitest';
import { authorizeView, deleteKeyAllowed } from '../../src/authorize/grants.js';
import { actionOf, IAM_ACTIONS } from '../../src/authorize/iam.js';
import { classify, QueryView, SUBRESOURCES } from '../../src/authorize/operation.js';
import { requestView } from '../../src/authorize/view.js';
import type { GatewayKey, Grant } from '../../src/config/types.js';
import { intersect } from '../../src/sts/grants.js';
import { parsePolicy } from '../../src/sts/policy.js';

// Operations no session policy can name: not S3's (Unknown), refused whatever the grants
// (RenameObject, UpdateObjectEncryption), an S3 Express session, and ListBuckets, which every key answers.
const NONE = new Set(['Unknown', 'RenameObject', 'UpdateObjectEncryption', 'GetSession', 'ListBuckets']);

function everyOperation(): { name: string; action: string; level: 'object' | 'bucket' }[] {
  const queries = ['', 'list-type=2', 'partNumber=1&uploadId=u', ...[...SUBRESOURCES].map((s) => `${s}=`)];
  const seen = new Map<string, { name: string; action: string; level: 'object' | 'bucket' }>();
  for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']) {
    for (const key of [undefined, 'k']) {
      for (const q of queries) {
        for (const headers of [{}, { 'x-amz-copy-source': 'b/k' }]) {
          const op = classify(method, 'b', key, new QueryView([...new URLSearchParams(q)]), headers);
          seen.set(op.name, { ...op, level: key === undefined ? 'bucket' : 'object' });
        }
      }
    }
  }
  return [...seen.values()];
}

describe('the IAM action of every operation', () => {
  it('has one, of the class the operation is classified in and of its kind of resource', () => {
    const ops = everyOperation();
    expect(ops.length).toBeGreaterThan(90);
    for (const op of ops) {
      if (NONE.has(op.name)) continue;
      const name = actionOf(op.name);
      expect(name, op.name).toBeDefined();
      const iam = IAM_ACTIONS.get(name!)!;
      expect(`${op.name} ${iam.cls}`).toBe(`${op.name} ${op.action}`);
      // A form upload and a multi-object delete are sent to the bucket and act on objects.
      const level = op.name === 'DeleteObjects' || op.name === 'PostObject' ? 'object' : op.level;
      expect(`${op.name} ${iam.level}`).toBe(`${op.name} ${level}`);
    }
    expect(actionOf('ListObjectsV2')).toBe('listbucket');
    expect(actionOf('HeadObject', true)).toBe('getobjectversion');
    expect(actionOf('DeleteBucketCors')).toBe('putbucketcors');
  });
});

const session = (allow: Grant[]): GatewayKey => ({
  accessKeyId: 'ASIATEST', secretAccessKey: 's', allow, session: { role: 'r', name: 'n', expires: 2_000_000_000, limitKey: 'r#K' },
});
const policyKey = (statements: unknown[], role: Grant[] = [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }]) =>
  session(intersect(role, parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }))));

/** Whether `key` may send this request (method, path, query, headers) to bucket media. */
function may(key: GatewayKey, method: string, objectKey: string | undefined, query = '', headers: Record<string, string> = {}): boolean {
  const view = requestView(method, 'media', objectKey, [...new URLSearchParams(query)], headers, false);
  try {
    authorizeView(view, key, 'media');
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'AccessDenied') return false;
    throw e;
  }
}

describe('a session policy allows exactly its actions', () => {
  const objects = 'arn:aws:s3:::media/*';

  it('s3:GetObject reads objects and nothing else of the read class', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:GetObject', Resource: objects }]);
    expect(may(k, 'GET', 'a.txt')).toBe(true);
    expect(may(k, 'HEAD', 'a.txt')).toBe(true);
    expect(may(k, 'GET', 'a.txt', 'tagging')).toBe(false);
    expect(may(k, 'GET', 'a.txt', 'versionId=v1')).toBe(false);
    expect(may(k, 'GET', 'a.txt', 'uploadId=u')).toBe(false);
    expect(may(k, 'GET', 'a.txt', 'attributes')).toBe(false);
    expect(may(k, 'GET', undefined, 'location')).toBe(false);
    expect(may(k, 'GET', undefined, 'list-type=2')).toBe(false);
  });

  it('s3:PutObject writes and uploads in parts, but sets no ACL, tag or retention and aborts nothing', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:PutObject', Resource: objects }]);
    expect(may(k, 'PUT', 'a.txt')).toBe(true);
    expect(may(k, 'POST', 'a.txt', 'uploads')).toBe(true);
    expect(may(k, 'PUT', 'a.txt', 'partNumber=1&uploadId=u')).toBe(true);
    expect(may(k, 'POST', 'a.txt', 'uploadId=u')).toBe(true);
    expect(may(k, 'PUT', 'a.txt', '', { 'x-amz-acl': 'public-read' })).toBe(false);
    expect(may(k, 'PUT', 'a.txt', '', { 'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })).toBe(false);
    expect(may(k, 'POST', 'a.txt', 'uploads', { 'x-amz-acl': 'public-read' })).toBe(false);
    expect(may(k, 'PUT', 'a.txt', '', { 'x-amz-tagging': 'a=b' })).toBe(false);
    expect(may(k, 'PUT', 'a.txt', '', { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': '2099-01-01T00:00:00Z' })).toBe(false);
    expect(may(k, 'PUT', 'a.txt', '', { 'x-amz-object-lock-legal-hold': 'ON' })).toBe(false);
    expect(may(k, 'PUT', 'a.txt', 'acl')).toBe(false);
    expect(may(k, 'PUT', 'a.txt', 'retention')).toBe(false);
    expect(may(k, 'DELETE', 'a.txt', 'tagging')).toBe(false);
    expect(may(k, 'DELETE', 'a.txt', 'uploadId=u')).toBe(false);
    // A copy reads its source: s3:GetObject on it too.
    expect(may(k, 'PUT', 'a.txt', '', { 'x-amz-copy-source': 'media/b.txt' })).toBe(false);
    const copier = policyKey([{ Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:PutObjectAcl'], Resource: objects }]);
    expect(may(copier, 'PUT', 'a.txt', '', { 'x-amz-copy-source': 'media/b.txt' })).toBe(true);
    expect(may(copier, 'PUT', 'a.txt', '', { 'x-amz-copy-source': 'media/b.txt?versionId=v1' })).toBe(false);
    expect(may(copier, 'PUT', 'a.txt', '', { 'x-amz-acl': 'public-read' })).toBe(true);
  });

  it('s3:ListBucket lists objects, not versions or uploads, and a prefix condition holds it to the prefix', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::media' }]);
    expect(may(k, 'GET', undefined, 'list-type=2')).toBe(true);
    expect(may(k, 'HEAD', undefined)).toBe(true);
    expect(may(k, 'GET', undefined, 'versions')).toBe(false);
    expect(may(k, 'GET', undefined, 'uploads')).toBe(false);
    expect(may(k, 'GET', 'a.txt')).toBe(false);
    const alice = policyKey([{ Effect: 'Allow', Action: ['s3:ListBucket', 's3:ListBucketMultipartUploads'], Resource: 'arn:aws:s3:::media', Condition: { StringLike: { 's3:prefix': 'users/alice/*' } } }]);
    expect(may(alice, 'GET', undefined, 'list-type=2&prefix=users/alice/')).toBe(true);
    expect(may(alice, 'GET', undefined, 'list-type=2&prefix=users/bob/')).toBe(false);
    expect(may(alice, 'GET', undefined, 'versions&prefix=users/alice/')).toBe(false);
    // S3 gives ListMultipartUploads no s3:prefix: the conditioned statement does not reach it.
    expect(may(alice, 'GET', undefined, 'uploads&prefix=users/alice/')).toBe(false);
  });

  it('a lesser action alone allows itself, on its own kind of resource', () => {
    const parts = policyKey([{ Effect: 'Allow', Action: 's3:ListMultipartUploadParts', Resource: objects }]);
    expect(may(parts, 'GET', 'a.txt', 'uploadId=u')).toBe(true);
    expect(may(parts, 'GET', 'a.txt')).toBe(false);
    const location = policyKey([{ Effect: 'Allow', Action: ['s3:ListAllMyBuckets', 's3:GetBucketLocation'], Resource: 'arn:aws:s3:::*' }]);
    expect(may(location, 'GET', undefined, 'location')).toBe(true);
    expect(may(location, 'GET', undefined, 'versioning')).toBe(false);
    expect(may(location, 'GET', 'a.txt')).toBe(false);
    // GetBucketLocation names the bucket: on objects it allows nothing.
    expect(may(policyKey([{ Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: objects }]), 'GET', undefined, 'location')).toBe(false);
    const creator = policyKey([{ Effect: 'Allow', Action: 's3:CreateBucket', Resource: 'arn:aws:s3:::media' }]);
    expect(may(creator, 'PUT', undefined)).toBe(true);
    expect(may(creator, 'DELETE', undefined)).toBe(false);
    expect(may(creator, 'PUT', undefined, 'policy')).toBe(false);
  });

  it('s3:* on objects allows every object action and nothing on the bucket', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:*', Resource: objects }]);
    for (const [m, q] of [['GET', ''], ['GET', 'tagging'], ['PUT', 'acl'], ['DELETE', 'uploadId=u'], ['DELETE', ''], ['GET', 'versionId=1']]) expect(may(k, m!, 'a.txt', q), `${m} ${q}`).toBe(true);
    expect(may(k, 'GET', undefined, 'location')).toBe(false);
    expect(may(k, 'DELETE', undefined)).toBe(false);
    expect(may(k, 'GET', undefined, 'list-type=2')).toBe(false);
  });

  it('deletes keys and versions each with its own action, and governance bypass only where named', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:DeleteObject', Resource: objects }]);
    expect(may(k, 'DELETE', 'a.txt')).toBe(true);
    expect(may(k, 'DELETE', 'a.txt', 'versionId=v1')).toBe(false);
    expect(may(k, 'DELETE', 'a.txt', '', { 'x-amz-bypass-governance-retention': 'true' })).toBe(false);
    expect(may(k, 'POST', undefined, 'delete')).toBe(true);
    expect(deleteKeyAllowed(k, 'media', 'a.txt')).toBe(true);
    expect(deleteKeyAllowed(k, 'media', 'a.txt', 'v1')).toBe(false);
    expect(deleteKeyAllowed(k, 'media', 'a.txt', undefined, true)).toBe(false);
    const versions = policyKey([{ Effect: 'Allow', Action: ['s3:DeleteObjectVersion', 's3:BypassGovernanceRetention'], Resource: objects }]);
    expect(may(versions, 'POST', undefined, 'delete')).toBe(true);
    expect(deleteKeyAllowed(versions, 'media', 'a.txt', 'v1', true)).toBe(true);
    expect(deleteKeyAllowed(versions, 'media', 'a.txt')).toBe(false);
  });

  it('counts the governance bypass however it is spelled, as RGW reads it (percent-decoded, any case)', () => {
    const k = policyKey([{ Effect: 'Allow', Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention'], Resource: objects }]);
    for (const value of ['true', '%74rue', 'TRUE', ' tru%65']) {
      expect(may(k, 'DELETE', 'a.txt', 'versionId=v1', { 'x-amz-bypass-governance-retention': value }), value).toBe(false);
      expect(may(k, 'PUT', 'a.txt', 'retention', { 'x-amz-bypass-governance-retention': value }), value).toBe(false);
    }
    expect(may(k, 'DELETE', 'a.txt', 'versionId=v1', { 'x-amz-bypass-governance-retention': 'false' })).toBe(true);
    const withBypass = policyKey([{ Effect: 'Allow', Action: ['s3:DeleteObjectVersion', 's3:BypassGovernanceRetention'], Resource: objects }]);
    expect(may(withBypass, 'DELETE', 'a.txt', 'versionId=v1', { 'x-amz-bypass-governance-retention': '%74rue' })).toBe(true);
  });

  it('CreateBucket\'s own settings need their actions: a public ACL, object lock, object ownership', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:CreateBucket', Resource: 'arn:aws:s3:::media' }]);
    expect(may(k, 'PUT', undefined, '', { 'x-amz-acl': 'private' })).toBe(true);
    expect(may(k, 'PUT', undefined, '', { 'x-amz-acl': 'public-read-write' })).toBe(false);
    expect(may(k, 'PUT', undefined, '', { 'x-amz-grant-full-control': 'id="x"' })).toBe(false);
    expect(may(k, 'PUT', undefined, '', { 'x-amz-bucket-object-lock-enabled': 'true' })).toBe(false);
    expect(may(k, 'PUT', undefined, '', { 'x-amz-object-ownership': 'ObjectWriter' })).toBe(false);
    const wider = policyKey([{ Effect: 'Allow', Action: ['s3:CreateBucket', 's3:PutBucketAcl', 's3:PutBucketObjectLockConfiguration', 's3:PutBucketVersioning'], Resource: 'arn:aws:s3:::media' }]);
    expect(may(wider, 'PUT', undefined, '', { 'x-amz-acl': 'public-read', 'x-amz-bucket-object-lock-enabled': 'true' })).toBe(true);
    expect(may(wider, 'PUT', undefined, '', { 'x-amz-object-ownership': 'ObjectWriter' })).toBe(false);
  });

  it('a HeadBucket has no s3:prefix, whatever its query says', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::media', Condition: { StringLike: { 's3:prefix': 'users/alice/*' } } }]);
    expect(may(k, 'HEAD', undefined, 'prefix=users/alice/')).toBe(false);
    expect(may(k, 'GET', undefined, 'prefix=users/alice/')).toBe(true);
    // Nor does it meet a configured key's grant limited to a prefix.
    const key: GatewayKey = { accessKeyId: 'K', secretAccessKey: 's', allow: [{ bucket: 'media', prefix: 'users/alice/', actions: ['list'] }] };
    expect(may(key, 'HEAD', undefined, 'prefix=users/alice/')).toBe(false);
    expect(may(key, 'GET', undefined, 'list-type=2&prefix=users/alice/')).toBe(true);
  });

  it('stays inside the role: what the policy allows and the role does not is refused', () => {
    const k = policyKey([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }], [{ bucket: 'media', prefix: 'in/', actions: ['read'] }]);
    expect(may(k, 'GET', 'in/a.txt')).toBe(true);
    expect(may(k, 'GET', 'out/a.txt')).toBe(false);
    expect(may(k, 'PUT', 'in/a.txt')).toBe(false);
  });

  it('keeps a configured key, and a session with no policy, to its classes', () => {
    const key: GatewayKey = { accessKeyId: 'K', secretAccessKey: 's', allow: [{ bucket: 'media', actions: ['write'] }] };
    expect(may(key, 'PUT', 'a.txt', '', { 'x-amz-acl': 'public-read', 'x-amz-tagging': 'a=b' })).toBe(true);
    expect(may(key, 'DELETE', 'a.txt', 'uploadId=u')).toBe(true);
    expect(may(session([{ bucket: 'media', actions: ['write'] }]), 'PUT', 'a.txt', 'acl')).toBe(true);
  });
});
