// s3gate's outbound SigV4 signer agrees with @smithy/signature-v4 (the SDKs' signer) on
// generated requests: same Authorization header, byte for byte.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { createHmac } from 'node:crypto';
import {
  canonicalQuery, canonicalRequest, EMPTY_SHA256, signingKey, signV4, stringToSign, uriEncode,
} from '../../src/signing/sigv4.js';

const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const otherCreds = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'another-secret-0123456789' };
const keyChars = fc.constantFrom(...Array.from('abcXYZ019-_.~ +!*\'()/%&=?ü€😀'));
const text = (min: number) => fc.array(keyChars, { minLength: min, maxLength: 12 }).map((a) => a.join(''));

describe('outbound SigV4 signer', () => {
  it('matches smithy for generated requests', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('GET', 'PUT', 'HEAD', 'DELETE', 'POST'), text(1),
      fc.array(fc.tuple(fc.constantFrom('prefix', 'uploadId', 'partNumber', 'x-id', 'acl', 'response-content-type'), text(0)), { maxLength: 4 }),
      fc.array(fc.tuple(fc.constantFrom('x-amz-meta-a', 'content-type', 'x-amz-acl', 'range', 'content-md5'), fc.string({ maxLength: 10 }).map((v) => v.replace(/[^\x20-\x7e]/g, 'x'))), { maxLength: 4 }),
      fc.constantFrom('UNSIGNED-PAYLOAD', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
      // the scope and the Authorization's start are kept from one request to the next: the day,
      // the region and the key change between runs
      fc.constantFrom(Date.UTC(2026, 10, 21, 1, 2, 3), Date.UTC(2026, 10, 21, 23, 59, 59), Date.UTC(2026, 10, 22, 0, 0, 0)),
      fc.constantFrom('eu-west-3', 'us-east-1'), fc.constantFrom(creds, otherCreds),
      async (method, key, queryPairs, headerPairs, payloadHash, at, region, credentials) => {
        const smithy = new SignatureV4({ credentials, region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
        const query = [...new Map(queryPairs).entries()];
        const headers = Object.fromEntries(headerPairs);
        const path = '/bucket/' + uriEncode(key, true);
        const now = new Date(at);
        const ours = signV4({ method, host: 's3.example.test:8443', path, query, headers, payloadHash, ...credentials, region, now });
        // the canonical query handed over gives the same signature
        const once = signV4({ method, host: 's3.example.test:8443', path, query, canonicalQuery: canonicalQuery(query), headers, payloadHash, ...credentials, region, now });
        expect(once).toEqual(ours);
        const theirs = await smithy.sign({
          method, protocol: 'https:', hostname: 's3.example.test', port: 8443, path, query: Object.fromEntries(query),
          headers: { ...headers, host: 's3.example.test:8443', 'x-amz-content-sha256': payloadHash },
        }, { signingDate: now });
        expect(ours.authorization).toBe((theirs.headers as Record<string, string>).authorization);
      },
    ), { numRuns: 300 });
  });
});

describe('signatureHex (HMAC-SHA256 as two one-shot hashes)', () => {
  it('equals node:crypto createHmac for any key and message, ASCII or not, one byte per char (the bytes a request came as)', async () => {
    const { createHmac } = await import('node:crypto');
    const { signatureHex } = await import('../../src/signing/sigv4.js');
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 300 }), (key, msg) => {
      const k = Buffer.from(key);
      expect(signatureHex(k, msg)).toBe(createHmac('sha256', k).update(msg, 'latin1').digest('hex'));
      // the same key again (its pads cached) still agrees
      expect(signatureHex(k, msg + 'x')).toBe(createHmac('sha256', k).update(msg + 'x', 'latin1').digest('hex'));
    }), { numRuns: 500 });
  });

  // With its own three headers alone the signer writes the canonical request's tail as one piece
  // kept from the last request (host, payload hash and second alike): calls in a row that keep and
  // change each of them sign as the plain string functions do.
  it('signs from the kept tail exactly as from the headers, as host, payload hash and second change', () => {
    const host = fc.constantFrom('s3.example.test', 'h.test:8443', ' spaced  host ', 'é.test', 'b1.s3.test');
    const payload = fc.constantFrom('UNSIGNED-PAYLOAD', EMPTY_SHA256, ' x  y ', 'ab'.repeat(32));
    const when = fc.constantFrom(Date.UTC(2026, 10, 21, 1, 2, 3), Date.UTC(2026, 10, 21, 1, 2, 4), Date.UTC(2026, 10, 22));
    const call = fc.tuple(host, payload, when, fc.constantFrom('GET', 'PUT'), fc.boolean());
    fc.assert(fc.property(fc.array(call, { minLength: 1, maxLength: 6 }), (calls) => {
      for (const [h, p, at, method, withHeader] of calls) {
        const query: [string, string][] = [['x-id', 'GetObject']];
        const out = signV4({ method, host: h, path: '/b/k', query, headers: withHeader ? { 'x-amz-meta-a': ' v ' } : {}, payloadHash: p, ...creds, region: 'us-east-1', now: new Date(at) });
        const signedHeaders = Object.keys(out).filter((k) => k !== 'authorization').sort();
        const datetime = out['x-amz-date']!;
        const scope = `${datetime.slice(0, 8)}/us-east-1/s3/aws4_request`;
        const creq = canonicalRequest({ method, canonicalUri: '/b/k', canonicalQuery: canonicalQuery(query), headers: out, signedHeaders, payloadHash: p });
        const sig = createHmac('sha256', signingKey(creds.secretAccessKey, datetime.slice(0, 8), 'us-east-1', 's3')).update(stringToSign(datetime, scope, creq)).digest('hex');
        expect(out.authorization).toBe(`AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${sig}`);
      }
    }), { numRuns: 2000 });
  });
});
