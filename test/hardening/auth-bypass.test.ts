// Authentication cannot be bypassed: real SDK and raw-socket clients against s3gate in front of
// the strict upstream. A request not signed for exactly what arrives never reaches the
// upstream; path tricks do not leave a key's grants; the Host never picks an upstream the config
// does not name; presigned URLs cannot be widened by added query parameters or headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterSigning, client, DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { startConnectionTrap } from '../upstream/faulty.js';

const K_MEDIA = { accessKeyId: 'MEDIAONLYKEY', secretAccessKey: 'media-only-secret-abcdefghijklmnopqrstuvw' };
const K_PREFIX = { accessKeyId: 'PUBLICPREFIXKEY', secretAccessKey: 'public-prefix-secret-abcdefghijklmnopqrst' };
const K_UNI = { accessKeyId: 'UNICODEPREFIXKEY', secretAccessKey: 'unicode-prefix-secret-abcdefghijklmnopqrs' };
const NFC = 'caf\u00e9/';
const NFD = 'cafe\u0301/';
const SECRET_TEXT = 'TOP-SECRET-CONTENT';

let upstream: StrictUpstream;
let other: StrictUpstream;
let trap: Awaited<ReturnType<typeof startConnectionTrap>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;

async function put(bucket: string, key: string | undefined, body: string): Promise<void> {
  const r = await upstream.store.handle({
    method: 'PUT', bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(),
    headers: key !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}, body: Readable.from(key !== undefined ? [Buffer.from(body)] : []),
  });
  if (r.status >= 300) throw new Error(`seeding ${bucket}/${key}: ${r.status}`);
}

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  other = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  trap = await startConnectionTrap();
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] },
      { ...K_MEDIA, allow: [{ bucket: 'media', actions: ['read', 'write', 'list', 'delete'] }] },
      { ...K_PREFIX, allow: [{ bucket: 'media', prefix: 'public/', actions: ['read', 'write', 'list'] }] },
      { ...K_UNI, allow: [{ bucket: 'media', prefix: NFC, actions: ['read', 'list'] }] },
    ],
    upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: { media: { upstream: 'strict' }, secret: { upstream: 'strict' }, '*': { upstream: 'strict' } },
  });
  port = portOf(gw.url);
  for (const b of ['media', 'secret']) await put(b, undefined, '');
  await put('media', 'public/a.txt', 'public a');
  await put('media', 'private/b.txt', SECRET_TEXT);
  await put('media', `${NFC}x.txt`, 'nfc x');
  await put('media', `${NFD}x.txt`, SECRET_TEXT);
  await put('secret', 'x.txt', SECRET_TEXT);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await other?.close();
  await trap?.close();
});

// ---- raw wire ------------------------------------------------------------------------

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/** Writes exactly `text` (+ body) to the gateway and reads the answer until the socket closes. */
function rawRequest(text: string, body: Buffer = Buffer.alloc(0), timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(new Error('raw request timed out')), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => {
      clearTimeout(timer);
      if (chunks.length) finish();
      else reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      finish();
    });
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      const raw = Buffer.concat(chunks).toString('latin1');
      const head = raw.split('\r\n\r\n')[0] ?? '';
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, body: raw.slice(head.length + 4), raw });
    }
    sock.write(Buffer.concat([Buffer.from(text, 'latin1'), body]));
  });
}

function codeOf(r: RawResponse): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(r.body)?.[1];
}

/** Decoded query (what smithy canonicalizes from) out of a raw query string. */
function queryObject(raw: string): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  for (const part of raw ? raw.split('&') : []) {
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    const prev = q[k];
    q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return q;
}

/**
 * A correctly SigV4-signed request for exactly this Host, raw path and raw query (the path is
 * signed as sent; s3gate also accepts that form). Sent byte for byte over a socket.
 */
