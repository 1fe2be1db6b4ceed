// The differential property of issue #17: whatever a prefix-limited key signs, every resource the
// upstream is asked to read, write or delete lies inside that key's grant. The strict upstream
// reads each request the way a provider does (its own copy source parsing, the DeleteObjects body
// as its store parses it, listing or setting by the query), independently of s3gate's view;
// fast-check generates correctly signed requests (SigV4 header and presigned, SigV2 header and
// presigned) that mix the tricks of the findings. Fixed seed (FUZZ_SEED to change); GRANT_RUNS
// sets the case count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { DOMAIN, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream, type TouchedResource } from '../upstream/strict-upstream.js';
import { md5, sendSigned, type AuthScheme, type Creds, type RawSpec } from '../helpers/signed-raw.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.GRANT_RUNS ?? 600);

interface Grant { bucket: string; prefix: string; actions: string[] }
const ACTIONS = ['read', 'write', 'list', 'delete'];
const KEYC = { accessKeyId: 'PROPKEYC', secretAccessKey: 'prop-keyc-secret-abcdefghijklmnopqrstuvwx', grant: { bucket: 'beta', prefix: 'pub/', actions: ACTIONS } };
const KEYS = { accessKeyId: 'PROPKEYS', secretAccessKey: 'prop-keys-secret-abcdefghijklmnopqrstuvwx', grant: { bucket: '*', prefix: 'pub/', actions: ACTIONS } };
type Key = typeof KEYC;

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;

async function seed(bucket: string, key?: string, body = 'secret'): Promise<void> {
  const r = await upstream.store.handle({
    method: 'PUT', bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(),
    headers: key !== undefined ? { 'content-length': String(body.length) } : {}, body: Readable.from(key !== undefined ? [Buffer.from(body)] : []),
  });
  if (r.status >= 300 && key === undefined && r.status !== 409) throw new Error(`seed ${bucket}: ${r.status}`);
}

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [KEYC, KEYS].map((k) => ({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, allow: [k.grant] })),
    upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'strict' } },
  });
  port = portOf(gw.url);
  for (const b of ['alpha', 'beta']) await seed(b);
  for (const [b, k] of [['alpha', 'secret.txt'], ['alpha', 'team/pub/secret.txt'], ['beta', 'secret.txt'], ['beta', 'pub/a.txt']] as const) await seed(b, k);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

// ---- what a grant covers ---------------------------------------------------------------

const NEEDS: Record<TouchedResource['access'], string> = { read: 'read', write: 'write', delete: 'delete', list: 'list', bucket: 'admin' };

function inside(g: Grant, r: TouchedResource): boolean {
  if (g.bucket !== '*' && g.bucket !== r.bucket) return false;
  if (!g.actions.includes(NEEDS[r.access])) return r.access === 'bucket' ? false : false;
  if (r.access === 'bucket') return g.prefix === '';
  if (r.access === 'list') return (r.prefix ?? '').startsWith(g.prefix);
  return (r.key ?? '').startsWith(g.prefix);
}

// ---- the requests ----------------------------------------------------------------------

