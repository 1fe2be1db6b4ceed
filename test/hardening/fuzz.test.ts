// Bad input: property tests on every parser s3gate owns. Each bad input yields an S3Error (a
// ConfigError for the config) or a valid result: never another exception, never a hang. Runs
// are bounded in count; every async property also races a timer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { parseAuthorizationV4 } from '../../src/authenticate/sigv4.js';
import { authenticate } from '../../src/authenticate/index.js';
import { parseAuthorizationV2, parseQueryAuthV2 } from '../../src/signing/sigv2.js';
import { canonicalQuery, canonicalUri, parseQuery, safeDecode, signingKey } from '../../src/signing/sigv4.js';
import { resolveAddress } from '../../src/addressing/resolve.js';
import { classify } from '../../src/authorize/operation.js';
import { parseCopySource } from '../../src/authorize/view.js';
import { AwsChunkedDecoder, inboundPayload, type ChunkedMode } from '../../src/payload/index.js';
import { listedBuckets, rewriteXml } from '../../src/rewrite/response.js';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import type { GatewayConfig, GatewayKey } from '../../src/config/types.js';
import { S3Error } from '../../src/s3/errors.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';

const RUNS = 2000;
const SEED = Number(process.env.FUZZ_SEED ?? 20250601);
const params = (numRuns = RUNS) => ({ numRuns, seed: SEED, endOnFailure: true });

