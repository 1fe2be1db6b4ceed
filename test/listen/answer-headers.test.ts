// The provider's answer headers go to the client as a flat list made straight from undici's raw
// header Buffers, without the object undici's parser made and the copy of it that was written
// out (docs/performance.md, "resp"). The client must see the same header lines as before: the
// property holds the list to the object path it replaced, and the gateway cases read the header
// lines a client gets for answers with mixed-case, repeated and hop-by-hop headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import http from 'node:http';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { util } from '../../src/forward/undici.js';
import { headerName } from '../../src/forward/header-name.js';
import { answerHeaders, headerListOf, headerValue, kmsKeyId, singleHeader } from '../../src/rewrite/response.js';
import { startFaultyUpstream, type FaultyUpstream } from '../upstream/faulty.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';

type Headers = Record<string, string | string[] | undefined>;

// The object path as it was (76549b4): undici's parseHeaders, full-object checksums deleted on a
// ranged answer, the drops and rewrites copied into a new object, s3gate's own headers assigned over it.
// Since then the provider's Date goes too: the client gets s3gate's own, as from nginx's proxy.
const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'server', 'x-amz-server-side-encryption-context', 'x-amz-bucket-region', 'date']);
function objectPath(list: Buffer[], own: Record<string, string>, ranged: boolean, upB: string, clB: string): Record<string, string | string[]> {
  const headers = util.parseHeaders(list) as Headers;
  if (ranged) {
    for (const k of Object.keys(headers)) {
      if (!k.startsWith('x-amz-checksum-') || k === 'x-amz-checksum-type') continue;
      const v = headers[k];
      if (typeof v === 'string' && /-\d+$/.test(v)) continue;
      delete headers[k];
    }
  }
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || DROP.has(k)) continue;
    if (k === 'x-amz-server-side-encryption-aws-kms-key-id' && typeof v === 'string') out[k] = kmsKeyId(v);
    else if (k === 'location' && typeof v === 'string') {
      const path = v.replace(/^https?:\/\/[^/]+/, '');
      out[k] = path === `/${upB}` ? `/${clB}` : v;
    } else out[k] = v;
  }
  return Object.assign(out, own);
}

const named = (names: string[]) => fc.constantFrom(...names).chain((n) => fc.array(fc.boolean(), { minLength: n.length, maxLength: n.length })
  .map((up) => [...n].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('')));

