// The POST policy's conditions, as the S3 docs define them, with S3's errors.
import { describe, expect, it } from 'vitest';
import { checkPolicy, lengthRange, parsePolicy, type PostPolicy } from '../../src/authorize/post-policy.js';
import { s3ErrorOf as refusal } from '../authenticate/helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const b64 = (doc: unknown) => Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)).toString('base64');
const policy = (conditions: unknown[], expiration = '2030-01-02T00:00:00.000Z'): PostPolicy => parsePolicy(b64({ expiration, conditions }));
const fields = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));

describe('parsePolicy', () => {
  it('reads object and array conditions; field names compared without case', () => {
    const p = policy([{ bucket: 'b' }, ['eq', '$Key', 'k'], ['starts-with', '$Content-Type', 'image/'], ['content-length-range', 1, 10]]);
    expect(p.conditions).toEqual([
      { op: 'eq', field: 'bucket', value: 'b', text: '["eq", "$bucket", "b"]' },
      { op: 'eq', field: 'key', value: 'k', text: '["eq", "$Key", "k"]' },
      { op: 'starts-with', field: 'content-type', value: 'image/', text: '["starts-with", "$Content-Type", "image/"]' },
      { op: 'content-length-range', min: 1, max: 10, text: '["content-length-range", 1, 10]' },
    ]);
  });

  it.each([
    ['not base64', '%%%', 'Invalid Policy: Invalid base64 encoding.'],
    ['not JSON', b64('{nope'), 'Invalid Policy: Invalid JSON.'],
    ['no expiration', b64({ conditions: [] }), 'Invalid Policy: Policy missing expiration.'],
    ['bad expiration', b64({ expiration: 'tomorrow', conditions: [] }), `Invalid Policy: Invalid 'expiration' value: "tomorrow"`],
    ['no conditions', b64({ expiration: '2030-01-01T00:00:00Z' }), 'Invalid Policy: Policy missing conditions.'],
    ['unknown operator', b64({ expiration: '2030-01-01T00:00:00Z', conditions: [['ends-with', '$key', 'x']] }), 'Invalid Policy: Invalid Condition: ["ends-with", "$key", "x"]'],
    ['field without $', b64({ expiration: '2030-01-01T00:00:00Z', conditions: [['eq', 'key', 'x']] }), 'Invalid Policy: Invalid Condition: ["eq", "key", "x"]'],
    ['range upside down', b64({ expiration: '2030-01-01T00:00:00Z', conditions: [['content-length-range', 10, 1]] }), 'Invalid Policy: Invalid content-length-range: ["content-length-range", 10, 1]'],
    ['negative range', b64({ expiration: '2030-01-01T00:00:00Z', conditions: [['content-length-range', -1, 1]] }), 'Invalid Policy: Invalid content-length-range: ["content-length-range", -1, 1]'],
  ])('%s: InvalidPolicyDocument', (_name, doc, message) => {
    const e = refusal(() => parsePolicy(doc));
    expect([e.code, e.status, e.message]).toEqual(['InvalidPolicyDocument', 400, message]);
  });
});