/** The call returns, or throws an S3Error: anything else is a bug. */
function s3OrValue<T>(f: () => T): T | S3Error {
  try {
    return f();
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
}

// ---- arbitraries ------------------------------------------------------------------------

const HEX64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const token = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '/', '//', '.', '..', '%', '%2', '%2F', '%252F', '%E9', '%C3%A9', '%ZZ', '%00', '\u0000', '\ud800', 'é', 'e\u0301', '?', '#', '&', '=', ';', ',', ' ', '+', 'AWS4-HMAC-SHA256', 'aws4_request', 's3', 'us-east-1', GW_KEY.accessKeyId, 'host', 'x-amz-date', 'x-amz-content-sha256', '__proto__', 'constructor', 'toString', 'hasOwnProperty'),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const joined = (sep: string[], n = 6) => fc.array(fc.tuple(token, fc.constantFrom(...sep)), { maxLength: n }).map((xs) => xs.map(([a, b]) => a + b).join(''));
const amzDate = fc.oneof(
  fc.date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')),
  fc.constant(new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')),
  token,
);
const credential = fc.oneof(
  fc.tuple(fc.constantFrom(GW_KEY.accessKeyId, 'NOPE', ''), amzDate.map((d) => d.slice(0, 8)), fc.constantFrom('us-east-1', 'eu-west-1', ''), fc.constantFrom('s3', 'iam', ''), fc.constantFrom('aws4_request', 'x'))
    .map((p) => p.join('/')),
  joined(['/', '', ' ']),
);
const signedHeaderList = fc.oneof(
  fc.array(fc.constantFrom('host', 'x-amz-date', 'x-amz-content-sha256', 'range', '__proto__', 'constructor', 'toString', '', 'HOST', 'content-type'), { maxLength: 6 }).map((xs) => xs.join(';')),
  joined([';', ',', '']),
);
const authorizationV4 = fc.oneof(
  fc.tuple(credential, signedHeaderList, fc.oneof(HEX64, token), fc.constantFrom(', ', ',', ' ,', ',,', ' '))
    .map(([c, s, sig, sep]) => `AWS4-HMAC-SHA256 Credential=${c}${sep}SignedHeaders=${s}${sep}Signature=${sig}`),
  joined([',', '=', ' ', '']).map((s) => `AWS4-HMAC-SHA256 ${s}`),
);
const authorizationAny = fc.oneof(
  authorizationV4,
  fc.tuple(fc.constantFrom('AWS ', 'AWS  ', 'aws ', 'AWS'), token, fc.constantFrom(':', '::', ''), token).map((p) => p.join('')),
  fc.constantFrom('Bearer x', 'Basic Zm9vOmJhcg==', 'AWS4-ECDSA-P256-SHA256 Credential=x', ' ', '\t'),
  fc.string({ maxLength: 200 }),
);
const queryString = fc.oneof(
  joined(['&', '=', '']),
  fc.array(fc.tuple(
    fc.constantFrom('X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'x-amz-content-sha256', 'X-Amz-Content-Sha256', 'AWSAccessKeyId', 'Signature', 'Expires', 'uploadId', 'partNumber', 'versionId', 'prefix', 'list-type', 'delete', 'uploads', 'acl', 'x-id'),
    fc.oneof(token, amzDate, credential, signedHeaderList, HEX64, fc.constantFrom('AWS4-HMAC-SHA256', '3600', '604801', '-1', '1e3', '9999999999999999', '')),
  ), { maxLength: 8 }).map((ps) => ps.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponentSafe(v)}`).join('&')),
);
function encodeURIComponentSafe(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s; // lone surrogates: send raw
  }
}
const headerValue = fc.oneof(token, amzDate, HEX64, fc.constantFrom('UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD', 'aws-chunked', 'aws-chunked,gzip', 'x-amz-checksum-crc32', 'x-amz-checksum-sha256,x-amz-checksum-crc32', 'AAAAAA==', '0', '-1', '18446744073709551616', ' 12 ', '1e3'));
const headerName = fc.constantFrom(
  'x-amz-date', 'date', 'x-amz-content-sha256', 'content-length', 'content-encoding', 'x-amz-decoded-content-length', 'x-amz-trailer',
  'x-amz-checksum-crc32', 'x-amz-checksum-crc32c', 'x-amz-checksum-crc64nvme', 'x-amz-checksum-sha1', 'x-amz-checksum-sha256', 'x-amz-checksum-bogus',
  'content-md5', 'x-amz-sdk-checksum-algorithm', 'x-amz-copy-source', 'x-amz-acl', 'range', 'content-type', 'host', '__proto__', 'constructor',
);
const headers = fc.array(fc.tuple(headerName, fc.oneof(headerValue, fc.array(headerValue, { minLength: 2, maxLength: 3 }))), { maxLength: 8 })
  .map((hs) => {
    const o: Record<string, string | string[]> = Object.create(null);
    for (const [k, v] of hs) o[k] = v;
    return { ...o };
  });
const rawPath = fc.oneof(joined(['/', '', '%2F', '/../', '//']).map((p) => '/' + p), token, fc.constantFrom('/', '//', '/media', '/media/', '/media/key', 'http://evil.example/x', '*', ''));
const host = fc.oneof(
  fc.constantFrom(DOMAIN, `media.${DOMAIN}`, `MEDIA.${DOMAIN}`, `${DOMAIN}:8080`, 'files.example.test', '127.0.0.1:9000', '[::1]:80', '[', ']', '[::1', ':', ':80', 'a:b:c', 'u@h', `.${DOMAIN}`, `..${DOMAIN}`, ''),
  token,
);

// ---- fixtures ----------------------------------------------------------------------------

const key: GatewayKey = { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] };
const keys = new Map([[key.accessKeyId, key]]);
const cfg: GatewayConfig = buildConfig({
  domains: [DOMAIN],
  keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read'] }] }],
  upstreams: { u: { provider: 'linode', endpoint: 'http://127.0.0.1:1', credentials: UP_KEY } },
  buckets: { media: { upstream: 'u', domains: ['files.example.test'] }, '*': { upstream: 'u' } },
}, tmpdir());

// ---- pure parsers ------------------------------------------------------------------------

describe('signature parsers', () => {
  it('parseAuthorizationV4: S3Error or three parsed parts', () => {
    fc.assert(fc.property(fc.oneof(authorizationV4, fc.string({ maxLength: 300 })), (h) => {
      const r = s3OrValue(() => parseAuthorizationV4(h));
      if (!(r instanceof S3Error)) {
        expect(typeof r.signature).toBe('string');
        expect(Array.isArray(r.signedHeaders)).toBe(true);
        expect(r.credential.scope.split('/')).toHaveLength(4);
      } else expect(r.code).toBe('AuthorizationHeaderMalformed');
    }), params());
  });

  it('parseAuthorizationV2 and parseQueryAuthV2: null or a parsed value, never a throw', () => {
    fc.assert(fc.property(authorizationAny, queryString, (h, q) => {
      const a = parseAuthorizationV2(h);
      if (a) expect(a.accessKeyId.length).toBeGreaterThan(0);
      const b = parseQueryAuthV2(new URLSearchParams(q));
      if (b) expect(Number.isInteger(b.expires)).toBe(true);
    }), params());
  });

  it('authenticate(): arbitrary Authorization, query and headers give an S3Error or a result', () => {
    fc.assert(fc.property(fc.option(authorizationAny, { nil: undefined }), queryString, headers, rawPath, host, fc.constantFrom('GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'get', 'X'), fc.boolean(),
      (authz, q, hs, path, h, method, virtual) => {
        const input = {
          method, host: h, rawPath: path, rawQuery: q, now: new Date(),
          headers: { ...hs, ...(authz !== undefined ? { authorization: authz } : {}) },
          ...(virtual ? { bucketInHost: 'media' } : {}),
        };
        const r = s3OrValue(() => authenticate(input, keys, 'us-east-1'));
        // Random input never authenticates as the key: only anonymous can come out.
        if (!(r instanceof S3Error)) expect(r.kind).toBe('anonymous');
      }), params());
  });
});

describe('regressions found by these properties', () => {
  it('presigned X-Amz-SignedHeaders naming Object.prototype members gives SignatureDoesNotMatch, not a TypeError (500)', () => {
    const now = new Date();
    const d = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    fc.assert(fc.property(fc.array(fc.constantFrom('constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'x-amz-date'), { minLength: 1, maxLength: 3 }), fc.boolean(), (names, header) => {
      const sh = ['host', ...names].join(';');
      const scope = `${GW_KEY.accessKeyId}/${d.slice(0, 8)}/us-east-1/s3/aws4_request`;
      const input = header
        ? { method: 'GET', host: 'h', rawPath: '/b/k', rawQuery: '', now, headers: { 'x-amz-date': d, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', authorization: `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=${sh}, Signature=${'0'.repeat(64)}` } }
        : { method: 'GET', host: 'h', rawPath: '/b/k', now, headers: {}, rawQuery: `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(scope)}&X-Amz-Date=${d}&X-Amz-Expires=60&X-Amz-SignedHeaders=${encodeURIComponent(sh)}&X-Amz-Signature=${'0'.repeat(64)}` };
      const r = s3OrValue(() => authenticate(input, keys, 'us-east-1'));
      expect(r).toBeInstanceOf(S3Error);
      expect(['SignatureDoesNotMatch', 'AccessDenied']).toContain((r as S3Error).code);
    }), params(200));
  });

  it('rewriteXml with a client Host that is not a URL authority ("a<b", "a b", "[x") rewrites and escapes instead of throwing', () => {
    for (const h of ['a<b', 'a b', '[x', 'a"b']) {
      const out = rewriteXml('<Error><Code>NoSuchKey</Code><Resource>/up/k</Resource><HostId>s3.test</HostId><Message>at s3.test</Message></Error>', { upstreamBucket: 'up', clientBucket: 'media', upstreamHosts: ['up.s3.test', 's3.test'], clientBase: `http://${h}`, clientBucketUrl: `http://${h}/media` });
      expect(out).toContain('<Resource>/media/k</Resource>');
      expect(out).not.toContain('s3.test');
      expect(out).not.toMatch(/<b|a b"/);
    }
  });
});