async function signedRaw(creds: { accessKeyId: string; secretAccessKey: string }, method: string, host: string, rawPath: string, rawQuery = '', extra: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const payload = createHash('sha256').update(body).digest('hex');
  const signed = await signer.sign({
    method, protocol: 'http:', hostname: host.replace(/:\d+$/, ''), path: rawPath, query: queryObject(rawQuery),
    headers: { host, 'x-amz-content-sha256': payload, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...extra },
  });
  const lines = Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`);
  const target = rawQuery ? `${rawPath}?${rawQuery}` : rawPath;
  return rawRequest(`${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\nconnection: close\r\n\r\n`, Buffer.from(body));
}

const gwHost = () => `${DOMAIN}:${port}`;

/** Nothing went to the other strict upstream or the trap, and the secret content never came back. */
function expectNoEscape(r?: RawResponse): void {
  expect(other.requests).toHaveLength(0);
  expect(trap.connections()).toBe(0);
  // the secret bucket's object never came back through the gateway
  if (r) expect(r.body).not.toContain(SECRET_TEXT);
}

// ---- 1. signed for exactly what arrives ---------------------------------------------

describe('a request not signed for exactly what arrives never reaches the upstream', () => {
  const s3 = () => client(`http://127.0.0.1:${port}`, GW_KEY, { forcePathStyle: true });
  type Tamper = [string, (r: { method: string; headers: Record<string, string>; path: string; query: Record<string, string> }) => void, 'get' | 'put'];
  const tampers: Tamper[] = [
    ['method changed (GET signed, DELETE sent)', (r) => void (r.method = 'DELETE'), 'get'],
    ['path changed to another key', (r) => void (r.path = r.path.replace('a.txt', 'b.txt')), 'get'],
    ['path changed to another bucket', (r) => void (r.path = r.path.replace('/media/', '/secret/')), 'get'],
    ['query parameter added', (r) => void (r.query['versionId'] = 'null'), 'get'],
    ['query value changed (response-content-type)', (r) => void (r.query['response-content-type'] = 'text/html'), 'get'],
    ['signed header value changed (x-amz-meta-who)', (r) => void (r.headers['x-amz-meta-who'] = 'mallory'), 'put'],
    ['signed header removed (x-amz-meta-who)', (r) => void delete r.headers['x-amz-meta-who'], 'put'],
    ['unsigned x-amz-acl added', (r) => void (r.headers['x-amz-acl'] = 'public-read'), 'put'],
    ['unsigned x-amz-copy-source added', (r) => void (r.headers['x-amz-copy-source'] = '/secret/x.txt'), 'put'],
    ['unsigned x-amz-meta-* added', (r) => void (r.headers['x-amz-meta-extra'] = '1'), 'put'],
    ['Host changed', (r) => void (r.headers['host'] = `other.${DOMAIN}:${port}`), 'get'],
    ['x-amz-date moved an hour (replay)', (r) => void (r.headers['x-amz-date'] = r.headers['x-amz-date']!.replace(/T(\d\d)/, (_m, h: string) => `T${String((Number(h) + 1) % 24).padStart(2, '0')}`)), 'get'],
  ];
  it.each(tampers)('%s', async (_name, change, kind) => {
    const before = upstream.requests.length;
    const c = afterSigning(s3(), change as never);
    const p = kind === 'get'
      ? c.send(new GetObjectCommand({ Bucket: 'media', Key: 'public/a.txt' }))
      : c.send(new PutObjectCommand({ Bucket: 'media', Key: 'public/tampered.txt', Body: 'x', Metadata: { who: 'alice' } }));
    const err = await p.then(() => undefined, (e: { $metadata?: { httpStatusCode?: number }; name: string }) => e);
    expect(err, 'the tampered request must fail').toBeDefined();
    expect([400, 403]).toContain(err!.$metadata?.httpStatusCode);
    expect(['SignatureDoesNotMatch', 'AccessDenied', 'RequestTimeTooSkewed']).toContain(err!.name);
    expect(upstream.requests.length).toBe(before);
  });

  it('a body that does not match the signed x-amz-content-sha256 is refused and never stored', async () => {
    const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    const signedBody = 'the body that was signed';
    const sentBody = 'the body that was sent!!';
    const signed = await signer.sign({
      method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', path: '/media/public/swapped.txt', query: {},
      headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': createHash('sha256').update(signedBody).digest('hex'), 'content-length': String(sentBody.length) },
    });
    const lines = Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
    const r = await rawRequest(`PUT /media/public/swapped.txt HTTP/1.1\r\n${lines}\r\nconnection: close\r\n\r\n`, Buffer.from(sentBody));
    // The gateway streams the body while hashing and holds back its end: the upstream may see
    // the request start, but it is aborted short of its length and nothing is stored.
    expect(codeOf(r)).toBe('XAmzContentSHA256Mismatch');
    expect(upstream.requests.filter((q) => q.key === 'public/swapped.txt' && q.status === 200)).toHaveLength(0);
    const head = await upstream.store.handle({ method: 'HEAD', bucket: 'media', key: 'public/swapped.txt', query: new URLSearchParams(), headers: {}, body: Readable.from([]) })
      .then((h) => h.status, (e: { code?: string }) => e.code);
    expect(head === 404 || head === 'NoSuchKey').toBe(true);
  });
});

