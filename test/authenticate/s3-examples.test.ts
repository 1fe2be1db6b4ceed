// The S3 API Reference's own SigV4 examples (test/vectors/sigv4/s3-examples.json) fed to
// authenticate() as a client would send them: they verify, and every tampered element fails
// the way S3 fails it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authenticate, type AuthInput } from '../../src/authenticate/index.js';
import { sha256Hex } from '../../src/signing/sigv4.js';
import { keyMap, s3ErrorOf, withHeaders } from './helpers.js';

interface Example {
  name: string;
  method: string;
  host: string;
  rawPath: string;
  rawQuery: string;
  body?: string;
  headers: Record<string, string>;
  signedHeaders?: string;
  creq: string;
  sts: string;
  signature: string;
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/sigv4/s3-examples.json', import.meta.url), 'utf8')) as {
  accessKeyId: string; secretAccessKey: string; region: string; now: string; examples: Example[]; presigned: Example;
};

const { accessKeyId: AKID, secretAccessKey: SECRET, region: REGION } = vectors;
const NOW = new Date(vectors.now);
const KEYS = keyMap([AKID, SECRET]);
const SCOPE = `${AKID}/20130524/us-east-1/s3/aws4_request`;

function headerInput(e: Example): AuthInput {
  return {
    method: e.method,
    host: e.host,
    rawPath: e.rawPath,
    rawQuery: e.rawQuery,
    headers: {
      ...e.headers,
      host: e.host,
      authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=${e.signedHeaders},Signature=${e.signature}`,
    },
    now: NOW,
  };
}

function presignedInput(e: Example, rawQuery = e.rawQuery): AuthInput {
  return { method: e.method, host: e.host, rawPath: e.rawPath, rawQuery, headers: { host: e.host }, now: NOW };
}

function expectMismatch(input: AuthInput, keys = KEYS, region = REGION) {
  const err = s3ErrorOf(() => authenticate(input, keys, region));
  expect(err.code).toBe('SignatureDoesNotMatch');
  expect(err.status).toBe(403);
  expect(err.detail.StringToSign).toMatch(/^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
  expect(err.detail.CanonicalRequest).toBeTruthy();
  expect(err.detail.StringToSign!.endsWith(sha256Hex(err.detail.CanonicalRequest!))).toBe(true);
  expect(err.detail.AWSAccessKeyId).toBe(AKID);
  // Secrets never reach an error document.
  expect(JSON.stringify(err.detail)).not.toContain(SECRET);
  return err;
}

describe('S3 documentation examples, header-signed', () => {
  it('the PUT example\'s x-amz-content-sha256 is the hash of its body', () => {
    const put = vectors.examples.find((e) => e.method === 'PUT')!;
    expect(sha256Hex(put.body!)).toBe(put.headers['x-amz-content-sha256']);
  });

  for (const e of vectors.examples) {
    describe(e.name, () => {
      const input = headerInput(e);

      it('verifies', () => {
        const a = authenticate(input, KEYS, REGION);
        expect(a.kind).toBe('v4-header');
        expect(a.key?.accessKeyId).toBe(AKID);
        expect(a.payloadHash).toBe(e.headers['x-amz-content-sha256']);
        expect(a.chunkSigning?.seedSignature).toBe(e.signature);
        expect(a.chunkSigning?.scope).toBe('20130524/us-east-1/s3/aws4_request');
      });

      it('a wrong secret: SignatureDoesNotMatch carrying the published CanonicalRequest and StringToSign', () => {
        const err = expectMismatch(input, keyMap([AKID, SECRET.replace('EXAMPLE', 'EXAMPLF')]));
        expect(err.detail.CanonicalRequest).toBe(e.creq);
        expect(err.detail.StringToSign).toBe(e.sts);
        expect(err.detail.SignatureProvided).toBe(e.signature);
      });

      it('tampered method', () => {
        const err = expectMismatch({ ...input, method: e.method === 'GET' ? 'HEAD' : 'POST' });
        expect(err.detail.CanonicalRequest!.split('\n')[0]).toBe(e.method === 'GET' ? 'HEAD' : 'POST');
      });

      it('tampered path', () => {
        const err = expectMismatch({ ...input, rawPath: e.rawPath + 'x' });
        expect(err.detail.CanonicalRequest!.split('\n')[1]).toMatch(/x$/);
      });

      it('tampered query', () => {
        const rawQuery = e.rawQuery === '' ? 'versionId=1'
          : e.rawQuery === 'lifecycle' ? 'lifecycle=x'
            : e.rawQuery.replace('max-keys=2', 'max-keys=3');
        expect(rawQuery).not.toBe(e.rawQuery);
        expectMismatch({ ...input, rawQuery });
      });

      it('tampered signed header', () => {
        const name = e.headers.range ? 'range' : e.headers['x-amz-storage-class'] ? 'x-amz-storage-class' : 'x-amz-content-sha256';
        const value = name === 'range' ? 'bytes=0-10' : name === 'x-amz-storage-class' ? 'STANDARD' : 'UNSIGNED-PAYLOAD';
        const err = expectMismatch(withHeaders(input, { [name]: value }));
        expect(err.detail.CanonicalRequest).toContain(`\n${name}:${value}\n`);
      });

      it('tampered Host', () => {
        expectMismatch({ ...input, host: 'otherbucket.s3.amazonaws.com' });
      });

      it('tampered date (same day, within the skew)', () => {
        const err = expectMismatch(withHeaders(input, { 'x-amz-date': '20130524T000001Z' }));
        expect(err.detail.StringToSign!.split('\n')[1]).toBe('20130524T000001Z');
      });

      it('a signature one hex digit off', () => {
        const sig = e.signature.slice(0, -1) + (e.signature.endsWith('0') ? '1' : '0');
        expectMismatch(withHeaders(input, { authorization: (input.headers.authorization as string).replace(e.signature, sig) }));
      });
    });
  }

  const get = headerInput(vectors.examples[0]!);

  it('unknown access key: InvalidAccessKeyId', () => {
    const err = s3ErrorOf(() => authenticate(get, keyMap(['AKIAOTHER', SECRET]), REGION));
    expect(err.code).toBe('InvalidAccessKeyId');
    expect(err.status).toBe(403);
    expect(err.detail.AWSAccessKeyId).toBe(AKID);
  });

  it('clock skew over 15 minutes either way: RequestTimeTooSkewed; 15 minutes exactly is accepted', () => {
    for (const ms of [15 * 60_000 + 1000, -(15 * 60_000 + 1000)]) {
      const err = s3ErrorOf(() => authenticate({ ...get, now: new Date(NOW.getTime() + ms) }, KEYS, REGION));
      expect(err.code).toBe('RequestTimeTooSkewed');
      expect(err.status).toBe(403);
    }
    expect(authenticate({ ...get, now: new Date(NOW.getTime() + 15 * 60_000) }, KEYS, REGION).kind).toBe('v4-header');
  });

  it('wrong region: AuthorizationHeaderMalformed naming the expected region', () => {
    const err = s3ErrorOf(() => authenticate(get, KEYS, 'eu-west-1'));
    expect(err.code).toBe('AuthorizationHeaderMalformed');
    expect(err.status).toBe(400);
    expect(err.detail.Region).toBe('eu-west-1');
  });

  it('host not signed: AccessDenied', () => {
    // Re-signed without host so only the missing host can be the reason.
    const input = withHeaders(get, {
      authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=range;x-amz-content-sha256;x-amz-date,Signature=${'0'.repeat(64)}`,
    });
    const err = s3ErrorOf(() => authenticate(input, KEYS, REGION));
    expect(err.code).toBe('AccessDenied');
    expect(err.detail.HeadersNotSigned).toBe('host');
  });

  it('an unsigned x-amz-* header: AccessDenied', () => {
    const err = s3ErrorOf(() => authenticate(withHeaders(get, { 'x-amz-meta-extra': '1' }), KEYS, REGION));
    expect(err.code).toBe('AccessDenied');
    expect(err.detail.HeadersNotSigned).toBe('x-amz-meta-extra');
  });

  it('an unsigned ordinary header is allowed (S3 only insists on host and x-amz-*)', () => {
    expect(authenticate(withHeaders(get, { 'user-agent': 'curl', accept: '*/*' }), KEYS, REGION).kind).toBe('v4-header');
  });
});