describe('canonicalization (src/signing/sigv4.ts)', () => {
  it('safeDecode, parseQuery, canonicalQuery, canonicalUri never throw', () => {
    fc.assert(fc.property(fc.oneof(rawPath, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 50 })), queryString, (p, q) => {
      expect(typeof safeDecode(p)).toBe('string');
      const u = canonicalUri(p);
      expect(u.startsWith('/') || u === '/' || u.length > 0).toBe(true);
      const pairs = parseQuery(q);
      for (const [n, v] of pairs) expect(typeof n + typeof v).toBe('stringstring');
      const c = canonicalQuery(pairs, 'X-Amz-Signature');
      // canonical form is stable under a second pass
      expect(canonicalQuery(parseQuery(c))).toBe(c);
    }), params());
  });

  it('canonicalUri is idempotent on its own output', () => {
    fc.assert(fc.property(fc.oneof(rawPath, fc.string({ unit: 'binary', maxLength: 40 }).map((s) => '/' + s)), (p) => {
      const once = canonicalUri(p);
      // Only meaningful where the path decodes cleanly
      if (!/%(?![0-9A-Fa-f]{2})/.test(p)) expect(typeof canonicalUri(once)).toBe('string');
    }), params());
  });
});

describe('addressing, classification, copy source', () => {
  it('resolveAddress: S3Error (InvalidURI, or InvalidBucketName for an empty path-style bucket) or an address within the configuration', () => {
    fc.assert(fc.property(host, fc.tuple(rawPath, fc.option(queryString, { nil: undefined })).map(([p, q]) => (q === undefined ? p : `${p}?${q}`)), (h, url) => {
      const r = s3OrValue(() => resolveAddress(cfg, h, url));
      if (r instanceof S3Error) expect(r.code).toBe(url.startsWith('//') ? 'InvalidBucketName' : 'InvalidURI');
      else {
        expect(['path', 'virtual', 'custom-domain']).toContain(r.style);
        expect(r.rawPath.startsWith('/')).toBe(true);
      }
    }), params());
  });

  it('classify: always an operation with a known action', () => {
    fc.assert(fc.property(fc.oneof(fc.constantFrom('GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'get'), token), fc.option(token, { nil: undefined }), fc.option(token, { nil: undefined }), queryString, headers, (m, b, k, q, hs) => {
      const op = classify(m, b, k, new URLSearchParams(q), hs);
      expect(['read', 'write', 'list', 'delete', 'admin']).toContain(op.action);
      expect(op.name.length).toBeGreaterThan(0);
    }), params());
  });

  it('parseCopySource: S3Error (InvalidArgument) or bucket and key', () => {
    fc.assert(fc.property(fc.oneof(rawPath, joined(['/', '?', '%', '']), fc.string({ maxLength: 100 })), (v) => {
      const r = s3OrValue(() => parseCopySource(v));
      if (r instanceof S3Error) expect(r.code).toBe('InvalidArgument');
      else expect(r.bucket.length).toBeGreaterThan(0);
    }), params());
  });
});

// ---- payload decoding -------------------------------------------------------------------

/** Feeds bytes through a Transform; resolves with 'ok', or the S3Error; rejects on other errors or a hang. */
function drive(t: NodeJS.ReadWriteStream & { destroy(e?: Error): void }, pieces: Buffer[]): Promise<'ok' | S3Error> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      t.destroy();
      reject(new Error('decoder hung'));
    }, 2000);
    const done = (v: 'ok' | S3Error | Error) => {
      clearTimeout(timer);
      if (v === 'ok' || v instanceof S3Error) resolve(v);
      else reject(v);
    };
    t.on('data', () => {});
    t.on('end', () => done('ok'));
    t.on('error', (e: Error) => done(e instanceof S3Error ? e : e));
    for (const p of pieces) t.write(p);
    t.end();
  });
}