describe('checkPolicy', () => {
  const p = policy([
    { bucket: 'photos' }, ['starts-with', '$key', 'user/alice/'], { acl: 'public-read' }, ['starts-with', '$Content-Type', 'image/'],
    { success_action_status: '201' }, ['starts-with', '$success_action_redirect', ''], { 'x-amz-meta-uuid': '42' }, ['starts-with', '$x-amz-meta-tag', ''],
    { tagging: '<Tagging><TagSet/></Tagging>' }, { 'x-amz-storage-class': 'STANDARD_IA' }, { 'x-amz-checksum-crc32': 'AAAAAA==' },
    ['eq', '$Cache-Control', 'max-age=60'], ['content-length-range', 0, 100],
  ]);
  const good = {
    key: 'user/alice/cat.jpg', acl: 'public-read', 'Content-Type': 'image/jpeg', success_action_status: '201', 'x-amz-meta-uuid': '42',
    'x-amz-meta-tag': 'anything', tagging: '<Tagging><TagSet/></Tagging>', 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-checksum-crc32': 'AAAAAA==',
    'Cache-Control': 'max-age=60', policy: 'x', 'x-amz-signature': 'x', 'x-ignore-note': 'page state', AWSAccessKeyId: 'x', signature: 'x',
  };

  it('a form that meets every condition passes', () => {
    expect(() => checkPolicy(p, fields(good), 'photos', NOW)).not.toThrow();
  });

  const failed = (c: string) => `Invalid according to Policy: Policy Condition failed: ${c}`;
  it.each([
    ['wrong prefix', { key: 'user/bob/cat.jpg' }, 'photos', failed('["starts-with", "$key", "user/alice/"]')],
    ['wrong bucket', {}, 'other', failed('["eq", "$bucket", "photos"]')],
    ['acl changed', { acl: 'public-read-write' }, 'photos', failed('["eq", "$acl", "public-read"]')],
    ['acl missing', { acl: undefined }, 'photos', failed('["eq", "$acl", "public-read"]')],
    ['content type', { 'Content-Type': 'text/html' }, 'photos', failed('["starts-with", "$Content-Type", "image/"]')],
    ['one of a content-type list', { 'Content-Type': 'image/png, text/html' }, 'photos', failed('["starts-with", "$Content-Type", "image/"]')],
    ['status', { success_action_status: '200' }, 'photos', failed('["eq", "$success_action_status", "201"]')],
    ['meta', { 'x-amz-meta-uuid': '43' }, 'photos', failed('["eq", "$x-amz-meta-uuid", "42"]')],
    ['tagging', { tagging: '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>' }, 'photos', failed('["eq", "$tagging", "<Tagging><TagSet/></Tagging>"]')],
    ['storage class', { 'x-amz-storage-class': 'GLACIER' }, 'photos', failed('["eq", "$x-amz-storage-class", "STANDARD_IA"]')],
    ['checksum', { 'x-amz-checksum-crc32': 'AAAAAQ==' }, 'photos', failed('["eq", "$x-amz-checksum-crc32", "AAAAAA=="]')],
    ['Content-* field', { 'Cache-Control': 'no-store' }, 'photos', failed('["eq", "$Cache-Control", "max-age=60"]')],
    ['extra unsigned field', { 'x-amz-meta-evil': '1' }, 'photos', 'Invalid according to Policy: Extra input fields: x-amz-meta-evil'],
    ['extra Content-Disposition', { 'Content-Disposition': 'attachment' }, 'photos', 'Invalid according to Policy: Extra input fields: content-disposition'],
    ['extra redirect', { redirect: 'https://evil.example/' }, 'photos', 'Invalid according to Policy: Extra input fields: redirect'],
  ])('%s: AccessDenied', (_name, change, bucket, message) => {
    const f: Record<string, string> = { ...good };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete f[k];
      else f[k] = v;
    }
    const e = refusal(() => checkPolicy(p, fields(f), bucket, NOW));
    expect([e.code, e.status, e.message]).toEqual(['AccessDenied', 403, message]);
  });

  it('an expired policy: AccessDenied, Policy expired.', () => {
    const e = refusal(() => checkPolicy(p, fields(good), 'photos', new Date('2030-01-02T00:00:01Z')));
    expect([e.code, e.message]).toEqual(['AccessDenied', 'Invalid according to Policy: Policy expired.']);
  });

  it('starts-with "" admits any value, and a missing field reads as empty', () => {
    const q = policy([['starts-with', '$key', ''], ['starts-with', '$x-amz-meta-a', '']]);
    expect(() => checkPolicy(q, fields({ key: 'anything' }), 'b', NOW)).not.toThrow();
    expect(() => checkPolicy(q, fields({ key: 'anything', 'x-amz-meta-a': 'z' }), 'b', NOW)).not.toThrow();
  });

  it('a bucket field in the form is a field like the others: covered by the bucket condition', () => {
    const q = policy([{ bucket: 'b' }, ['starts-with', '$key', '']]);
    expect(() => checkPolicy(q, fields({ key: 'k', bucket: 'b' }), 'b', NOW)).not.toThrow();
    const open = policy([['starts-with', '$key', '']]);
    expect(refusal(() => checkPolicy(open, fields({ key: 'k', bucket: 'b' }), 'b', NOW)).message).toBe('Invalid according to Policy: Extra input fields: bucket');
  });
});

describe('lengthRange', () => {
  it('none, one, or the tightest of several', () => {
    expect(lengthRange(policy([]))).toBeUndefined();
    expect(lengthRange(policy([['content-length-range', 1, 10]]))).toEqual({ min: 1, max: 10 });
    expect(lengthRange(policy([['content-length-range', 1, 10], ['content-length-range', '3', '20']]))).toEqual({ min: 3, max: 10 });
  });
});
