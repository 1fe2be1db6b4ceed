// Issue #17's findings, each pinned: a key limited to a prefix must never read, write or delete
// anything else, whatever the request's shape. Correctly signed raw requests (the attacker holds
// the key) against a running s3gate in front of the strict upstream, which records what arrived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { buildConfig, ConfigError, protectReferences } from '../../src/config/load.js';
import { DOMAIN, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { codeOf, md5, sendSigned, type AuthScheme, type Creds, type RawSpec } from '../helpers/signed-raw.js';

// KEYC: bucket beta, prefix pub/ (the review's key). KEYS: any bucket, prefix pub/. KEYB: all of beta.
const KEYC = { accessKeyId: 'KEYCPREFIXED', secretAccessKey: 'keyc-secret-abcdefghijklmnopqrstuvwxyz01' };
const KEYS = { accessKeyId: 'KEYSSTARPREFIX', secretAccessKey: 'keys-secret-abcdefghijklmnopqrstuvwxyz01' };
const KEYB = { accessKeyId: 'KEYBWHOLEBUCKET', secretAccessKey: 'keyb-secret-abcdefghijklmnopqrstuvwxyz01' };
const SECRET = 'TOP-SECRET-BYTES';
const ALL = ['read', 'write', 'list', 'delete'];

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
const host = () => `${DOMAIN}:${port}`;

async function seed(bucket: string, key: string | undefined, body = ''): Promise<void> {
  const r = await upstream.store.handle({
    method: 'PUT', bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(),
    headers: key !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}, body: Readable.from(key !== undefined ? [Buffer.from(body)] : []),
  });
  if (r.status >= 300) throw new Error(`seeding ${bucket}/${key}: ${r.status}`);
}

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    const r = await upstream.store.handle({ method: 'HEAD', bucket, key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    return r.status === 200;
  } catch {
    return false;
  }
}

async function read(bucket: string, key: string): Promise<string | undefined> {
  try {
    const r = await upstream.store.handle({ method: 'GET', bucket, key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    let s = '';
    for await (const c of r.body as AsyncIterable<Buffer>) s += c.toString();
    return s;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [
      { ...KEYC, allow: [{ bucket: 'beta', prefix: 'pub/', actions: ALL }] },
      { ...KEYS, allow: [{ bucket: '*', prefix: 'pub/', actions: ALL }] },
      { ...KEYB, allow: [{ bucket: 'beta', actions: [...ALL, 'admin'] }] },
    ],
    upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'strict' } },
  });
  port = portOf(gw.url);
  for (const b of ['alpha', 'beta']) await seed(b, undefined);
  await seed('alpha', 'secret.txt', SECRET);
  await seed('alpha', 'team/pub/secret.txt', SECRET);
  await seed('beta', 'secret.txt', SECRET);
  await seed('beta', 'pub/a.txt', 'public a');
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

/** Sends; returns the response and what reached the upstream meanwhile. */
async function attempt(creds: Creds, scheme: AuthScheme, spec: Omit<RawSpec, 'host'>) {
  const before = upstream.requests.length;
  const r = await sendSigned(port, creds, scheme, { ...spec, host: host() });
  return { r, code: codeOf(r), seen: upstream.requests.slice(before) };
}

const SCHEMES: AuthScheme[] = ['v4-header', 'v4-query', 'v2-header', 'v2-query'];
const PRESIGNED: AuthScheme[] = ['v4-query', 'v2-query'];

