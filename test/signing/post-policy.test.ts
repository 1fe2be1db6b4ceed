// The POST policy signers against AWS's published SigV4 example, and SigV2's definition
// (HMAC-SHA1 of the base64 policy, as boto3's HmacV1PostAuth computes it).
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { postPolicySignatureV4 } from '../../src/signing/sigv4.js';
import { postPolicySignatureV2 } from '../../src/signing/sigv2.js';

const vector = JSON.parse(readFileSync(new URL('../vectors/sigv4-post-policy.json', import.meta.url), 'utf8')) as Record<string, string>;

describe('POST policy signatures', () => {
  it('SigV4: AWS sigv4-post-example', () => {
    expect(postPolicySignatureV4(vector.secretAccessKey!, '20151229', 'us-east-1', 's3', vector.policy!)).toBe(vector.signature);
    // One byte of the policy changed is a different signature.
    const tampered = 'f' + vector.policy!.slice(1);
    expect(postPolicySignatureV4(vector.secretAccessKey!, '20151229', 'us-east-1', 's3', tampered)).not.toBe(vector.signature);
  });

  it('SigV2: base64 HMAC-SHA1 over the base64 policy', () => {
    const policy = Buffer.from('{"expiration":"2030-01-01T00:00:00Z","conditions":[]}').toString('base64');
    expect(postPolicySignatureV2('secret', policy)).toBe(createHmac('sha1', 'secret').update(policy).digest('base64'));
  });
});