// Raw path segments: mostly inside the grant (what s3gate checks anyway), and the tricks.
const BUCKETS = ['beta', 'beta', 'beta', 'alpha', 'beta%2Fpub', 'alpha%2Fteam', 'BETA'];
const KEYS_RAW = ['pub/a.txt', 'pub/new.txt', 'pub/x%2Fy', 'pub/../secret.txt', 'pub%2F..%2Fsecret.txt', 'pub%252F..%252Fsecret.txt', 'secret.txt', 'team/pub/secret.txt', 'PUB/a.txt'];
const SOURCE_BUCKETS = ['alpha', 'beta', 'alpha%2Fteam', 'alpha%2Fteam', 'beta%2Fpub', 'alpha%252Fteam', 'beta%2fpub', '%61lpha'];
const SOURCE_KEYS = ['secret.txt', 'pub/a.txt', 'team/pub/secret.txt', 'pub/secret.txt', 'pub/secret.txt', 'pub%2F..%2Fsecret.txt', 'pub/a%252Fb'];
const SOURCE_TAILS = ['', '', '?versionId=1', '?', '?x', '?,x'];
const SUBS = ['', '', 'list-type=2', 'location', 'acl', 'policy', 'uploads', 'versions', 'cors', 'lifecycle', 'tagging', 'Policy', 'uploads&policy', 'website', 'encryption', 'object-lock'];
const PREFIXES: (string | undefined)[] = [undefined, 'pub/', 'pub/', 'pub', '', 'secret', 'pub/../'];
const DELETE_KEYS = ['pub/a.txt', 'pub/gone.txt', 'secret.txt', 'pub/../secret.txt', 'team/pub/secret.txt'];

type Placement = 'header' | 'query' | 'both' | 'twice' | 'recased';
interface Case {
  key: Key;
  scheme: AuthScheme;
  spec: Omit<RawSpec, 'host'>;
  label: string;
}

const pick = <T,>(xs: readonly T[]) => fc.constantFrom(...xs);

function query(s: string): [string, string][] {
  return s === '' ? [] : s.split('&').map((p) => {
    const i = p.indexOf('=');
    return (i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)]) as [string, string];
  });
}

function copyLines(placement: Placement, source: string, scheme: AuthScheme): Pick<RawSpec, 'headers' | 'hoist' | 'query'> {
  const presigned = scheme.endsWith('query');
  switch (placement) {
    case 'header': return { headers: [['x-amz-copy-source', source]] };
    // In a header-signed request the parameter stays in the query, as an attacker would send it.
    case 'query': return presigned ? { hoist: [['x-amz-copy-source', source]] } : { query: [['x-amz-copy-source', source]] };
    case 'both': return { headers: [['x-amz-copy-source', 'beta/pub/a.txt']], ...(presigned ? { hoist: [['x-amz-copy-source', source]] } : { query: [['x-amz-copy-source', source]] }) };
    case 'twice': return { headers: [['x-amz-copy-source', source], ['x-amz-copy-source', 'x']] };
    case 'recased': return { headers: [['X-Amz-Copy-Source', 'beta/pub/a.txt'], ['x-amz-copy-source', source]] };
  }
}

const extraHeaders = fc.constantFrom<[string, string][]>([], [], [['x-amz-acl', 'private'], ['X-Amz-Acl', 'public-read']], [['Content-Type', 'text/plain'], ['content-type', 'text/html']], [['x-amz-tagging', 'a=b']]);

const objectCase = fc.record({
  method: pick(['GET', 'HEAD', 'PUT', 'DELETE']), bucket: pick(BUCKETS), key: pick(KEYS_RAW),
  sub: pick(['', '', 'tagging', 'acl', 'uploadId=x', 'partNumber=1&uploadId=x', 'prefix=pub/']), extra: extraHeaders,
}).map(({ method, bucket, key, sub, extra }) => (scheme: AuthScheme): RawSpec => ({
  method, host: '', path: `/${bucket}/${key}`, query: query(sub), headers: extra, ...(method === 'PUT' ? { body: 'x' } : {}),
}));

const copyCase = fc.record({
  bucket: pick(['beta', 'beta', 'alpha']), key: pick(['pub/c.txt', 'pub/d.txt', 'secret.txt']), lead: pick(['', '/']),
  sb: pick(SOURCE_BUCKETS), sk: pick(SOURCE_KEYS), tail: pick(SOURCE_TAILS), part: fc.boolean(),
  placement: pick<Placement>(['header', 'header', 'header', 'query', 'query', 'both', 'twice', 'recased']), extra: extraHeaders,
}).map(({ bucket, key, lead, sb, sk, tail, part, placement, extra }) => (scheme: AuthScheme): RawSpec => {
  const c = copyLines(placement, `${lead}${sb}/${sk}${tail}`, scheme);
  return {
    method: 'PUT', host: '', path: `/${bucket}/${key}`,
    query: [...(part ? [['partNumber', '1'], ['uploadId', 'x']] as [string, string][] : []), ...(c.query ?? [])],
    headers: [...(c.headers ?? []), ...extra], ...(c.hoist ? { hoist: c.hoist } : {}),
  };
});