const chunkedBody = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  // framing-shaped: size lines, signatures, trailers, CRLFs in random order
  fc.array(fc.oneof(
    fc.constantFrom('0\r\n', '\r\n', '0\r\n\r\n', '5\r\nhello\r\n', 'ffffffffffffffff\r\n', 'a;chunk-signature=', ';chunk-signature=' + '0'.repeat(64), 'x-amz-checksum-crc32:AAAAAA==\r\n', 'x-amz-trailer-signature:' + '0'.repeat(64) + '\r\n', '\n', '\r', 'zz\r\n', '1\r\nx'),
    fc.stringMatching(/^[0-9a-f]{1,4}\r\n$/),
    fc.string({ maxLength: 10 }),
  ), { maxLength: 12 }).map((xs) => Buffer.from(xs.join(''), 'latin1')),
);

describe('payload (src/payload)', () => {
  it('inboundPayload with arbitrary headers, then arbitrary bytes: S3Errors only, never a hang', async () => {
    await fc.assert(fc.asyncProperty(headers, chunkedBody, fc.integer({ min: 1, max: 50 }), async (hs, body, split) => {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(hs)) flat[k] = Array.isArray(v) ? v.join(',') : v;
      const signing = { signingKey: signingKey('s', '20250101', 'us-east-1', 's3'), datetime: '20250101T000000Z', scope: '20250101/us-east-1/s3/aws4_request', seedSignature: '0'.repeat(64) };
      const p = s3OrValue(() => inboundPayload(flat, signing));
      if (p instanceof S3Error) return;
      const pieces: Buffer[] = [];
      for (let i = 0; i < body.length; i += split) pieces.push(body.subarray(i, i + split));
      await drive(p.body, pieces);
    }), params(1000));
  });

  it('AwsChunkedDecoder in every mode with arbitrary bytes: S3Errors only, never a hang', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom<ChunkedMode>('signed', 'signed-trailer', 'unsigned-trailer'), fc.option(fc.nat({ max: 400 }), { nil: undefined }), fc.constantFrom<string[]>([], ['x-amz-checksum-crc32'], ['x-amz-checksum-sha256']), chunkedBody, fc.integer({ min: 1, max: 64 }),
      async (mode, decodedLength, trailerNames, body, split) => {
        const d = s3OrValue(() => new AwsChunkedDecoder({
          mode, trailerNames, ...(decodedLength !== undefined ? { decodedLength } : {}),
          signing: { signingKey: signingKey('s', '20250101', 'us-east-1', 's3'), datetime: '20250101T000000Z', scope: '20250101/us-east-1/s3/aws4_request', seedSignature: '0'.repeat(64) },
        }));
        if (d instanceof S3Error) return;
        const pieces: Buffer[] = [];
        for (let i = 0; i < body.length; i += split) pieces.push(body.subarray(i, i + split));
        await drive(d, pieces);
      }), params(1000));
  });
});

