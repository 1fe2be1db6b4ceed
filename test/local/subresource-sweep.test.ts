// Every sub-resource of the S3 API (as botocore's model names them), with every method, at the
// bucket and at the object level, sent through s3gate to the local store and to the strict
// upstream. After each call, every object's bytes and metadata are what they were: a sub-resource
// the store does not implement answers 501 and touches nothing, and those it implements write
// only what they name (tags, ACLs), never the object's data.
//
// Before the store routed by sub-resource, PUT ?tagging replaced the bytes with the XML body,
// DELETE ?tagging deleted the object, GET ?acl returned the body: this test failed on each.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { MODERN_PYTHON } from '../helpers/python.js';

const agent = testUndiciAgent();
const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const;
const OBJECTS = [
  { key: 'keep/one.txt', body: 'the first object, whose bytes must stay', type: 'text/plain', color: 'blue' },
  { key: 'two.bin', body: 'second object bytes', type: 'application/x-two', color: 'green' },
];

/** The query names that select an operation, read from botocore's S3 model as installed. */
function botocoreSubresources(): string[] {
  const script = `
import gzip, json, os, botocore
m = json.load(gzip.open(os.path.join(os.path.dirname(botocore.__file__), 'data/s3/2006-03-01/service-2.json.gz')))
subs = set()
for op in m['operations'].values():
    uri = op['http']['requestUri']
    if '?' in uri:
        for part in uri.split('?', 1)[1].split('&'):
            # list-type=2, select-type=2 qualify an operation; they name no sub-resource.
            if '=' not in part:
                subs.add(part)
for shape in m['shapes'].values():
    for member in shape.get('members', {}).values():
        if member.get('location') == 'querystring' and member.get('locationName') in ('uploadId', 'versionId'):
            subs.add(member['locationName'])
print(json.dumps(sorted(subs)))
`;
  return JSON.parse(execFileSync(MODERN_PYTHON, ['-c', script], { encoding: 'utf8' })) as string[];
}

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
let subs: string[];

async function call(method: string, path: string, query: Record<string, string>, body = '', extra: Record<string, string> = {}) {
  const sha = createHash('sha256').update(body).digest('hex');
  const headers: Record<string, string> = { host: `${DOMAIN}:${port}`, 'x-amz-content-sha256': sha, ...extra };
  if (body) headers['content-length'] = String(Buffer.byteLength(body));
  const signed = await signer.sign({ method, protocol: 'http:', hostname: DOMAIN, port, path, query, headers });
  const qs = Object.entries(query).map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
  const res = await request(`http://${DOMAIN}:${port}${path}${qs ? '?' + qs : ''}`, { method: method as 'GET', headers: signed.headers, body: body || undefined, dispatcher: agent });
  const text = method === 'HEAD' ? '' : await res.body.text();
  if (method === 'HEAD') await res.body.dump();
  return { status: res.statusCode, headers: res.headers, text };
}

async function seed(bucket: string): Promise<void> {
  for (const o of OBJECTS) {
    const r = await call('PUT', `/${bucket}/${o.key}`, {}, o.body, { 'content-type': o.type, 'x-amz-meta-color': o.color });
    expect(r.status).toBe(200);
  }
}

/** Every object as GET sees it: bytes, ETag, type and user metadata; and the listing. */
async function snapshot(bucket: string): Promise<string> {
  const out: unknown[] = [];
  for (const o of OBJECTS) {
    const r = await call('GET', `/${bucket}/${o.key}`, {});
    out.push([o.key, r.status, r.text, r.headers['etag'], r.headers['content-type'], r.headers['x-amz-meta-color'], r.headers['content-length']]);
  }
  const list = await call('GET', `/${bucket}`, { 'list-type': '2' });
  out.push([list.status, [...list.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])]);
  return JSON.stringify(out);
}

function bodyFor(sub: string): string {
  // A well-formed body where the store implements the write, so the write really happens; junk
  // elsewhere, which a fall-through to PutObject would store as the object's bytes.
  if (sub === 'tagging') return '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>';
  return `CLOBBERED-BY-${sub}`;
}

function queryFor(sub: string): Record<string, string> {
  if (sub === 'uploadId') return { uploadId: '0'.repeat(32), partNumber: '1' };
  if (sub === 'versionId') return { versionId: 'not-a-version' };
  if (sub === 'select') return { select: '', 'select-type': '2' };
  return { [sub]: '' };
}

beforeAll(async () => {
  subs = botocoreSubresources();
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      disk: { provider: 'local', path: tmpDir('s3gate-sweep-') },
      strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
    },
    buckets: { 'sweep-local': { upstream: 'disk' }, 'sweep-strict': { upstream: 'strict' } },
  });
  port = portOf(gw.url);
  await up.store.handle({ method: 'PUT', bucket: 'sweep-strict', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  expect((await call('PUT', '/sweep-local', {})).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await up?.close();
});

describe('every sub-resource with every method leaves the data alone', () => {
  it('botocore names the sub-resources the store must route', () => {
    for (const s of ['tagging', 'acl', 'retention', 'legal-hold', 'restore', 'select', 'attributes', 'torrent', 'renameObject', 'policy', 'lifecycle', 'uploadId', 'versionId']) {
      expect(subs).toContain(s);
    }
  });

  for (const bucket of ['sweep-local', 'sweep-strict']) {
    it(`${bucket}: ${METHODS.join('/')} × every sub-resource × bucket and object`, async () => {
      await seed(bucket);
      const before = await snapshot(bucket);
      const notImplemented: string[] = [];
      const failures: string[] = [];
      for (const sub of subs) {
        for (const level of ['bucket', 'object'] as const) {
          for (const method of METHODS) {
            const path = level === 'bucket' ? `/${bucket}` : `/${bucket}/${OBJECTS[0]!.key}`;
            const body = method === 'PUT' || method === 'POST' ? bodyFor(sub) : '';
            const r = await call(method, path, queryFor(sub), body);
            const what = `${method} ${level}?${sub} → ${r.status}`;
            if (r.status >= 500 && r.status !== 501) failures.push(`${what} ${r.text.slice(0, 200)}`);
            if (r.status === 501) notImplemented.push(what);
            const after = await snapshot(bucket);
            if (after !== before) {
              failures.push(`${what} changed the data: ${after}`);
              await seed(bucket); // restore, so one fall-through does not hide the next
            }
          }
        }
      }
      expect(failures).toEqual([]);
      // Sub-resources the store does not implement answer 501 rather than anything else.
      expect(notImplemented.length).toBeGreaterThan(50);
    }, 300_000);
  }
});