describe('finding 1: a copy source in a presigned URL\'s query is checked like the header', () => {
  it.each(PRESIGNED)('%s: PUT /beta/pub/c1.txt?x-amz-copy-source=alpha/secret.txt is refused, nothing forwarded', async (scheme) => {
    const { r, code, seen } = await attempt(KEYC, scheme, { method: 'PUT', path: '/beta/pub/c1.txt', hoist: [['x-amz-copy-source', 'alpha/secret.txt']] });
    expect(r.status, r.body).toBe(403);
    expect(code).toBe('AccessDenied');
    expect(seen).toHaveLength(0);
    expect(await read('beta', 'pub/c1.txt')).toBeUndefined();
  });

  it.each(PRESIGNED)('%s: a query copy source inside the grant is honoured, as a header upstream', async (scheme) => {
    const { r, seen } = await attempt(KEYC, scheme, { method: 'PUT', path: `/beta/pub/ok-${scheme}.txt`, hoist: [['x-amz-copy-source', 'beta/pub/a.txt']] });
    expect(r.status, r.body).toBe(200);
    expect(seen.map((q) => q.operation)).toEqual(['CopyObject']);
    expect(seen[0]!.headers['x-amz-copy-source']).toBe('/beta/pub/a.txt');
    expect(seen[0]!.url).not.toContain('copy-source');
    expect(await read('beta', `pub/ok-${scheme}.txt`)).toBe('public a');
  });

  it('a copy source in both the query and a header is refused as ambiguous', async () => {
    const { r, code, seen } = await attempt(KEYC, 'v4-query', {
      method: 'PUT', path: '/beta/pub/c2.txt', headers: [['x-amz-copy-source', 'beta/pub/a.txt']], hoist: [['x-amz-copy-source', 'alpha/secret.txt']],
    });
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('InvalidArgument');
    expect(seen).toHaveLength(0);
  });

  it('an x-amz-* query parameter on a header-signed request is refused, not forwarded', async () => {
    const { r, code, seen } = await attempt(KEYC, 'v4-header', { method: 'PUT', path: '/beta/pub/c3.txt', query: [['x-amz-copy-source', 'alpha/secret.txt']] });
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('InvalidArgument');
    expect(seen).toHaveLength(0);
  });
});

describe('finding 2: a doubled single-valued header is refused', () => {
  const doubled: [string, [string, string][]][] = [
    ['x-amz-copy-source twice', [['x-amz-copy-source', 'alpha/secret.txt?'], ['x-amz-copy-source', 'x']]],
    ['x-amz-copy-source re-cased', [['X-Amz-Copy-Source', 'beta/pub/a.txt'], ['x-amz-copy-source', 'alpha/secret.txt']]],
    ['x-amz-acl twice', [['x-amz-acl', 'private'], ['x-amz-acl', 'public-read']]],
    ['content-md5 twice', [['Content-MD5', md5('')], ['content-md5', md5('x')]]],
    ['x-amz-tagging twice', [['x-amz-tagging', 'a=b'], ['x-amz-tagging', 'c=d']]],
    ['x-amz-metadata-directive twice', [['x-amz-copy-source', 'beta/pub/a.txt'], ['x-amz-metadata-directive', 'COPY'], ['x-amz-metadata-directive', 'REPLACE']]],
  ];
  it.each(SCHEMES.flatMap((s) => doubled.map(([n, h]) => [s, n, h] as const)))('%s: %s → 400 InvalidArgument, nothing forwarded', async (scheme, _n, headers) => {
    const { r, code, seen } = await attempt(KEYC, scheme, { method: 'PUT', path: '/beta/pub/d.txt', headers });
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('InvalidArgument');
    expect(seen).toHaveLength(0);
  });

  it.each(SCHEMES)('%s: UploadPartCopy with a doubled copy source is refused the same way', async (scheme) => {
    const { r, code, seen } = await attempt(KEYC, scheme, {
      method: 'PUT', path: '/beta/pub/mp.txt', query: [['partNumber', '1'], ['uploadId', 'abc']],
      headers: [['x-amz-copy-source', 'alpha/secret.txt?'], ['x-amz-copy-source', 'x']],
    });
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('InvalidArgument');
    expect(seen).toHaveLength(0);
  });

  it.each(SCHEMES)('%s: UploadPartCopy from outside the grant is refused', async (scheme) => {
    const { r, code, seen } = await attempt(KEYC, scheme, {
      method: 'PUT', path: '/beta/pub/mp.txt', query: [['partNumber', '1'], ['uploadId', 'abc']], headers: [['x-amz-copy-source', '/alpha/secret.txt']],
    });
    expect(r.status, r.body).toBe(403);
    expect(code).toBe('AccessDenied');
    expect(seen).toHaveLength(0);
  });
});