// ---- 2. path tricks cannot leave a key's grants ---------------------------------------

describe('path tricks cannot leave a key\'s grants', () => {
  // [name, key, Host (undefined: the gateway domain, path-style), raw path, raw query]
  type Trick = [string, typeof K_MEDIA, string | undefined, string, string?];
  const tricks: Trick[] = [
    ['media-only: /media/../secret/x.txt', K_MEDIA, undefined, '/media/../secret/x.txt'],
    ['media-only: /media/./../secret/x.txt', K_MEDIA, undefined, '/media/./../secret/x.txt'],
    ['media-only: %2F in the bucket', K_MEDIA, undefined, '/media%2F..%2Fsecret/x.txt'],
    ['media-only: %2F in the key', K_MEDIA, undefined, '/media/..%2F..%2Fsecret%2Fx.txt'],
    ['media-only: double-encoded %252F', K_MEDIA, undefined, '/media%252F..%252Fsecret/x.txt'],
    ['media-only: %2e%2e segments', K_MEDIA, undefined, '/media/%2e%2e/secret/x.txt'],
    ['media-only: mixed-case bucket MEDIA', K_MEDIA, undefined, '/MEDIA/private/b.txt'],
    ['media-only: mixed-case bucket Secret', K_MEDIA, undefined, '/Secret/x.txt'],
    ['media-only: // leading', K_MEDIA, undefined, '//secret/x.txt'],
    ['media-only: /// leading', K_MEDIA, undefined, '///secret/x.txt'],
    ['media-only: virtual-host media, path /secret/x.txt', K_MEDIA, `media.${DOMAIN}`, '/secret/x.txt'],
    ['media-only: virtual-host secret, path /media/x', K_MEDIA, `secret.${DOMAIN}`, '/media/public/a.txt'],
    ['media-only: virtual-host MEDIA.., path /../secret/x.txt', K_MEDIA, `media.${DOMAIN}`, '/../secret/x.txt'],
    ['public/ prefix: /media/public/../private/b.txt', K_PREFIX, undefined, '/media/public/../private/b.txt'],
    ['public/ prefix: %2F in the key', K_PREFIX, undefined, '/media/public%2F..%2Fprivate%2Fb.txt'],
    ['public/ prefix: double-encoded', K_PREFIX, undefined, '/media/public%252F..%252Fprivate/b.txt'],
    ['public/ prefix: %2e%2e', K_PREFIX, undefined, '/media/public/%2e%2e/private/b.txt'],
    ['public/ prefix: //media/public/../private', K_PREFIX, undefined, '//media/public/../private/b.txt'],
    ['public/ prefix: case PUBLIC/', K_PREFIX, undefined, '/media/PUBLIC/../private/b.txt'],
    ['public/ prefix: listing without prefix', K_PREFIX, undefined, '/media', 'list-type=2'],
    ['public/ prefix: listing prefix=private/', K_PREFIX, undefined, '/media', 'list-type=2&prefix=private%2F'],
    ['public/ prefix: listing with two prefixes', K_PREFIX, undefined, '/media', 'list-type=2&prefix=public%2F&prefix=private%2F'],
    ['NFC prefix: NFD key', K_UNI, undefined, `/media/${encodeURIComponent(NFD.slice(0, -1))}/x.txt`],
    ['NFC prefix: NFD key, raw UTF-8 path', K_UNI, undefined, `/media/${Buffer.from(NFD, 'utf8').toString('latin1')}x.txt`],
  ];

  it.each(tricks)('%s', async (_name, key, host, rawPath, rawQuery = '') => {
    const before = upstream.requests.length;
    const r = await signedRaw(key, 'GET', host ? `${host}:${port}` : gwHost(), rawPath, rawQuery);
    expect(r.status, r.raw.slice(0, 400)).toBeGreaterThanOrEqual(200);
    expect(r.body).not.toContain(SECRET_TEXT);
    // Whatever reached the upstream stayed inside the grant: bucket media, and for the
    // prefix key a key under public/ (dot segments are part of an S3 key, never resolved).
    for (const q of upstream.requests.slice(before)) {
      // A path read as the service (ListBuckets) makes s3gate list the provider's buckets for
      // their creation dates, with its own key; only the key's visible buckets are answered.
      if (q.operation === 'ListBuckets') continue;
      expect(q.bucket).toBe('media');
      if (key === K_PREFIX && q.key !== undefined) expect(q.key.startsWith('public/')).toBe(true);
      if (key === K_UNI && q.key !== undefined) expect(q.key.startsWith(NFC)).toBe(true);
    }
    expectNoEscape(r);
  });

  it('the grants themselves work: NFC key under the NFC prefix, public/ for the prefix key', async () => {
    const a = await signedRaw(K_UNI, 'GET', gwHost(), `/media/${encodeURIComponent('caf\u00e9')}/x.txt`);
    expect(a.status).toBe(200);
    expect(a.body).toContain('nfc x');
    const b = await signedRaw(K_PREFIX, 'GET', gwHost(), '/media/public/a.txt');
    expect(b.status).toBe(200);
    expect(b.body).toContain('public a');
  });

  it('CopyObject cannot read a source outside the grant', async () => {
    const before = upstream.requests.length;
    for (const src of ['/secret/x.txt', 'secret/x.txt', '/media/private/b.txt', '/media/public/..%2F..%2Fsecret%2Fx.txt', '/MEDIA/private/b.txt', '/media%2F..%2Fsecret/x.txt']) {
      const creds = src.includes('private') || src.includes('MEDIA') ? K_PREFIX : K_MEDIA;
      const r = await signedRaw(creds, 'PUT', gwHost(), '/media/public/copy.txt', '', { 'x-amz-copy-source': src });
      expect(r.status, `${src}: ${r.body}`).toBeGreaterThanOrEqual(400);
    }
    expect(upstream.requests.slice(before).filter((q) => q.operation === 'CopyObject' && q.status === 200)).toHaveLength(0);
    expectNoEscape();
  });
});

