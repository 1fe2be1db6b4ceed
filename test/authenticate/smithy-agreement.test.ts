// Real signers, random requests: whatever @smithy/signature-v4 (what @aws-sdk/client-s3 signs
// with) and @aws-sdk/s3-request-presigner produce, authenticate() must accept, and a one-character
// change to the path must break.
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authenticate, type AuthInput } from '../../src/authenticate/index.js';
import { formatAmzDate, sha256Hex, type HeaderValue } from '../../src/signing/sigv4.js';
import { keyMap, s3ErrorOf } from './helpers.js';

const AKID = 'AKIDSMITHYAGREEMENT';
const SECRET = 'sEcReT/with+odd=chars';
const REGION = 'us-east-1';
const KEYS = keyMap([AKID, SECRET]);
const credentials = { accessKeyId: AKID, secretAccessKey: SECRET };

// As @aws-sdk/client-s3 encodes an object key into the path: @smithy/core's
// extendedEncodeURIComponent on each '/'-separated segment (HttpBindingProtocol, `{Key+}` labels),
// and the S3 signer then signs that path as is (uriEscapePath: false).
function extendedEncodeURIComponent(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
const encodeKey = (key: string) => key.split('/').map(extendedEncodeURIComponent).join('/');
// @smithy/util-uri-escape's escapeUri, as the SDK serializes query strings.
const escapeUri = extendedEncodeURIComponent;

// Keys: the characters that trip encoders up, unicode (incl. astral), and S3-legal oddities such
// as "//", "." and ".." segments that S3 does not normalize.
const keyChar = fc.oneof(
  fc.constantFrom('a', 'Z', '0', '-', '_', '.', '~', ' ', '+', '!', '*', "'", '(', ')', '/', '%', '&', '=', '?', '#', ':', ',', ';', '@', '$', '[', ']'),
  fc.constantFrom('é', 'ß', 'ሴ', '日本', '😀', '\u00a0'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }),
);
const objectKey = fc.oneof(
  fc.array(keyChar, { minLength: 1, maxLength: 12 }).map((cs) => cs.join('')),
  fc.constantFrom('a//b', './x', 'a/../b', '..', 'dir/', 'x y+z~!*\'()'),
);
const queryName = fc.oneof(
  fc.constantFrom('prefix', 'max-keys', 'delimiter', 'list-type', 'versionId', 'uploads', 'a', 'A', 'a b', 'x+y', 'ü', '~tilde'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
);
const queryValue = fc.oneof(
  fc.constant(''),
  fc.constantFrom('/', 'a b', 'a+b', '=', '&', 'ሴ', '%20', "!*'()"),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);
// Header values as they can travel on HTTP/1.1: visible ASCII with runs of spaces and tabs.
const headerValue = fc.array(fc.constantFrom('a', 'B', '1', ' ', '  ', '\t', '-', '"', ',', ':', '/', '='), { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(''))
  .filter((v) => v.trim() !== '');

const request = fc.record({
  method: fc.constantFrom('GET', 'PUT', 'HEAD', 'DELETE', 'POST'),
  virtualHost: fc.boolean(),
  host: fc.constantFrom('s3.example.test', 'localhost:9000', '127.0.0.1:8080'),
  key: objectKey,
  query: fc.array(fc.tuple(queryName, fc.array(queryValue, { minLength: 1, maxLength: 3 })), { maxLength: 4 }),
  bareEmpty: fc.boolean(),
  meta: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), headerValue, { maxKeys: 3 }),
  payload: fc.constantFrom('UNSIGNED-PAYLOAD', sha256Hex(''), sha256Hex('hello')),
  shuffle: fc.integer({ min: 0, max: 1000 }),
}).filter((r) => r.query.every(([n]) => !/^x-amz-/i.test(n)));

type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

const NOW = new Date('2024-03-01T12:00:00Z');

function parts(r: Req) {
  const bucket = 'my-bucket';
  const host = r.virtualHost ? `${bucket}.${r.host}` : r.host;
  const path = r.virtualHost ? `/${encodeKey(r.key)}` : `/${bucket}/${encodeKey(r.key)}`;
  const query: Record<string, string | string[]> = {};
  for (const [n, vs] of r.query) {
    const prev = query[n];
    const all = [...(prev === undefined ? [] : Array.isArray(prev) ? prev : [prev]), ...vs];
    query[n] = all.length === 1 ? all[0]! : all;
  }
  return { host, path, query };
}

/** The query string on the wire, in a scrambled order, empty values sometimes without '='. */
function wireQuery(query: Record<string, string | string[] | null>, r: Req): string {
  const pairs: string[] = [];
  for (const [n, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v ?? '']) {
      pairs.push(one === '' && r.bareEmpty ? escapeUri(n) : `${escapeUri(n)}=${escapeUri(one)}`);
    }
  }
  const k = pairs.length ? r.shuffle % pairs.length : 0;
  return [...pairs.slice(k), ...pairs.slice(0, k)].join('&');
}