describe('finding 3: DeleteObjects checks every key of its body', () => {
  const del = (keys: string[]) => `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`;
  const post = (body: string, query: [string, string][] = [['delete', ''], ['prefix', 'pub/']]) =>
    ({ method: 'POST', path: '/beta', query, headers: [['Content-MD5', md5(body)], ['Content-Type', 'application/xml']] as [string, string][], body });

  // S3 answers a key its caller may not delete with an AccessDenied entry in a 200 DeleteResult.
  const errors = (xml: string) => [...xml.matchAll(/<Error><Key>([^<]*)<\/Key>(?:<VersionId>([^<]*)<\/VersionId>)?<Code>([^<]*)<\/Code>/g)].map((m) => [m[1], m[2], m[3]]);
  const deleted = (xml: string) => [...xml.matchAll(/<Deleted><Key>([^<]*)<\/Key>/g)].map((m) => m[1]);

  it.each(SCHEMES)('%s: POST /beta?delete&prefix=pub/ with <Key>secret.txt</Key> answers AccessDenied for it; nothing forwarded or deleted', async (scheme) => {
    const { r, seen } = await attempt(KEYC, scheme, post(del(['secret.txt'])));
    expect(r.status, r.body).toBe(200);
    expect(errors(r.body)).toEqual([['secret.txt', undefined, 'AccessDenied']]);
    expect(deleted(r.body)).toEqual([]);
    expect(seen).toHaveLength(0);
    expect(await exists('beta', 'secret.txt')).toBe(true);
  });

  it('a key outside the grant is answered AccessDenied on its own; the one inside is deleted, and only it reaches the upstream', async () => {
    await seed('beta', 'pub/gone0.txt', 'k');
    const body = `<Delete><Object><Key>pub/gone0.txt</Key></Object><Object><Key>secret.txt</Key><VersionId>v&amp;1</VersionId></Object><Object><Key>alpha/../secret &lt;2&gt;</Key></Object></Delete>`;
    const { r, seen } = await attempt(KEYC, 'v4-header', post(body, [['delete', '']]));
    expect(r.status, r.body).toBe(200);
    expect(deleted(r.body)).toEqual(['pub/gone0.txt']);
    expect(errors(r.body)).toEqual([['secret.txt', 'v&amp;1', 'AccessDenied'], ['alpha/../secret &lt;2&gt;', undefined, 'AccessDenied']]);
    expect(seen.map((q) => q.operation)).toEqual(['DeleteObjects']);
    expect(seen[0]!.resources.filter((x) => x.access === 'delete').map((x) => x.key)).toEqual(['pub/gone0.txt']);
    expect(await exists('beta', 'pub/gone0.txt')).toBe(false);
    expect(await exists('beta', 'secret.txt')).toBe(true);
  });

  it('in quiet mode the answer holds only the AccessDenied entries', async () => {
    await seed('beta', 'pub/gone-q.txt', 'k');
    const body = `<Delete><Quiet>true</Quiet><Object><Key>secret.txt</Key></Object><Object><Key>pub/gone-q.txt</Key></Object></Delete>`;
    const { r } = await attempt(KEYC, 'v2-header', post(body, [['delete', '']]));
    expect(r.status, r.body).toBe(200);
    expect(deleted(r.body)).toEqual([]);
    expect(errors(r.body)).toEqual([['secret.txt', undefined, 'AccessDenied']]);
    expect(await exists('beta', 'pub/gone-q.txt')).toBe(false);
    expect(await exists('beta', 'secret.txt')).toBe(true);
  });

  it('a key with no delete grant on the bucket at all is refused whole, before its body is read', async () => {
    const { r, code, seen } = await attempt(KEYC, 'v4-header', { ...post(del(['pub/x'])), path: '/alpha' });
    expect(r.status, r.body).toBe(403);
    expect(code).toBe('AccessDenied');
    expect(seen).toHaveLength(0);
  });

  it('keys inside the grant are deleted; the upstream gets the re-written body', async () => {
    await seed('beta', 'pub/gone1.txt', 'g');
    await seed('beta', 'pub/gone & <2>.txt', 'g');
    const { r, seen } = await attempt(KEYC, 'v4-header', post(del(['pub/gone1.txt', 'pub/gone &amp; &lt;2&gt;.txt']), [['delete', '']]));
    expect(r.status, r.body).toBe(200);
    expect(seen.map((q) => q.operation)).toEqual(['DeleteObjects']);
    expect(await exists('beta', 'pub/gone1.txt')).toBe(false);
    expect(await exists('beta', 'pub/gone & <2>.txt')).toBe(false);
  });

  it.each([
    ['a comment between objects', `<Delete><Object><Key>pub/x</Key></Object><!-- --><Object><Key>secret.txt</Key></Object></Delete>`],
    ['CDATA in a key', `<Delete><Object><Key><![CDATA[secret.txt]]></Key></Object></Delete>`],
    ['a DOCTYPE', `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY s "secret.txt">]><Delete><Object><Key>pub/&s;</Key></Object></Delete>`],
    ['a nested Object', `<Delete><Object><Key>pub/x</Key><Object><Key>secret.txt</Key></Object></Object></Delete>`],
    ['an unknown element', `<Delete><Objects><Object><Key>secret.txt</Key></Object></Objects></Delete>`],
    ['no objects', `<Delete></Delete>`],
    ['1,001 keys', del(Array.from({ length: 1001 }, (_, i) => `pub/${i}`))],
  ])('%s: 400 MalformedXML, nothing forwarded', async (_n, body) => {
    const { r, code, seen } = await attempt(KEYC, 'v4-header', post(body));
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('MalformedXML');
    expect(seen).toHaveLength(0);
    expect(await exists('beta', 'secret.txt')).toBe(true);
  });
});