// ---- 3. the Host never chooses an upstream ---------------------------------------------

describe('the Host header never chooses an upstream the config does not name', () => {
  const signedHosts = (): [string, string][] => [
    ['unknown Host', 'evil.example'],
    ['Host naming the other upstream', `127.0.0.1:${other.port}`],
    ['Host naming the trap port', `127.0.0.1:${trap.port}`],
    ['Host "localhost" with the trap port', `localhost:${trap.port}`],
    ['gateway domain with the trap port', `${DOMAIN}:${trap.port}`],
    ['Host with userinfo', `user:pw@127.0.0.1:${other.port}`],
    ['Host with userinfo of the gateway domain', `${DOMAIN}@127.0.0.1:${trap.port}`],
    ['Host with two ports', `127.0.0.1:${port}:${trap.port}`],
    ['virtual-host on the other upstream', `media.127.0.0.1:${other.port}`],
  ];
  it('signed requests with odd Hosts go to the configured upstream or nowhere', async () => {
    for (const [name, host] of signedHosts()) {
      const r = await signedRaw(GW_KEY, 'GET', host, '/media/public/a.txt');
      expect(r.status, name).toBeGreaterThanOrEqual(200);
      expectNoEscape(r);
    }
  });

  const rawTargets = (): [string, string][] => [
    ['absolute-form to another host', `GET http://evil.example/media/public/a.txt HTTP/1.1\r\nHost: evil.example\r\n`],
    ['absolute-form to the other upstream', `GET http://127.0.0.1:${other.port}/media/public/a.txt HTTP/1.1\r\nHost: 127.0.0.1:${other.port}\r\n`],
    ['absolute-form to the trap, Host the gateway', `GET http://127.0.0.1:${trap.port}/secret/x.txt HTTP/1.1\r\nHost: ${DOMAIN}:${port}\r\n`],
    ['absolute-form with userinfo', `GET http://u:p@127.0.0.1:${trap.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${trap.port}\r\n`],
    ['authority-form CONNECT', `CONNECT 127.0.0.1:${trap.port} HTTP/1.1\r\nHost: 127.0.0.1:${trap.port}\r\n`],
    ['asterisk-form OPTIONS', `OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1:${trap.port}\r\n`],
    ['no Host at all (HTTP/1.0)', `GET /media/public/a.txt HTTP/1.0\r\n`],
    ['two Host headers', `GET /media/public/a.txt HTTP/1.1\r\nHost: ${DOMAIN}:${port}\r\nHost: 127.0.0.1:${trap.port}\r\n`],
    ['X-Forwarded-Host from an untrusted client', `GET /media/public/a.txt HTTP/1.1\r\nHost: ${DOMAIN}:${port}\r\nX-Forwarded-Host: 127.0.0.1:${trap.port}\r\n`],
  ];
  it('raw request targets: absolute-form, CONNECT, *, missing or doubled Host', async () => {
    for (const [name, head] of rawTargets()) {
      const r = await rawRequest(`${head}Connection: close\r\n\r\n`);
      // An S3 error or a plain HTTP 400 from the parser; never a body from elsewhere.
      expect(r.status === 0 || r.status >= 400, `${name}: ${r.raw.slice(0, 300)}`).toBe(true);
      expectNoEscape(r);
    }
  });
});

