// Every request is one S3 operation or none: a sub-resource and method pair S3 does not define is
// no operation (405), never the plain bucket or object operation with the query ignored.
import { describe, expect, it } from 'vitest';
import { classify } from '../../src/authorize/operation.js';

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
