// Every request is one S3 operation or none: a sub-resource and method pair S3 does not define is
// no operation (405), never the plain bucket or object operation with the query ignored.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { classify, SUBRESOURCES } from '../../src/authorize/operation.js';
import { MODERN_PYTHON } from '../helpers/python.js';

const op = (method: string, key: string | undefined, query: string) => classify(method, 'b', key, new URLSearchParams(query), {}).name;

describe('classify', () => {
  it('a DELETE or PUT with a bucket sub-resource S3 defines no such operation for is Unknown, never DeleteBucket or CreateBucket', () => {
    for (const sub of ['versioning', 'acl', 'requestPayment', 'object-lock', 'policyStatus', 'location', 'logging', 'notification', 'accelerate', 'session']) {
      expect(`DELETE ?${sub} ${op('DELETE', undefined, sub)}`).toBe(`DELETE ?${sub} Unknown`);
    }
    for (const sub of ['location', 'policyStatus', 'metadataTable', 'metadataConfiguration', 'session']) {
      expect(`PUT ?${sub} ${op('PUT', undefined, sub)}`).toBe(`PUT ?${sub} Unknown`);
    }
    expect(op('DELETE', undefined, '')).toBe('DeleteBucket');
    expect(op('PUT', undefined, '')).toBe('CreateBucket');
    expect(op('DELETE', undefined, 'encryption')).toBe('DeleteBucketEncryption');
    expect(op('PUT', undefined, 'versioning')).toBe('PutBucketVersioning');
    expect(op('DELETE', undefined, 'metadataTable')).toBe('DeleteBucketMetadataTableConfiguration');
  });

  it('a DELETE or PUT with an object sub-resource S3 defines no such operation for is Unknown, never DeleteObject or PutObject', () => {
    for (const sub of ['acl', 'retention', 'legal-hold', 'attributes', 'torrent']) {
      expect(`DELETE ?${sub} ${op('DELETE', 'k', sub)}`).toBe(`DELETE ?${sub} Unknown`);
    }
    for (const sub of ['attributes', 'torrent']) expect(`PUT ?${sub} ${op('PUT', 'k', sub)}`).toBe(`PUT ?${sub} Unknown`);
    expect(op('DELETE', 'k', 'tagging')).toBe('DeleteObjectTagging');
    expect(op('DELETE', 'k', 'versionId=3')).toBe('DeleteObject');
    expect(op('PUT', 'k', 'retention')).toBe('PutObjectRetention');
    expect(op('GET', 'k', 'attributes')).toBe('GetObjectAttributes');
  });
});

/** botocore's S3 model as installed: every operation's method, level and the query name that selects it. */
function botocoreOperations(): { name: string; method: string; level: 'bucket' | 'object'; sub?: string }[] {
  const script = `
import gzip, json, os, botocore
m = json.load(gzip.open(os.path.join(os.path.dirname(botocore.__file__), 'data/s3/2006-03-01/service-2.json.gz')))
out = []
for name, op in m['operations'].items():
    uri = op['http']['requestUri']
    path, _, query = uri.partition('?')
    if not path.startswith('/{Bucket}'):
        continue
    subs = [p for p in query.split('&') if p and '=' not in p]
    # The multipart operations are selected by an uploadId member, not by the URI.
    if not subs and name in ('ListParts', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'AbortMultipartUpload'):
        subs = ['uploadId']
    out.append({'name': name, 'method': op['http']['method'], 'level': 'object' if '{Key+}' in path else 'bucket', 'sub': subs[0] if subs else None})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(MODERN_PYTHON, ['-c', script], { encoding: 'utf8' }));
}

// s3gate's name where it differs from the model's: one name per request, whichever the model's
// alias (GetBucketLifecycle and GetBucketLifecycleConfiguration are one request).
const SAME_REQUEST: Record<string, string> = {
  GetBucketLifecycle: 'GetBucketLifecycleConfiguration', PutBucketLifecycle: 'PutBucketLifecycleConfiguration',
  DeleteBucketLifecycle: 'DeleteBucketLifecycleConfiguration',
  GetBucketNotification: 'GetBucketNotificationConfiguration', PutBucketNotification: 'PutBucketNotificationConfiguration',
  ListBucketAnalyticsConfigurations: 'GetBucketAnalyticsConfiguration', ListBucketInventoryConfigurations: 'GetBucketInventoryConfiguration',
  ListBucketMetricsConfigurations: 'GetBucketMetricsConfiguration', ListBucketIntelligentTieringConfigurations: 'GetBucketIntelligentTieringConfiguration',
  CreateSession: 'GetSession', DeletePublicAccessBlock: 'DeletePublicAccessBlock', GetPublicAccessBlock: 'GetPublicAccessBlock',
  GetObjectLockConfiguration: 'GetObjectLockConfiguration', PutObjectLockConfiguration: 'PutObjectLockConfiguration',
};

describe("classify against botocore's model", () => {
  const ops = botocoreOperations();
  const query = (sub: string | undefined, o?: { partNumber?: boolean; select?: boolean }) =>
    new URLSearchParams([...(sub ? [[sub, sub === 'uploadId' ? 'u1' : '']] : []), ...(o?.partNumber ? [['partNumber', '1']] : []), ...(o?.select ? [['select-type', '2']] : [])]);

  it('every operation the model defines is classified as itself', () => {
    expect(ops.length).toBeGreaterThan(100);
    const wrong: string[] = [];
    for (const o of ops) {
      const headers = o.name === 'CopyObject' || o.name === 'UploadPartCopy' ? { 'x-amz-copy-source': '/b/src' } : {};
      if (o.name === 'ListObjectsV2' || o.name === 'WriteGetObjectResponse') continue;
      const q = query(o.sub, { partNumber: o.name.startsWith('UploadPart'), select: o.name === 'SelectObjectContent' });
      const got = classify(o.method, 'b', o.level === 'object' ? 'k' : undefined, q, headers).name;
      const want = SAME_REQUEST[o.name] ?? o.name;
      if (got !== want) wrong.push(`${o.method} ${o.level}?${o.sub ?? ''} ${o.name}: ${got}`);
    }
    expect(wrong).toEqual([]);
    expect(classify('GET', 'b', undefined, new URLSearchParams('list-type=2'), {}).name).toBe('ListObjectsV2');
  });

  it('a request naming a sub-resource the model defines no operation for at its level and method is Unknown, never the plain operation', () => {
    const defined = new Set(ops.map((o) => `${o.method} ${o.level} ${o.sub ?? ''}`));
    const wrong: string[] = [];
    for (const sub of [...SUBRESOURCES]) {
      for (const level of ['bucket', 'object'] as const) {
        for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']) {
          // A HEAD reads what its GET reads (the answer without the body).
          const as = method === 'HEAD' ? 'GET' : method;
          if (defined.has(`${as} ${level} ${sub}`)) continue;
          const got = classify(method, 'b', level === 'object' ? 'k' : undefined, query(sub), {}).name;
          if (got !== 'Unknown') wrong.push(`${method} ${level}?${sub}: ${got}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // Each sub-resource s3gate knows is one the model names.
    const modelled = new Set(ops.map((o) => o.sub).filter(Boolean));
    expect([...SUBRESOURCES].filter((s) => !modelled.has(s))).toEqual([]);
  });
});