/** What listen/ hands to authenticate(): lowercased names, the Host as signed. */
function authInput(signed: HttpRequest, r: Req, host: string): AuthInput {
  const headers: Record<string, HeaderValue> = {};
  for (const [n, v] of Object.entries(signed.headers)) headers[n.toLowerCase()] = v;
  return { method: signed.method, host, rawPath: signed.path, rawQuery: wireQuery(signed.query ?? {}, r), headers, now: NOW };
}

/** One character of the path changed to a different letter. */
function tamperPath(path: string, seed: number): string {
  const i = 1 + (seed % (path.length - 1 || 1));
  const c = path[i] === 'q' ? 'r' : 'q';
  return path.slice(0, i) + c + path.slice(i + 1);
}

const signer = new SignatureV4({ credentials, region: REGION, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
const presigner = new S3RequestPresigner({ credentials, region: REGION, sha256: Sha256 });

async function headerSigned(r: Req): Promise<{ input: AuthInput; host: string }> {
  const { host, path, query } = parts(r);
  const headers: Record<string, string> = { host, 'x-amz-content-sha256': r.payload };
  for (const [n, v] of Object.entries(r.meta)) headers[`x-amz-meta-${n}`] = v;
  const signed = await signer.sign(
    { method: r.method, protocol: 'https:', hostname: host.split(':')[0]!, path, query, headers } as HttpRequest,
    { signingDate: NOW },
  ) as HttpRequest;
  return { input: authInput(signed, r, host), host };
}

async function presigned(r: Req): Promise<{ input: AuthInput; host: string }> {
  const { host, path, query } = parts(r);
  const headers: Record<string, string> = { host };
  for (const [n, v] of Object.entries(r.meta)) headers[`x-amz-meta-${n}`] = v;
  const signed = await presigner.presign(
    { method: r.method, protocol: 'https:', hostname: host.split(':')[0]!, path, query, headers } as HttpRequest,
    { signingDate: NOW, expiresIn: 3600 },
  );
  return { input: authInput(signed, r, host), host };
}

describe('agreement with @smithy/signature-v4 (header auth, S3 settings)', () => {
  it('a known request signs as expected (sanity of the harness)', async () => {
    const r: Req = { method: 'GET', virtualHost: false, host: 's3.example.test', key: 'a b+c', query: [['prefix', ['x/y']]], bareEmpty: false, meta: {}, payload: 'UNSIGNED-PAYLOAD', shuffle: 0 };
    const { input } = await headerSigned(r);
    expect(input.rawPath).toBe('/my-bucket/a%20b%2Bc');
    expect(input.rawQuery).toBe('prefix=x%2Fy');
    expect(input.headers['x-amz-date']).toBe(formatAmzDate(NOW));
    expect(authenticate(input, KEYS, REGION).kind).toBe('v4-header');
  });

  it('accepts every signed request and rejects a one-character path change', async () => {
    await fc.assert(fc.asyncProperty(request, fc.nat(), async (r, seed) => {
      const { input } = await headerSigned(r);
      const a = authenticate(input, KEYS, REGION);
      expect(a.kind).toBe('v4-header');
      expect(a.payloadHash).toBe(r.payload);

      const err = s3ErrorOf(() => authenticate({ ...input, rawPath: tamperPath(input.rawPath, seed) }, KEYS, REGION));
      expect(err.code).toBe('SignatureDoesNotMatch');
    }), { numRuns: 300 });
  });
});

describe('agreement with @aws-sdk/s3-request-presigner (query auth)', () => {
  it('a known request presigns as expected (sanity of the harness)', async () => {
    const r: Req = { method: 'GET', virtualHost: true, host: 's3.example.test', key: 'dir/ሴ.txt', query: [], bareEmpty: false, meta: { color: 'blue' }, payload: 'UNSIGNED-PAYLOAD', shuffle: 0 };
    const { input } = await presigned(r);
    expect(input.rawPath).toBe('/dir/%E1%88%B4.txt');
    expect(input.rawQuery).toContain('X-Amz-Credential=AKIDSMITHYAGREEMENT%2F20240301%2Fus-east-1%2Fs3%2Faws4_request');
    expect(input.rawQuery).toContain('x-amz-meta-color=blue'); // hoisted into the query by the presigner
    expect(authenticate(input, KEYS, REGION).kind).toBe('v4-query');
  });

  it('accepts every presigned request and rejects a one-character path change', async () => {
    await fc.assert(fc.asyncProperty(request, fc.nat(), async (r, seed) => {
      const { input } = await presigned(r);
      const a = authenticate(input, KEYS, REGION);
      expect(a.kind).toBe('v4-query');
      expect(a.payloadHash).toBe('UNSIGNED-PAYLOAD');

      const err = s3ErrorOf(() => authenticate({ ...input, rawPath: tamperPath(input.rawPath, seed) }, KEYS, REGION));
      expect(err.code).toBe('SignatureDoesNotMatch');
    }), { numRuns: 300 });
  });
});
