// canonicalRequestSha256 and signatureV4 write what they hash into a scratch buffer instead of
// building the canonical request and the string to sign: for any input, they must give exactly
// what hashing the built strings one byte per char gives (the bytes the request came as, latin1),
// including non-ASCII text, lone surrogates, repeated
// headers and inputs too large for the scratch buffer (the string path then).
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalRequest, canonicalRequestSha256, signatureHex, signatureV4, stringToSign, type CanonicalRequestParts, type HeaderValue,
} from '../../src/signing/sigv4.js';

const text = fc.oneof(
  fc.constantFrom('', 'GET', '/a b/é', 'host', 'x-amz-date', '  folded   value ', 'tab\there', '\ud800', 'ä€𝄞', '💩'),
  fc.string({ maxLength: 12, unit: 'binary' }),
  fc.string({ maxLength: 40 }),
);
const big = fc.constantFrom('', 'a'.repeat(40_000), 'é'.repeat(12_000), '€'.repeat(11_000));
const headerValue: fc.Arbitrary<HeaderValue> = fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 3 }), fc.constant(undefined));
const parts: fc.Arbitrary<CanonicalRequestParts> = fc.record({
  method: text,
  canonicalUri: fc.tuple(text, big).map(([a, b]) => a + b),
  canonicalQuery: text,
  headers: fc.dictionary(fc.constantFrom('host', 'x-amz-date', 'content-type', 'x-amz-meta-a', 'range'), headerValue)
    .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, HeaderValue>),
  host: fc.option(text, { nil: undefined }),
  signedHeaders: fc.array(fc.constantFrom('host', 'x-amz-date', 'content-type', 'x-amz-meta-a', 'missing'), { maxLength: 5 }),
  payloadHash: text,
}, { requiredKeys: ['method', 'canonicalUri', 'canonicalQuery', 'headers', 'signedHeaders', 'payloadHash'] })
  // half of them with the joined list the callers hand over when they have it
  .chain((p) => fc.boolean().map((joined) => (joined ? { ...p, signedHeadersText: p.signedHeaders.join(';') } : p)));

describe('hashing through the scratch buffer', () => {
  // One byte per char: the bytes the request came as (Node reads a header value as latin1).
  it('canonicalRequestSha256 is the sha256 of canonicalRequest, one byte per char', () => {
    fc.assert(fc.property(parts, (p) => {
      expect(canonicalRequestSha256(p)).toBe(createHash('sha256').update(canonicalRequest(p), 'latin1').digest('hex'));
    }), { numRuns: 3000 });
  });

  it('signatureV4 and signatureHex are the HMAC of the string to sign, for any key and text', () => {
    const key = fc.uint8Array({ minLength: 0, maxLength: 80 }).map((a) => Buffer.from(a));
    fc.assert(fc.property(key, text, fc.tuple(text, big).map(([a, b]) => a + b), text, (k, datetime, scope, creq) => {
      const hex = createHash('sha256').update(creq, 'latin1').digest('hex');
      const expected = createHmac('sha256', k).update(stringToSign(datetime, scope, creq), 'latin1').digest('hex');
      expect(signatureV4(k, datetime, scope, hex)).toBe(expected);
      expect(signatureHex(k, stringToSign(datetime, scope, creq))).toBe(expected);
    }), { numRuns: 2000 });
  });
});