// ---- response rewriting -----------------------------------------------------------------

describe('rewrite (src/rewrite)', () => {
  const xml = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.array(fc.oneof(fc.constantFrom('<Name>up</Name>', '<Bucket>up</Bucket>', '<BucketName>up</BucketName>', '<Location>http://up.s3.test/up/k</Location>', '<Location>/up/k</Location>', '<Location>', '</Location>', '<Resource>/up/x</Resource>', '<StringToSign>x</StringToSign>', '<Bucket><Name>up</Name><CreationDate>d</CreationDate></Bucket>', '<Bucket>', '</Bucket>', 's3.test', '&amp;', '<'), token), { maxLength: 15 }).map((xs) => xs.join('')),
  );
  const name = fc.oneof(fc.constantFrom('up', 'media', 'a.b', '$&', '$1', '(', '[', '\\', '.*'), token);

  it('rewriteXml: always a string, whatever the XML, names and client Host', () => {
    fc.assert(fc.property(xml, name, name, fc.oneof(host, fc.constant('127.0.0.1:8080')), fc.constantFrom('http', 'https'), (x, up, client, h, proto) => {
      const clientBase = `${proto}://${h}`;
      const out = rewriteXml(x, { upstreamBucket: up, clientBucket: client, upstreamHosts: [`${up}.s3.test`, 's3.test'], clientBase, clientBucketUrl: `${clientBase}/${client}` });
      expect(typeof out).toBe('string');
    }), params());
  });

  it('listedBuckets: never throws on arbitrary XML; reads names and dates in either order', () => {
    fc.assert(fc.property(xml, (x) => {
      expect(Array.isArray(listedBuckets(x))).toBe(true);
    }), params());
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{2,20}$/), { maxLength: 5 }), fc.boolean(), (names, dateFirst) => {
      const doc = '<ListAllMyBucketsResult><Buckets>' + names.map((n) => (dateFirst
        ? `<Bucket>\n  <CreationDate>d</CreationDate>\n  <Name>${n}</Name>\n</Bucket>`
        : `<Bucket><Name>${n}</Name><CreationDate>d</CreationDate></Bucket>`)).join('') + '</Buckets></ListAllMyBucketsResult>';
      expect(listedBuckets(doc)).toEqual(names.map((name) => ({ name, created: 'd' })));
    }), params());
  });
});