/** Header lines as a client reads them: each (case-blind) name's values in order (the order between names is not HTTP's business). */
function lines(h: Record<string, string | string[]> | string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const add = (name: string, v: string) => {
    const k = name.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), v]);
  };
  if (Array.isArray(h)) for (let i = 0; i < h.length; i += 2) add(h[i]!, h[i + 1]!);
  else for (const [k, v] of Object.entries(h)) for (const one of [v].flat()) add(k, one);
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const value = fc.oneof(fc.constantFrom('abc', 'AAAA==', 'AAAA==-3', '"etag"', '', 'x, y', 'caf\xe9'), fc.string({ maxLength: 8 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')));
const pair = fc.oneof(
  fc.tuple(named([
    'content-type', 'content-length', 'etag', 'last-modified', 'accept-ranges', 'date', 'server', 'connection', 'keep-alive',
    'transfer-encoding', 'trailer', 'upgrade', 'x-amz-request-id', 'x-amz-id-2', 'x-amz-checksum-crc32', 'x-amz-checksum-sha256',
    'x-amz-checksum-type', 'x-amz-bucket-region', 'x-amz-server-side-encryption-context', 'x-amz-meta-a', 'vary',
    'access-control-allow-origin', '123',
  ]), value),
  fc.tuple(named(['x-amz-server-side-encryption-aws-kms-key-id']), fc.constantFrom('arn:aws:kms:eu-west-1:123456789012:key/k-1', 'arn:aws:kms:eu-west-1:1:alias/a', 'k-2')),
  fc.tuple(named(['location']), fc.constantFrom('/prov', 'https://prov.example.com/prov', 'http://h/prov/key', '/other')),
);
// undici's raw headers: names in any case, values as latin1 bytes. A KMS key or Location sent twice
// was passed on unrewritten by the object path (an array): test/modes/provider-details.test.ts.
const providerList = fc.array(pair, { maxLength: 14 })
  .filter((ps) => ps.filter(([k]) => /^location$/i.test(k)).length < 2 && ps.filter(([k]) => /kms-key-id$/i.test(k)).length < 2)
  .map((ps) => ps.flat().map((s) => Buffer.from(s, 'latin1')));
const own = fc.subarray([['x-amz-request-id', 'S3GATEID'], ['access-control-allow-origin', '*'], ['vary', 'Origin'], ['content-length', '42']] as const)
  .map((es) => Object.fromEntries(es) as Record<string, string>);

describe('the answer headers, as a flat list', () => {
  it('give the client the same header lines as the object path did', () => {
    fc.assert(fc.property(providerList, own, fc.boolean(), (list, mine, ranged) => {
      expect(lines(answerHeaders(list, mine, ranged, 'prov', 'mine'))).toEqual(lines(objectPath(list, mine, ranged, 'prov', 'mine')));
    }), { numRuns: 2000 });
  });

  it('made from an object of headers (the local store, the bucket modes), are the same again', () => {
    fc.assert(fc.property(providerList, own, fc.boolean(), (list, mine, ranged) => {
      const fromObject = headerListOf(util.parseHeaders([...list]) as Headers);
      expect(lines(answerHeaders(fromObject, mine, ranged, 'prov', 'mine'))).toEqual(lines(objectPath(list, mine, ranged, 'prov', 'mine')));
    }), { numRuns: 500 });
  });

  it('read a header as the object would show it', () => {
    fc.assert(fc.property(providerList, (list) => {
      const o = util.parseHeaders(list) as Headers;
      for (const k of ['content-type', 'x-amz-request-id', 'etag']) {
        const v = o[k];
        expect(headerValue(list, k)).toBe(v === undefined ? undefined : String(v));
        expect(singleHeader(list, k)).toBe(typeof v === 'string' ? v : undefined);
      }
    }));
  });

  it("a header name is read as undici's parser reads it, S3's own names (from s3gate's table) included", () => {
    const s3 = ['x-amz-id-2', 'x-amz-request-id', 'x-amz-version-id', 'x-amz-server-side-encryption', 'x-amz-checksum-crc64nvme', 'x-amz-checksum-type', 'x-amz-mp-parts-count'];
    const names = fc.oneof(named(s3), named(['etag', 'content-length', 'location', 'x-amz-request-ids', 'x-amz-i', 'x']), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 20 }), fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Buffer.from(b).toString('latin1')));
    fc.assert(fc.property(names, (n) => {
      const raw = Buffer.from(n, 'latin1');
      expect(headerName(raw)).toBe(util.headerNameToString(raw));
    }), { numRuns: 3000 });
  });

  it('a value is the same text whether the bytes before it under that name were the same or not', () => {
    // knownValue keeps each known name's last text: runs of answers that repeat and change values,
    // each read as undici's object path reads it.
    const values = fc.array(fc.constantFrom('bytes', 'bytez', 'byte', 'bytes ', '', 'caf\xe9', 'caf\xe8', 'application/xml', 'application/xmm'), { minLength: 1, maxLength: 12 });
    fc.assert(fc.property(values, values, (as, bs) => {
      for (let i = 0; i < Math.max(as.length, bs.length); i++) {
        const a = as[i % as.length]!;
        const b = bs[i % bs.length]!;
        const raw = ['Accept-Ranges', a, 'content-type', b, 'X-Unknown-Name', a].map((x) => Buffer.from(x, 'latin1'));
        expect(answerHeaders(raw, {}, false, 'b', 'c')).toEqual(['Accept-Ranges', a, 'Content-Type', b, 'x-unknown-name', a]);
      }
    }), { numRuns: 300 });
  });

  it("undici's raw buffers: names spelled as S3 writes them (HTTP's capitalised, ETag, x-* lower case), values as latin1, s3gate's own last", () => {
    const raw = ['content-type', 'text/plain', 'X-Amz-Meta-Caf', 'caf\xe9', 'etag', '"e"', 'x-AMZ-request-ID', 'R', 'Server', 'S', 'x-rgw-object-type', 'Normal', 'CACHE-control', 'no'].map((s) => Buffer.from(s, 'latin1'));
    expect(answerHeaders(raw, { 'x-amz-request-id': 'OWN', 'access-control-allow-origin': '*' }, false, 'b', 'c'))
      .toEqual(['Content-Type', 'text/plain', 'x-amz-meta-caf', 'caf\xe9', 'ETag', '"e"', 'x-rgw-object-type', 'Normal', 'Cache-Control', 'no', 'x-amz-request-id', 'OWN', 'Access-Control-Allow-Origin', '*']);
  });

  it('an object of headers (the local store) is spelled the same way', () => {
    expect(answerHeaders(['content-length', '5', 'last-modified', 'd', 'etag', '"e"', 'x-amz-version-id', 'null'], {}, false, 'b', 'c'))
      .toEqual(['Content-Length', '5', 'Last-Modified', 'd', 'ETag', '"e"', 'x-amz-version-id', 'null']);
  });
});