const bucketCase = fc.record({
  method: pick(['GET', 'GET', 'GET', 'HEAD', 'PUT', 'DELETE']), bucket: pick(BUCKETS), sub: pick(SUBS), prefix: pick(PREFIXES), twice: fc.boolean(),
}).map(({ method, bucket, sub, prefix, twice }) => (): RawSpec => ({
  method, host: '', path: `/${bucket}`,
  query: [...query(sub), ...(prefix !== undefined ? [['prefix', prefix]] as [string, string][] : []), ...(twice && prefix !== undefined ? [['prefix', 'secret']] as [string, string][] : [])],
  ...(method === 'PUT' ? { body: '' } : {}),
}));

const deleteCase = fc.record({
  bucket: pick(['beta', 'beta', 'alpha', 'beta%2Fpub']), keys: fc.uniqueArray(pick(DELETE_KEYS), { minLength: 1, maxLength: 4 }),
  prefix: pick([undefined, 'pub/']), trick: pick(['', '', 'comment', 'cdata', 'crlf']),
}).map(({ bucket, keys, prefix, trick }) => (): RawSpec => {
  const objs = keys.map((k) => `<Object><Key>${trick === 'cdata' ? `<![CDATA[${k}]]>` : k}</Key></Object>`).join(trick === 'comment' ? '<!-- x -->' : trick === 'crlf' ? '\r\n' : '');
  const body = `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${objs}</Delete>`;
  return {
    method: 'POST', host: '', path: `/${bucket}`, query: [['delete', ''], ...(prefix !== undefined ? [['prefix', prefix]] as [string, string][] : [])],
    headers: [['Content-MD5', md5(body)], ['Content-Type', 'application/xml']], body,
  };
});

const anyCase: fc.Arbitrary<Case> = fc.record({
  key: pick([KEYC, KEYS]),
  scheme: pick<AuthScheme>(['v4-header', 'v4-query', 'v2-header', 'v2-query']),
  build: fc.oneof({ arbitrary: objectCase, weight: 2 }, { arbitrary: copyCase, weight: 4 }, { arbitrary: bucketCase, weight: 2 }, { arbitrary: deleteCase, weight: 2 }),
}).map(({ key, scheme, build }) => {
  const { host: _h, ...spec } = build(scheme);
  return { key, scheme, spec, label: `${key.accessKeyId} ${scheme} ${spec.method} ${spec.path} ${JSON.stringify(spec.query)} ${JSON.stringify(spec.headers)} ${JSON.stringify(spec.hoist ?? [])} ${spec.body ?? ''}` };
});

/** Runs one case: what reached the upstream that the key's grant does not cover. */
async function escapes(c: Case): Promise<{ status: number; outside: TouchedResource[]; ops: string[] }> {
  const before = upstream.requests.length;
  const r = await sendSigned(port, c.key as Creds, c.scheme, { ...c.spec, host: `${DOMAIN}:${port}` });
  const seen = upstream.requests.slice(before);
  return { status: r.status, outside: seen.flatMap((q) => q.resources).filter((res) => !inside(c.key.grant, res)), ops: seen.map((q) => q.operation) };
}

