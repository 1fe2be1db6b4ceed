// Who signed a form: SigV4 fields (checked with AWS's published example) or SigV2's, with S3's
// refusals for a wrong signature, an unknown key, a missing policy and a foreign scope.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { authenticatePost } from '../../src/authenticate/post-policy.js';
import { postPolicySignatureV2 } from '../../src/signing/sigv2.js';
import type { GatewayKey } from '../../src/config/types.js';
import { s3ErrorOf as refusal } from './helpers.js';

const vector = JSON.parse(readFileSync(new URL('../vectors/sigv4-post-policy.json', import.meta.url), 'utf8')) as Record<string, string>;
const KEY: GatewayKey = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: vector.secretAccessKey!, allow: [] };
const keys = new Map([[KEY.accessKeyId, KEY]]);

const v4 = (over: Record<string, string | undefined> = {}) => {
  const f: Record<string, string | undefined> = {
    policy: vector.policy, 'x-amz-algorithm': 'AWS4-HMAC-SHA256', 'x-amz-credential': vector.credential, 'x-amz-date': vector.date,
    'x-amz-signature': vector.signature, ...over,
  };
  return new Map(Object.entries(f).filter((e): e is [string, string] => e[1] !== undefined));
};

describe('authenticatePost', () => {
  it('SigV4: the published example verifies', () => {
    const a = authenticatePost(v4(), keys, 'us-east-1');
    expect([a.kind, a.key?.accessKeyId]).toEqual(['v4-post', 'AKIAIOSFODNN7EXAMPLE']);
  });

  it('SigV2: AWSAccessKeyId and signature over the policy', () => {
    const policy = Buffer.from('{"expiration":"2030-01-01T00:00:00Z","conditions":[]}').toString('base64');
    const f = new Map([['policy', policy], ['awsaccesskeyid', KEY.accessKeyId], ['signature', postPolicySignatureV2(KEY.secretAccessKey, policy)]]);
    expect(authenticatePost(f, keys, 'us-east-1').kind).toBe('v2-post');
    f.set('signature', postPolicySignatureV2('wrong', policy));
    expect(refusal(() => authenticatePost(f, keys, 'us-east-1')).code).toBe('SignatureDoesNotMatch');
  });

  it('no credentials at all: anonymous', () => {
    expect(authenticatePost(new Map([['key', 'k']]), keys, 'us-east-1').kind).toBe('anonymous');
  });

  it.each([
    ['tampered policy', { policy: 'f' + vector.policy!.slice(1) }, 'SignatureDoesNotMatch', 403],
    ['wrong signature', { 'x-amz-signature': '0'.repeat(64) }, 'SignatureDoesNotMatch', 403],
    ['unknown key', { 'x-amz-credential': vector.credential!.replace('AKIAIOSFODNN7EXAMPLE', 'NOSUCHKEY') }, 'InvalidAccessKeyId', 403],
    ['no policy', { policy: undefined }, 'InvalidArgument', 400],
    ['no x-amz-date', { 'x-amz-date': undefined }, 'InvalidArgument', 400],
    ['other algorithm', { 'x-amz-algorithm': 'AWS4-ECDSA-P256-SHA256' }, 'InvalidArgument', 400],
    ['date not the credential\'s', { 'x-amz-date': '20151230T000000Z' }, 'InvalidArgument', 400],
    ['malformed credential', { 'x-amz-credential': 'AKIAIOSFODNN7EXAMPLE/20151229' }, 'InvalidArgument', 400],
  ])('%s: %s', (_name, over, code, status) => {
    const e = refusal(() => authenticatePost(v4(over), keys, 'us-east-1'));
    expect([e.code, e.status]).toEqual([code, status]);
  });

  it('another region: refused with the region s3gate expects', () => {
    const e = refusal(() => authenticatePost(v4(), keys, 'eu-west-1'));
    expect([e.code, e.detail.Region]).toEqual(['InvalidArgument', 'eu-west-1']);
  });

  it('a signature mismatch never echoes the secret', () => {
    const e = refusal(() => authenticatePost(v4({ 'x-amz-signature': '0'.repeat(64) }), keys, 'us-east-1'));
    expect(JSON.stringify([e.message, e.detail])).not.toContain(KEY.secretAccessKey);
  });
});