describe('the header lines a client gets through the gateway', () => {
  let up: FaultyUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let s3: S3Client;

  beforeAll(async () => {
    up = await startFaultyUpstream();
    gw = await startTestGateway({
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: 'shown', actions: ['read'] }] }],
      upstreams: { prov: { provider: 'minio', endpoint: up.url, credentials: UP_KEY } },
      buckets: { shown: { upstream: 'prov', bucket: 'prov-bucket', cors: [{ allowedOrigins: ['https://app.example'], allowedMethods: ['GET', 'HEAD'], exposeHeaders: ['ETag'] }] } },
    });
    s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
  });

  afterAll(async () => {
    keepAlive.destroy();
    await gw?.close();
    await up?.close();
  });

  /** The raw header lines of a presigned request's answer, names as sent. */
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  async function get(method: 'GET' | 'HEAD', extra: Record<string, string> = {}): Promise<{ status: number; raw: string[]; body: string; reused: boolean }> {
    const cmd = method === 'GET' ? new GetObjectCommand({ Bucket: 'shown', Key: 'k' }) : new HeadObjectCommand({ Bucket: 'shown', Key: 'k' });
    const url = new URL(await getSignedUrl(s3, cmd, { expiresIn: 300 }));
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: portOf(gw.url), method, path: url.pathname + url.search, headers: { host: url.host, ...extra }, agent: keepAlive }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, raw: res.rawHeaders, body, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  // The test upstream writes a non-ASCII header value as UTF-8 (Node does, with a string body);
  // its bytes reach the client as they were, and Node's client reads them as latin1.
  const utf8AsLatin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

  const provider = {
    'Content-Type': 'text/plain', ETag: '"abc"', 'Last-Modified': 'Sat, 05 Dec 2026 10:00:00 GMT', Server: 'ProviderS3/1.0',
    'Keep-Alive': 'timeout=5', 'X-Amz-Meta-Colour': ['red', 'blue'], 'X-Amz-Id-2': 'provider-host-id', 'x-amz-meta-note': 'caf\xe9',
    'X-Amz-Checksum-Crc32': 'AAAAAA==', 'X-Amz-Checksum-Crc32c': 'BBBBBB==-2', 'X-Amz-Bucket-Region': 'eu-west-1',
  };

  it('hop-by-hop and provider headers go, names are spelled as S3 spells them, repeated values stay in order, the request id is s3gate\'s', async () => {
    up.fault = { kind: 'canned', status: 200, headers: provider, body: 'hello' };
    const r = await get('GET', { origin: 'https://app.example' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello');
    const got = lines(r.raw);
    const id = got.get('x-amz-request-id');
    expect(id).toHaveLength(1);
    expect(id![0]).not.toBe('FAULTY0000000000');
    // Node's own Connection header is not the provider's business.
    got.delete('connection');
    expect(Object.fromEntries(got)).toEqual({
      'access-control-allow-credentials': ['true'], 'access-control-allow-methods': ['GET, HEAD'], 'access-control-allow-origin': ['https://app.example'],
      'access-control-expose-headers': ['ETag'], 'content-length': ['5'], 'content-type': ['text/plain'],
      date: expect.any(Array) as unknown, etag: ['"abc"'], 'last-modified': ['Sat, 05 Dec 2026 10:00:00 GMT'],
      'x-amz-checksum-crc32': ['AAAAAA=='], 'x-amz-checksum-crc32c': ['BBBBBB==-2'], 'x-amz-id-2': ['provider-host-id'],
      'x-amz-meta-colour': ['red', 'blue'], 'x-amz-meta-note': [utf8AsLatin1('caf\xe9')], 'x-amz-request-id': id, vary: ['Origin'],
    });
    // Node writes the names as given: S3's spelling (libs3, jets3t and GDAL match ETag, Content-Length… byte for byte).
    const names = r.raw.filter((_, i) => i % 2 === 0);
    expect(names).toEqual(expect.arrayContaining(['ETag', 'Content-Type', 'Content-Length', 'Last-Modified', 'Vary', 'Access-Control-Allow-Origin', 'x-amz-request-id', 'x-amz-meta-colour', 'x-amz-id-2']));
    for (const n of names) if (n.startsWith('x-') || n.startsWith('X-')) expect(n).toBe(n.toLowerCase());
  });

  it("the answer's Date is s3gate's own, once, whatever the provider's says (as nginx's proxy gives its own)", async () => {
    const stale = 'Thu, 01 Jan 1970 00:00:00 GMT';
    for (const body of ['hello', 'x'.repeat(70_000)]) {
      up.fault = { kind: 'canned', status: 200, headers: { ...provider, Date: stale }, body };
      const r = await get('GET');
      expect(r.body).toBe(body);
      const dates = lines(r.raw).get('date');
      expect(dates).toHaveLength(1);
      expect(dates![0]).not.toBe(stale);
      expect(Number.isNaN(Date.parse(dates![0]!))).toBe(false);
    }
  });

  it('a streamed answer (over 64 KiB) gets the same header lines', async () => {
    const big = 'x'.repeat(70_000);
    up.fault = { kind: 'canned', status: 200, headers: provider, body: big };
    const r = await get('GET');
    expect(r.body).toBe(big);
    const got = lines(r.raw);
    expect(got.get('content-length')).toEqual(['70000']);
    expect(got.get('x-amz-meta-colour')).toEqual(['red', 'blue']);
    expect(got.get('x-amz-id-2')).toEqual(['provider-host-id']);
    expect(got.get('x-amz-request-id')![0]).not.toBe('FAULTY0000000000');
    for (const gone of ['server', 'keep-alive', 'x-amz-bucket-region']) expect(got.get(gone)).toBeUndefined();
  });

  it('a ranged answer (206) loses its full-object checksum and keeps the composite one', async () => {
    up.fault = { kind: 'canned', status: 206, headers: { ...provider, 'Content-Range': 'bytes 0-4/10' }, body: 'hello' };
    const got = lines((await get('GET', { range: 'bytes=0-4' })).raw);
    expect(got.get('x-amz-checksum-crc32')).toBeUndefined();
    expect(got.get('x-amz-checksum-crc32c')).toEqual(['BBBBBB==-2']);
    expect(got.get('content-range')).toEqual(['bytes 0-4/10']);
  });

  it('HEAD gets the headers, the Content-Length the provider said, and no body', async () => {
    up.fault = { kind: 'canned', status: 200, headers: provider, body: 'hello' };
    const r = await get('HEAD');
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(lines(r.raw).get('content-length')).toEqual(['5']);
    expect(lines(r.raw).get('x-amz-meta-colour')).toEqual(['red', 'blue']);
  });

  it('an empty 200 (a PUT\'s answer, an empty object) ends with its headers alone, and the connection serves the next request', async () => {
    up.fault = { kind: 'canned', status: 200, headers: { ETag: '"d41d8cd98f00b204e9800998ecf8427e"' }, body: '' };
    const first = await get('GET');
    expect(first.status).toBe(200);
    expect(first.body).toBe('');
    expect(lines(first.raw).get('content-length')).toEqual(['0']);
    up.fault = { kind: 'canned', status: 200, headers: provider, body: 'hello' };
    const second = await get('GET');
    expect(second.reused).toBe(true);
    expect(second.body).toBe('hello');
  });

  it('304 Not Modified passes with its headers and no body', async () => {
    up.fault = { kind: 'canned', status: 304, headers: { ETag: '"abc"', Server: 'ProviderS3/1.0' }, body: '' };
    const r = await get('GET', { 'if-none-match': '"abc"' });
    expect(r.status).toBe(304);
    expect(r.body).toBe('');
    expect(lines(r.raw).get('etag')).toEqual(['"abc"']);
    expect(lines(r.raw).get('server')).toBeUndefined();
  });
});