describe('every resource the upstream touched lies inside the signing key\'s grant', () => {
  // Each finding of issue #17 as a fixed example, run before the random cases.
  const examples: [string, Case][] = [
    ['finding 1: copy source in a presigned URL\'s query', { key: KEYC, scheme: 'v4-query', spec: { method: 'PUT', path: '/beta/pub/c1.txt', hoist: [['x-amz-copy-source', 'alpha/secret.txt']] }, label: '' }],
    ['finding 1 (SigV2 presigned)', { key: KEYC, scheme: 'v2-query', spec: { method: 'PUT', path: '/beta/pub/c1.txt', hoist: [['x-amz-copy-source', 'alpha/secret.txt']] }, label: '' }],
    ['finding 2: doubled x-amz-copy-source', { key: KEYC, scheme: 'v4-header', spec: { method: 'PUT', path: '/beta/pub/c2.txt', headers: [['x-amz-copy-source', 'alpha/secret.txt?'], ['x-amz-copy-source', 'x']] }, label: '' }],
    ['finding 2: UploadPartCopy', { key: KEYC, scheme: 'v4-header', spec: { method: 'PUT', path: '/beta/pub/c2.txt', query: [['partNumber', '1'], ['uploadId', 'x']], headers: [['x-amz-copy-source', 'alpha/secret.txt?'], ['x-amz-copy-source', 'x']] }, label: '' }],
    ['finding 3: DeleteObjects body key', { key: KEYC, scheme: 'v4-header', spec: (() => {
      const body = '<Delete><Object><Key>secret.txt</Key></Object></Delete>';
      return { method: 'POST', path: '/beta', query: [['delete', ''], ['prefix', 'pub/']] as [string, string][], headers: [['Content-MD5', md5(body)]] as [string, string][], body };
    })(), label: '' }],
    ['finding 4: %2F in the copy source bucket', { key: KEYS, scheme: 'v4-header', spec: { method: 'PUT', path: '/beta/pub/c4.txt', headers: [['x-amz-copy-source', 'alpha%2Fteam/pub/secret.txt']] }, label: '' }],
    ['finding 5: ?location&prefix=pub/', { key: KEYC, scheme: 'v4-header', spec: { method: 'GET', path: '/beta', query: [['location', ''], ['prefix', 'pub/']] }, label: '' }],
    ['finding 5: ?policy&prefix=pub/', { key: KEYC, scheme: 'v2-header', spec: { method: 'GET', path: '/beta', query: [['policy', ''], ['prefix', 'pub/']] }, label: '' }],
  ];
  it.each(examples)('%s', async (_name, c) => {
    const { outside } = await escapes(c);
    expect(outside).toEqual([]);
  });

  it(`random signed requests (${RUNS} cases, seed ${SEED})`, async () => {
    const started = Date.now();
    if (process.env.GRANT_SURVEY) {
      const found: Record<string, number> = {};
      await fc.assert(fc.asyncProperty(anyCase, async (c) => {
        const { outside } = await escapes(c);
        for (const o of outside) {
          const s = c.spec;
          const kind = s.method === 'POST' ? '3 delete body' : o.access === 'bucket' ? '5 bucket settings' : s.hoist?.length ? '1 presigned query copy' :
            (s.headers ?? []).filter(([n]) => n.toLowerCase() === 'x-amz-copy-source').length > 1 ? '2 doubled copy source' : /%2F|%252F|%61/i.test(JSON.stringify(s.headers)) ? '4 encoded copy bucket' : `other ${o.access}`;
          found[kind] = (found[kind] ?? 0) + 1;
        }
      }), { seed: SEED, numRuns: RUNS });
      console.log('SURVEY', JSON.stringify(found));
      return;
    }
    await fc.assert(fc.asyncProperty(anyCase, async (c) => {
      const { status, outside } = await escapes(c);
      expect(status, c.label).toBeLessThan(500);
      expect(outside, c.label).toEqual([]);
    }), { seed: SEED, numRuns: RUNS, endOnFailure: true });
    // Figures for the closing note (not asserted).
    console.log(`grants property: ${RUNS} cases in ${Date.now() - started} ms`);
  }, 600_000);
});