// ---- configuration ----------------------------------------------------------------------

describe('buildConfig (src/config/load.ts) with arbitrary YAML-ish documents', () => {
  const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('${NOPE}', '${HOME}', '${file:/nonexistent}', '${X:-d}', 'linode', 'local', 'http://127.0.0.1:1', '127.0.0.1:0', '*', 'media', 'read', 'public/'));
  const yamlish = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 4 }), tie('object')),
    object: fc.dictionary(fc.oneof(fc.constantFrom('listen', 'domains', 'region', 'keys', 'upstreams', 'buckets', 'trustedProxies', 'log', 'address', 'tls', 'cert', 'key', 'accessKeyId', 'secretAccessKey', 'allow', 'bucket', 'prefix', 'actions', 'provider', 'endpoint', 'credentials', 'path', 'connectAddress', 'timeouts', 'addressing', 'signing', 'payload', 'checksums', 'ca', 'verify', 'upstream', 'domains', 'public', 'mode', 'from', 'mirror', 'copyOnRead', 'media', '*', 'u', '__proto__', 'constructor'), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 6 }),
  })).value;
  const valid = {
    listen: [{ address: '127.0.0.1:0' }],
    keys: [{ accessKeyId: 'AKID1', secretAccessKey: 'secret', allow: [{ bucket: 'media', actions: ['read'] }] }],
    upstreams: { u: { provider: 'linode', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } },
    buckets: { media: { upstream: 'u' } },
  };
  // A valid document with one field somewhere replaced by arbitrary YAML-ish content.
  const mutated = fc.tuple(fc.constantFrom(
    ['listen'], ['listen', 0], ['listen', 0, 'address'], ['listen', 0, 'tls'], ['keys'], ['keys', 0], ['keys', 0, 'allow'], ['keys', 0, 'allow', 0], ['keys', 0, 'allow', 0, 'actions'],
    ['keys', 0, 'allow', 0, 'prefix'], ['upstreams'], ['upstreams', 'u'], ['upstreams', 'u', 'provider'], ['upstreams', 'u', 'endpoint'], ['upstreams', 'u', 'credentials'], ['upstreams', 'u', 'timeouts'],
    ['upstreams', 'u', 'tls'], ['upstreams', 'u', 'signing'], ['upstreams', 'u', 'addressing'], ['upstreams', 'u', 'payload'], ['upstreams', 'u', 'checksums'], ['upstreams', 'u', 'connectAddress'],
    ['buckets'], ['buckets', 'media'], ['buckets', 'media', 'upstream'], ['buckets', 'media', 'domains'], ['buckets', 'media', 'public'], ['buckets', 'media', 'mode'], ['buckets', 'media', 'from'], ['buckets', 'media', 'mirror'],
    ['domains'], ['region'], ['trustedProxies'], ['log'],
  ) as fc.Arbitrary<(string | number)[]>, yamlish).map(([path, v]) => {
    const doc = structuredClone(valid) as Record<string, unknown>;
    let o: Record<string | number, unknown> = doc;
    for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>;
    o[path.at(-1)!] = v;
    return doc;
  });

  const check = (doc: unknown) => {
    try {
      const c = buildConfig(doc, tmpdir(), { env: { HOME: '/home/x' } });
      expect(c.upstreams.size).toBeGreaterThan(0);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
    }
  };
  it('arbitrary documents: ConfigError or a config', () => {
    fc.assert(fc.property(yamlish, check), params());
  });
  it('a valid document with one field replaced by anything: ConfigError or a config', () => {
    fc.assert(fc.property(mutated, check), params());
  });
});