describe('S3 documentation example, presigned URL', () => {
  const p = vectors.presigned;
  const input = presignedInput(p);
  const q = (from: string, to: string) => {
    expect(p.rawQuery).toContain(from);
    return p.rawQuery.replace(from, to);
  };

  it('verifies, and stays valid until X-Amz-Expires has passed', () => {
    const a = authenticate(input, KEYS, REGION);
    expect(a.kind).toBe('v4-query');
    expect(a.key?.accessKeyId).toBe(AKID);
    expect(a.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(authenticate({ ...input, now: new Date(NOW.getTime() + 86_400_000) }, KEYS, REGION).kind).toBe('v4-query');
  });

  it('the query parameters may arrive in any order', () => {
    const reversed = p.rawQuery.split('&').reverse().join('&');
    expect(authenticate({ ...input, rawQuery: reversed }, KEYS, REGION).kind).toBe('v4-query');
  });

  it('a wrong secret: SignatureDoesNotMatch carrying the published CanonicalRequest and StringToSign', () => {
    const err = expectMismatch(input, keyMap([AKID, 'not-the-secret']));
    expect(err.detail.CanonicalRequest).toBe(p.creq);
    expect(err.detail.StringToSign).toBe(p.sts);
  });

  it('tampered method', () => expectMismatch({ ...input, method: 'PUT' }));
  it('tampered path', () => expectMismatch({ ...input, rawPath: '/test.txT' }));
  it('tampered Host', () => expectMismatch({ ...input, host: 'examplebucket.s3.us-east-1.amazonaws.com', headers: { host: 'examplebucket.s3.us-east-1.amazonaws.com' } }));
  it('tampered query value (X-Amz-Expires shortened)', () => expectMismatch({ ...input, rawQuery: q('X-Amz-Expires=86400', 'X-Amz-Expires=3600') }));
  it('an added query parameter', () => expectMismatch({ ...input, rawQuery: p.rawQuery + '&response-content-type=text%2Fhtml' }));
  it('tampered date', () => expectMismatch({ ...input, rawQuery: q('X-Amz-Date=20130524T000000Z', 'X-Amz-Date=20130524T000100Z') }));

  it('wrong region: AuthorizationQueryParametersError', () => {
    expect(s3ErrorOf(() => authenticate(input, KEYS, 'eu-west-1')).code).toBe('AuthorizationQueryParametersError');
  });

  it('unknown access key: InvalidAccessKeyId', () => {
    expect(s3ErrorOf(() => authenticate(input, keyMap(['AKIAOTHER', SECRET]), REGION)).code).toBe('InvalidAccessKeyId');
  });

  it('expired: AccessDenied "Request has expired"', () => {
    const err = s3ErrorOf(() => authenticate({ ...input, now: new Date(NOW.getTime() + 86_401_000) }, KEYS, REGION));
    expect(err.code).toBe('AccessDenied');
    expect(err.message).toBe('Request has expired');
    expect(err.detail['X-Amz-Expires']).toBe('86400');
  });

  it('X-Amz-Expires over 604800: AuthorizationQueryParametersError; 604800 itself is allowed', () => {
    const err = s3ErrorOf(() => authenticate({ ...input, rawQuery: q('X-Amz-Expires=86400', 'X-Amz-Expires=604801') }, KEYS, REGION));
    expect(err.code).toBe('AuthorizationQueryParametersError');
    expect(err.message).toMatch(/604800/);
    // 604800 passes the limit and then fails only on the signature.
    expectMismatch({ ...input, rawQuery: q('X-Amz-Expires=86400', 'X-Amz-Expires=604800') });
  });

  it('host not signed: AccessDenied', () => {
    const err = s3ErrorOf(() => authenticate({ ...input, rawQuery: q('X-Amz-SignedHeaders=host', 'X-Amz-SignedHeaders=range') }, KEYS, REGION));
    expect(err.code).toBe('AccessDenied');
    expect(err.detail.HeadersNotSigned).toBe('host');
  });

  it('an unsigned x-amz-* header added to the presigned request: AccessDenied', () => {
    const err = s3ErrorOf(() => authenticate(withHeaders(input, { 'x-amz-acl': 'public-read' }), KEYS, REGION));
    expect(err.code).toBe('AccessDenied');
    expect(err.detail.HeadersNotSigned).toBe('x-amz-acl');
  });

  it('x-amz-content-sha256 sent as a header is tolerated (SDKs add it); the signature still covers UNSIGNED-PAYLOAD', () => {
    expect(authenticate(withHeaders(input, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), KEYS, REGION).kind).toBe('v4-query');
  });

  it('a missing X-Amz-Signature or Credential: AuthorizationQueryParametersError', () => {
    const noSig = p.rawQuery.replace(/&X-Amz-Signature=[0-9a-f]+/, '');
    expect(s3ErrorOf(() => authenticate({ ...input, rawQuery: noSig }, KEYS, REGION)).code).toBe('AuthorizationQueryParametersError');
    const noCred = p.rawQuery.replace(/X-Amz-Credential=[^&]+&/, '');
    expect(s3ErrorOf(() => authenticate({ ...input, rawQuery: noCred }, KEYS, REGION)).code).toBe('AuthorizationQueryParametersError');
  });
});