describe('finding 4: a copy source bucket is never decoded', () => {
  // (A source with no literal '/' is jets3t's whole-encoded form: its first %2F is the one split.)
  it.each(SCHEMES)('%s: alpha%2Fteam/pub/secret.txt is refused (KEYS: any bucket, prefix pub/)', async (scheme) => {
    const { r, seen } = await attempt(KEYS, scheme, { method: 'PUT', path: '/beta/pub/c4.txt', headers: [['x-amz-copy-source', 'alpha%2Fteam/pub/secret.txt']] });
    expect(r.status, r.body).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(seen).toHaveLength(0);
    expect(await read('beta', 'pub/c4.txt')).toBeUndefined();
  });

  it.each([
    'alpha%2fteam/pub/secret.txt', 'alpha%252Fteam/pub/secret.txt', '%61lpha/pub/x', 'alpha/pub/x?versionId=1&partNumber=2', 'alpha/pub/x?uploadId=1',
  ])('%s is refused with InvalidArgument', async (src) => {
    const { r, code, seen } = await attempt(KEYS, 'v4-header', { method: 'PUT', path: '/beta/pub/c5.txt', headers: [['x-amz-copy-source', src]] });
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('InvalidArgument');
    expect(seen).toHaveLength(0);
  });

  it('jets3t\'s whole-encoded `bucket%2Fkey` (no literal slash) names that bucket and key: inside the grant it is copied, as a plain path upstream', async () => {
    await seed('alpha', 'pub/j 1.txt', 'jets3t');
    const { r, seen } = await attempt(KEYS, 'v2-header', { method: 'PUT', path: '/beta/pub/c7.txt', headers: [['x-amz-copy-source', 'alpha%2Fpub%2Fj%201.txt']] });
    expect(r.status, r.body).toBe(200);
    expect(seen[0]!.headers['x-amz-copy-source']).toBe('/alpha/pub/j%201.txt');
    expect(await read('beta', 'pub/c7.txt')).toBe('jets3t');
  });

  it.each(['alpha%2Fsecret.txt', 'alpha%2fsecret.txt'])('%s, outside the grant, is refused AccessDenied', async (src) => {
    const { r, code, seen } = await attempt(KEYS, 'v4-header', { method: 'PUT', path: '/beta/pub/c8.txt', headers: [['x-amz-copy-source', src]] });
    expect(r.status, r.body).toBe(403);
    expect(code).toBe('AccessDenied');
    expect(seen).toHaveLength(0);
  });

  it.each(['alpha%2F', '%2Falpha%2Fpub', 'al%70ha%2Fpub%2Fx', 'alpha%252Fpub%2Fx'])('%s is refused with InvalidArgument', async (src) => {
    const { r, code, seen } = await attempt(KEYS, 'v4-header', { method: 'PUT', path: '/beta/pub/c9.txt', headers: [['x-amz-copy-source', src]] });
    expect(r.status, r.body).toBe(400);
    expect(code).toBe('InvalidArgument');
    expect(seen).toHaveLength(0);
  });

  it('a double-encoded slash in the key stays a literal key inside the grant', async () => {
    await seed('alpha', 'pub/a%2Fb', 'literal');
    const { r, seen } = await attempt(KEYS, 'v4-header', { method: 'PUT', path: '/beta/pub/c6.txt', headers: [['x-amz-copy-source', 'alpha/pub/a%252Fb']] });
    expect(r.status, r.body).toBe(200);
    expect(seen[0]!.headers['x-amz-copy-source']).toBe('/alpha/pub/a%252Fb');
    expect(await read('beta', 'pub/c6.txt')).toBe('literal');
  });
});