// ---- end to end: random raw HTTP requests -------------------------------------------------

describe('end to end: random raw HTTP requests over a socket', () => {
  let upstream: StrictUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let port: number;
  beforeAll(async () => {
    upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
    gw = await startTestGateway({
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
      upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY, timeouts: { connect: 1000, headers: 2000, body: 2000 } } },
      buckets: { media: { upstream: 'strict', public: 'list', domains: ['files.example.test'] }, '*': { upstream: 'strict' } },
    });
    port = portOf(gw.url);
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  function exchange(text: Buffer, waitMs = 4000): Promise<Buffer> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const out: Buffer[] = [];
      const timer = setTimeout(() => s.destroy(), waitMs);
      s.on('data', (c) => out.push(c));
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(out));
      });
      // write, not end: Node's server treats a half-closed client as gone and aborts its request
      s.write(text);
    });
  }

  // Valid HTTP/1.1 syntax with arbitrary S3-ish content: the parser accepts it, so s3gate answers.
  const vchar = (s: string) => s.replace(/[^\x20-\x7e\t]/g, '').trim();
  const targetChars = (s: string) => s.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponentSafe(c)).replace(/[^\x21-\x7e]|#/g, '');
  const request = fc.record({
    // Methods Node's HTTP parser knows (CONNECT is a tunnel request, not S3's): other tokens are
    // refused by the parser before s3gate sees them (see the malformed-input test below).
    method: fc.oneof(fc.constantFrom('GET', 'PUT', 'POST', 'HEAD', 'DELETE'), fc.constantFrom(...http.METHODS.filter((m) => m !== 'CONNECT'))),
    path: fc.tuple(rawPath, fc.option(queryString, { nil: undefined })).map(([p, q]) => targetChars(p.startsWith('/') ? p : '/' + p) + (q ? '?' + targetChars(q) : '')),
    host: fc.oneof(host.map(vchar), fc.constant(`${DOMAIN}:1`), fc.constant('files.example.test')),
    headers: headers.map((hs) => Object.entries(hs).filter(([k]) => k !== 'host' && k !== 'content-length' && k !== '__proto__' && k !== 'constructor').map(([k, v]) => [k, vchar(Array.isArray(v) ? v.join(',') : v)] as const)),
    authorization: fc.option(authorizationAny.map(vchar), { nil: undefined }),
    body: fc.option(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), { nil: undefined }),
  });

  it('a Host that does not parse as a URL authority still gets the provider\'s error, rewritten (was 500 InternalError)', async () => {
    for (const h of ['a<b', 'a b', '[x']) {
      const res = (await exchange(Buffer.from(`GET /media/nokey HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`))).toString('latin1');
      expect(res, h).toMatch(/^HTTP\/1\.1 404 /);
      expect(res).toMatch(/<Error><Code>(NoSuchKey|NoSuchBucket)<\/Code>/);
    }
  });

  it('malformed HTTP (bad methods, header bytes, request lines, binary): an HTTP answer or a closed connection, and the gateway stays up', async () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,10}$/), fc.string({ maxLength: 30 }), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', ''), fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })), { maxLength: 4 }))
        .map(([m, t, v, hs]) => Buffer.from(`${m} ${t} ${v}\r\nHost: ${DOMAIN}\r\n${hs.map(([k, x]) => `${k}: ${x}\r\n`).join('')}Connection: close\r\n\r\n`, 'utf8')),
      fc.constantFrom(
        Buffer.from(`GET /media HTTP/1.1\r\nHost: ${DOMAIN}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
        Buffer.from(`GET /media HTTP/1.1\r\nHost: ${DOMAIN}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
        Buffer.from(`PUT /media/k HTTP/1.1\r\nHost: ${DOMAIN}\r\nContent-Length: -1\r\n\r\n`),
        Buffer.from(`PUT /media/k HTTP/1.1\r\nHost: ${DOMAIN}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`),
        Buffer.from(`GET /media HTTP/1.1\r\nHost: ${DOMAIN}\r\n Folded: x\r\n\r\n`),
        Buffer.from('\r\n\r\n\r\n'),
      ),
    );
    await fc.assert(fc.asyncProperty(junk, async (bytes) => {
      // An incomplete request just waits for more bytes: 300 ms then hang up.
      const res = (await exchange(bytes, 300)).toString('latin1');
      if (res.length) expect(res, JSON.stringify(bytes.toString('latin1').slice(0, 80))).toMatch(/^HTTP\/1\.[01] \d{3} /);
    }), params(120));
    const again = await exchange(Buffer.from(`GET /media?list-type=2 HTTP/1.1\r\nHost: ${DOMAIN}:${port}\r\nConnection: close\r\n\r\n`));
    expect(again.toString('latin1')).toMatch(/^HTTP\/1\.1 (200|404) /);
  });

  it('every answer is a well-formed HTTP response carrying S3 XML (error or success), and the gateway stays up', async () => {
    const seen = new Map<number, number>();
    await fc.assert(fc.asyncProperty(request, async (r) => {
      const lines = [`${r.method} ${r.path || '/'} HTTP/1.1`, `Host: ${r.host}`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
      if (r.authorization) lines.push(`Authorization: ${r.authorization}`);
      if (r.body) lines.push(`Content-Length: ${r.body.length}`);
      lines.push('Connection: close');
      const res = await exchange(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), r.body ?? Buffer.alloc(0)]));
      const text = res.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n/.exec(text);
      expect(m, `no HTTP status line for ${JSON.stringify(lines)}: ${JSON.stringify(text.slice(0, 200))}`).not.toBeNull();
      const status = Number(m![1]);
      seen.set(status, (seen.get(status) ?? 0) + 1);
      const split = text.indexOf('\r\n\r\n');
      expect(split).toBeGreaterThan(0);
      const head = text.slice(0, split).toLowerCase();
      const body = text.slice(split + 4);
      const cl = /\r\ncontent-length: *(\d+)/.exec(head);
      if (r.method !== 'HEAD' && cl) expect(Buffer.byteLength(body, 'latin1')).toBe(Number(cl[1]));
      if (status >= 400 && r.method !== 'HEAD') {
        expect(body, `${status} without an S3 error document for ${JSON.stringify(lines)}`).toMatch(/^<\?xml[^>]*>\s*<Error><Code>[A-Za-z]+<\/Code>/);
      }
      expect(status).not.toBe(500);
    }), params(400));
    // The gateway is still up and still right.
    const again = await exchange(Buffer.from(`GET /media?list-type=2 HTTP/1.1\r\nHost: ${DOMAIN}:${port}\r\nConnection: close\r\n\r\n`));
    expect(again.toString('latin1')).toMatch(/^HTTP\/1\.1 (200|404) /);
    expect(seen.size).toBeGreaterThan(0);
  });
});

describe('requests the HTTP parser refuses', () => {
  it('answer an S3 XML error document and close', async () => {
    const { connect } = await import('node:net');
    const { startTestGateway: start } = await import('../helpers/gateway.js');
    const gw = await start({ upstreams: { d: { provider: 'local', path: (await import('../helpers/gateway.js')).tmpDir('s3gate-parse-') } }, buckets: { '*': { upstream: 'd' } } });
    try {
      const port = Number(new URL(gw.url).port);
      for (const raw of ['BR0KEN\x01 / HTTP/1.1\r\nHost: x\r\n\r\n', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n']) {
        const answer = await new Promise<string>((resolve) => {
          const s = connect(port, '127.0.0.1');
          let got = '';
          s.on('data', (c) => (got += c));
          s.on('close', () => resolve(got));
          s.on('error', () => resolve(got));
          s.write(raw);
        });
        expect(answer).toMatch(/^HTTP\/1\.1 4(00|31) /);
        expect(answer).toContain('<Code>InvalidRequest</Code>');
      }
    } finally {
      await gw.close();
    }
  });
});