// ---- 4. presigned URLs cannot be widened -----------------------------------------------

describe('presigned URLs cannot be widened', () => {
  let s3: S3Client;
  beforeAll(() => {
    s3 = client(`http://127.0.0.1:${port}`, K_PREFIX, { forcePathStyle: true });
  });
  const target = (url: string) => {
    const u = new URL(url);
    return { path: u.pathname, query: u.search.slice(1) };
  };
  const send = (method: string, path: string, query: string, headers: Record<string, string> = {}, body = '') =>
    rawRequest(
      `${method} ${path}?${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}${body ? `Content-Length: ${body.length}\r\n` : ''}Connection: close\r\n\r\n`,
      Buffer.from(body),
    );

  it('the untouched URLs work (baseline)', async () => {
    const g = target(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'public/a.txt' }), { expiresIn: 300 }));
    expect((await send('GET', g.path, g.query)).status).toBe(200);
    const p = target(await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'media', Key: 'public/presigned.txt' }), { expiresIn: 300 }));
    expect((await send('PUT', p.path, p.query, {}, 'hello')).status).toBe(200);
  });

  const added = ['response-content-type=text%2Fhtml', 'versionId=null', 'x-id=DeleteObject', 'uploadId=abc', 'partNumber=1', 'acl=', 'tagging=', 'X-Amz-Expires=604800', 'prefix=private%2F', 'x-amz-signature=' + '0'.repeat(64)];
  it.each(added)('GET + added query parameter %s is refused before the upstream', async (extra) => {
    const g = target(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'public/a.txt' }), { expiresIn: 300 }));
    const before = upstream.requests.length;
    const r = await send('GET', g.path, `${g.query}&${extra}`);
    // A second value of a parameter already there (x-id) is ambiguous: refused before the signature
    // is read. The signature's own parameters are authentication's to judge.
    const name = extra.split('=')[0]!.toLowerCase();
    const twice = !name.startsWith('x-amz-') && g.query.split('&').some((p) => p.split('=')[0]!.toLowerCase() === name);
    expect(r.status, r.body).toBe(twice ? 400 : 403);
    expect(twice ? ['InvalidArgument'] : ['SignatureDoesNotMatch', 'AccessDenied']).toContain(codeOf(r));
    expect(upstream.requests.length).toBe(before);
  });

  it('a second X-Amz-Signature neither verifies a forged URL nor changes what is forwarded', async () => {
    const good = target(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'public/a.txt' }), { expiresIn: 300 }));
    const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(good.query)![1]!;
    // Forged first, genuine second: the first one is the one checked.
    const forged = good.query.replace(`X-Amz-Signature=${sig}`, `X-Amz-Signature=${'1'.repeat(64)}&X-Amz-Signature=${sig}`);
    const before = upstream.requests.length;
    const r1 = await send('GET', good.path, forged);
    expect(r1.status).toBe(403);
    expect(upstream.requests.length).toBe(before);
    // Genuine first, junk second: accepted at most for exactly the signed request.
    const r2 = await send('GET', good.path, `${good.query}&X-Amz-Signature=${'2'.repeat(64)}`);
    const seen = upstream.requests.slice(before);
    if (r2.status === 200) {
      expect(seen).toHaveLength(1);
      expect(seen[0]!.operation).toBe('GetObject');
      // exactly the signed request: the signed x-id, no signature parameter
      expect(seen[0]!.url).toMatch(/^\/media\/public\/a\.txt(\?x-id=GetObject)?$/);
    } else {
      expect(seen).toHaveLength(0);
    }
  });

  it('a presigned GET cannot be used as PUT, DELETE or HEAD-then-PUT', async () => {
    const g = target(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'public/a.txt' }), { expiresIn: 300 }));
    const before = upstream.requests.length;
    for (const m of ['PUT', 'DELETE', 'POST']) {
      const r = await send(m, g.path, g.query, {}, m === 'DELETE' ? '' : 'x');
      expect(r.status, `${m}: ${r.body}`).toBe(403);
    }
    expect(upstream.requests.length).toBe(before);
  });

  it.each([
    ['x-amz-acl', 'public-read'],
    ['x-amz-copy-source', '/secret/x.txt'],
    ['x-amz-meta-owner', 'mallory'],
    ['x-amz-server-side-encryption', 'AES256'],
    ['x-amz-tagging', 'a=b'],
    ['x-amz-storage-class', 'GLACIER'],
    ['x-amz-website-redirect-location', 'http://evil.example/'],
  ])('PUT + unsigned header %s is refused before the upstream', async (name, value) => {
    const p = target(await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'media', Key: 'public/widened.txt' }), { expiresIn: 300 }));
    const before = upstream.requests.length;
    const r = await send('PUT', p.path, p.query, { [name]: value }, 'widened');
    expect(r.status, r.body).toBe(403);
    expect(codeOf(r)).toBe('AccessDenied');
    expect(upstream.requests.length).toBe(before);
  });

  it('a presigned DeleteObject for public/ cannot delete private/', async () => {
    const d = target(await getSignedUrl(client(`http://127.0.0.1:${port}`, K_MEDIA, { forcePathStyle: true }), new DeleteObjectCommand({ Bucket: 'media', Key: 'public/nothing.txt' }), { expiresIn: 300 }));
    const before = upstream.requests.length;
    const r = await send('DELETE', d.path.replace('public/nothing.txt', 'private/b.txt'), d.query);
    expect(r.status).toBe(403);
    expect(upstream.requests.length).toBe(before);
  });
});

describe('after all of it', () => {
  it('no request left for an unconfigured address', () => {
    expect(other.requests).toHaveLength(0);
    expect(trap.connections()).toBe(0);
    // Every request the configured upstream saw was signed by s3gate's upstream key, but for
    // anonymous object reads and listings, which `public: acl` (the default) sends on unsigned.
    for (const q of upstream.requests) {
      if (q.accessKeyId === undefined) expect(['GetObject', 'HeadObject', 'ListObjects', 'ListObjectsV2']).toContain(q.operation);
      else expect(q.accessKeyId).toBe(UP_KEY.accessKeyId);
    }
  });
});