describe('finding 5: bucket-level sub-resources need the whole bucket', () => {
  const subs = ['location', 'acl', 'policy', 'cors', 'lifecycle', 'versioning', 'tagging', 'website', 'encryption', 'analytics', 'object-lock'];
  it.each(subs)('GET /beta?%s&prefix=pub/ with a prefix grant is refused', async (sub) => {
    const { r, code, seen } = await attempt(KEYC, 'v4-header', { method: 'GET', path: '/beta', query: [[sub, ''], ['prefix', 'pub/']] });
    expect(r.status, r.body).toBe(403);
    expect(code).toBe('AccessDenied');
    expect(seen).toHaveLength(0);
  });

  it.each(['PUT', 'DELETE'])('%s /beta?policy&prefix=pub/ with a prefix grant is refused', async (method) => {
    const { r, seen } = await attempt(KEYC, 'v4-header', { method, path: '/beta', query: [['policy', ''], ['prefix', 'pub/']], ...(method === 'PUT' ? { body: '{}' } : {}) });
    expect(r.status, r.body).toBe(403);
    expect(seen).toHaveLength(0);
  });

  it('two sub-resources, or one in another case, are refused as ambiguous', async () => {
    for (const query of [[['uploads', ''], ['policy', ''], ['prefix', 'pub/']], [['Policy', ''], ['prefix', 'pub/']], [['prefix', 'pub/'], ['prefix', '']]] as [string, string][][]) {
      const { r, code, seen } = await attempt(KEYC, 'v4-header', { method: 'GET', path: '/beta', query });
      expect(r.status, JSON.stringify(query)).toBe(400);
      expect(code).toBe('InvalidArgument');
      expect(seen).toHaveLength(0);
    }
  });

  it('a whole-bucket grant reaches the sub-resource; a listing inside the prefix still works', async () => {
    const loc = await attempt(KEYB, 'v4-header', { method: 'GET', path: '/beta', query: [['location', '']] });
    expect(loc.r.status, loc.r.body).toBe(200);
    expect(loc.seen.map((q) => q.operation)).toEqual(['GetBucketLocation']);
    const list = await attempt(KEYC, 'v4-header', { method: 'GET', path: '/beta', query: [['list-type', '2'], ['prefix', 'pub/']] });
    expect(list.r.status, list.r.body).toBe(200);
    const outside = await attempt(KEYC, 'v4-header', { method: 'GET', path: '/beta', query: [['list-type', '2'], ['prefix', 'pu']] });
    expect(outside.r.status).toBe(403);
  });
});

describe('finding 9: a grant\'s prefix is never blank', () => {
  const doc = (prefix: string) => `
keys:
  - accessKeyId: KEYC1
    secretAccessKey: keyc-secret-abcdefghijklmnopqrstuvwxyz
    allow: [{ bucket: beta, ${prefix} actions: [read] }]
upstreams:
  up: { provider: linode, endpoint: http://127.0.0.1:1, region: us-east-1, credentials: { accessKeyId: a, secretAccessKey: b } }
buckets:
  beta: { upstream: up }
`;
  it.each([['prefix: ""', 'prefix: "",'], ['prefix with no value', 'prefix: ,'], ['prefix of spaces', 'prefix: "  ",']])('%s is refused, naming the field', (_n, p) => {
    let problems: string[] = [];
    try {
      buildConfig(parse(protectReferences(doc(p))), tmpdir(), { env: {} });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems = e.problems;
    }
    expect(problems).toEqual(['keys[0].allow[0].prefix: must not be empty; leave prefix out to grant the whole bucket']);
  });

  it('no prefix at all is the whole bucket, as before', () => {
    expect(() => buildConfig(parse(protectReferences(doc(''))), tmpdir(), { env: {} })).not.toThrow();
  });
});
