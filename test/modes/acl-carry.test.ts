// Copy-on-read carries canned ACLs across a migration (#19 part 2, migrate mode), and never makes
// a private object public or the other way round. From Ceph RGW 16 to the local store and from
// the local store to RGW 16: the old provider's object ACL is read with s3gate's own credentials,
// mapped to a canned ACL and written with the copy; an anonymous read that falls back to the old
// provider goes there unsigned and copies only what anyone may read; an ACL that no canned ACL
// expresses is not copied at all. Clients: the JS SDK (signed), plain HTTP (anonymous) and boto3
// with default settings (the seeds' put_object_acl on an object that has not moved yet).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectAclCommand, GetObjectCommand, ListBucketsCommand,
  PutBucketPolicyCommand, PutObjectAclCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { LocalStore } from '../../src/local/store.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { copyResults, logLine, settledCopies } from './helpers.js';

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const run = Math.random().toString(36).slice(2, 8);
const RGW = { old: `acl-old-${run}`, fresh: `acl-new-${run}`, policy: `acl-policy-${run}` };
type Gw = Awaited<ReturnType<typeof startTestGateway>>;

/** One provider bucket as the test sees it directly: write with a canned ACL, read the ACL back. */
interface Side {
  put(key: string, body: string, acl?: string): Promise<void>;
  /** the canned ACL the object's grants say, 'absent' when there is no object */
  acl(key: string): Promise<string>;
  remove(key: string): Promise<void>;
}

function cannedOf(grants: { uri?: string; permission?: string }[]): string {
  const g = grants.filter((x) => x.uri).map((x) => `${x.uri!.split('/').pop()} ${x.permission}`).sort().join(',');
  return ({ '': 'private', 'AllUsers READ': 'public-read', 'AllUsers READ,AllUsers WRITE': 'public-read-write', 'AuthenticatedUsers READ': 'authenticated-read' } as Record<string, string>)[g] ?? `other: ${g}`;
}

function storeSide(store: LocalStore, bucket: string): Side {
  const req = (method: string, key: string, query = '', headers: Record<string, string> = {}, body = '') =>
    store.handle({ method, bucket, key, query: new URLSearchParams(query), headers: { 'content-length': String(body.length), ...headers }, body: Readable.from([Buffer.from(body)]) });
  return {
    async put(key, body, acl) {
      await req('PUT', key, '', acl ? { 'x-amz-acl': acl } : {}, body);
    },
    async acl(key) {
      try {
        const xml = String((await req('GET', key, 'acl')).body);
        return cannedOf([...xml.matchAll(/<URI>([^<]*)<\/URI><\/Grantee><Permission>([^<]*)</g)].map((m) => ({ uri: m[1]!, permission: m[2]! })));
      } catch {
        return 'absent';
      }
    },
    async remove(key) {
      await req('DELETE', key);
    },
  };
}

function rgwSide(s3: S3Client, bucket: string): Side {
  return {
    async put(key, body, acl) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(acl ? { ACL: acl as 'public-read' } : {}) }));
    },
    async acl(key) {
      try {
        const r = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: key }));
        return cannedOf((r.Grants ?? []).map((g) => ({ ...(g.Grantee?.URI ? { uri: g.Grantee.URI } : {}), ...(g.Permission ? { permission: g.Permission } : {}) })));
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return 'absent';
        throw e;
      }
    },
    async remove(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
  };
}

let ceph: CephInfo | undefined;
let gw: Gw;
let s3: S3Client;
let rgw: S3Client;
let otherUserId: string;
let oldStore: LocalStore;
let newStore: LocalStore;
const url = (bucket: string, key: string) => `http://${DOMAIN}:${portOf(gw.url)}/${bucket}/${key}`;
const anonymous = async (bucket: string, key: string) => {
  const r = await request(url(bucket, key), { dispatcher: testUndiciAgent() });
  return [r.statusCode, await r.body.text()] as const;
};
const signed = async (bucket: string, key: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();

beforeAll(async () => {
  ceph = await ensureCeph();
  const a = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  rgw = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...a }, maxAttempts: 1 });
  const b = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...ceph.users.b }, maxAttempts: 1 });
  otherUserId = (await b.send(new ListBucketsCommand({}))).Owner!.ID!;
  for (const name of Object.values(RGW)) await rgw.send(new CreateBucketCommand({ Bucket: name }));
  await rgw.send(new PutBucketPolicyCommand({
    Bucket: RGW.policy,
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${RGW.policy}/*`] }] }),
  }));
  const oldDir = tmpDir('s3gate-acl-old-');
  const newDir = tmpDir('s3gate-acl-new-');
  oldStore = new LocalStore(oldDir);
  newStore = new LocalStore(newDir);
  for (const [store, name] of [[newStore, 'from-rgw'], [newStore, 'from-policy'], [oldStore, 'to-rgw']] as const) {
    await store.handle({ method: 'PUT', bucket: name, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  }
  const migrate = (upstream: string, bucket: string, from: { upstream: string; bucket: string }) => ({ upstream, bucket, mode: 'migrate', copyOnRead: true, from });
  gw = await startTestGateway({
    admin: { address: '127.0.0.1:0' },
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      // RGW 16 is what the linode preset describes.
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: a },
      'disk-old': { provider: 'local', path: oldDir },
      'disk-new': { provider: 'local', path: newDir },
    },
    buckets: {
      rgw2disk: migrate('disk-new', 'from-rgw', { upstream: 'rgw', bucket: RGW.old }),
      disk2rgw: migrate('rgw', RGW.fresh, { upstream: 'disk-old', bucket: 'to-rgw' }),
      policy2disk: migrate('disk-new', 'from-policy', { upstream: 'rgw', bucket: RGW.policy }),
    },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
});

const directions = [
  ['from RGW 16 to the local store', 'rgw2disk', () => rgwSide(rgw, RGW.old), () => storeSide(newStore, 'from-rgw')],
  ['from the local store to RGW 16', 'disk2rgw', () => storeSide(oldStore, 'to-rgw'), () => rgwSide(rgw, RGW.fresh)],
] as const;

describe.each(directions)('copy-on-read %s', (_label, bucket, oldSide, newSide) => {
  const settled = async (before: Record<string, number>) => settledCopies(gw.adminUrl!, bucket, before);

  it('an anonymous read of a public-read object that has not moved: read from the old provider unsigned, copied as public-read', async () => {
    await oldSide().put('pub.txt', 'public bytes', 'public-read');
    const before = await copyResults(gw.adminUrl!, bucket);
    // HEAD falls back the same way (and copies nothing).
    expect((await request(url(bucket, 'pub.txt'), { method: 'HEAD', dispatcher: testUndiciAgent() })).statusCode).toBe(200);
    expect(await anonymous(bucket, 'pub.txt')).toEqual([200, 'public bytes']);
    expect(await settled(before)).toEqual({ ok: 1 });
    expect(await newSide().acl('pub.txt')).toBe('public-read');
    // Served by the new provider from now on, still to anyone.
    await oldSide().remove('pub.txt');
    expect(await anonymous(bucket, 'pub.txt')).toEqual([200, 'public bytes']);
  });

  it('an anonymous read of a private object is refused by the old provider; nothing is copied', async () => {
    await oldSide().put('priv.txt', 'private bytes');
    const before = await copyResults(gw.adminUrl!, bucket);
    const [status, body] = await anonymous(bucket, 'priv.txt');
    expect(status).toBe(403);
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(await copyResults(gw.adminUrl!, bucket)).toEqual(before);
    expect(await newSide().acl('priv.txt')).toBe('absent');
  });

  it('a signed read copies each canned ACL as it is: public-read stays public, private stays private', async () => {
    await oldSide().put('signed-pub.txt', 'was public', 'public-read');
    await oldSide().put('signed-priv.txt', 'was private');
    await oldSide().put('signed-auth.txt', 'was for any account', 'authenticated-read');
    const before = await copyResults(gw.adminUrl!, bucket);
    expect(await signed(bucket, 'signed-pub.txt')).toBe('was public');
    expect(await signed(bucket, 'signed-priv.txt')).toBe('was private');
    expect(await signed(bucket, 'signed-auth.txt')).toBe('was for any account');
    expect(await settledCopies(gw.adminUrl!, bucket, before, 3)).toEqual({ ok: 3 });
    expect(await newSide().acl('signed-pub.txt')).toBe('public-read');
    expect(await newSide().acl('signed-priv.txt')).toBe('private');
    expect(await newSide().acl('signed-auth.txt')).toBe('authenticated-read');
    for (const k of ['signed-pub.txt', 'signed-priv.txt']) await oldSide().remove(k);
    expect(await anonymous(bucket, 'signed-pub.txt')).toEqual([200, 'was public']);
    expect((await anonymous(bucket, 'signed-priv.txt'))[0]).toBe(403);
  });
});

describe('copy-on-read never changes who may read an object', () => {
  it('an ACL no canned ACL expresses (a grant to another account) is not copied; the read is served', async () => {
    await rgw.send(new PutObjectCommand({ Bucket: RGW.old, Key: 'granted.txt', Body: 'shared with b' }));
    await rgw.send(new PutObjectAclCommand({ Bucket: RGW.old, Key: 'granted.txt', GrantRead: `id="${otherUserId}"`, GrantFullControl: `id="${(await rgw.send(new ListBucketsCommand({}))).Owner!.ID!}"` }));
    const before = await copyResults(gw.adminUrl!, 'rgw2disk');
    expect(await signed('rgw2disk', 'granted.txt')).toBe('shared with b');
    expect(await settledCopies(gw.adminUrl!, 'rgw2disk', before)).toEqual({ skipped: 1 });
    expect((await logLine(gw.sink, (l) => l.key === 'granted.txt' && typeof l.msg === 'string' && l.msg.startsWith('copy-on-read'))).why).toBe('its ACL is not a canned ACL');
    expect(await storeSide(newStore, 'from-rgw').acl('granted.txt')).toBe('absent');
  });

  it('a private object that an RGW bucket policy lets anyone read: readable anonymously, as directly, but not copied (the new side\'s ACL would refuse the next read)', async () => {
    await rgw.send(new PutObjectCommand({ Bucket: RGW.policy, Key: 'by-policy.txt', Body: 'policy says public' }));
    const before = await copyResults(gw.adminUrl!, 'policy2disk');
    expect(await anonymous('policy2disk', 'by-policy.txt')).toEqual([200, 'policy says public']);
    expect(await settledCopies(gw.adminUrl!, 'policy2disk', before)).toEqual({ skipped: 1 });
    expect(await storeSide(newStore, 'from-policy').acl('by-policy.txt')).toBe('absent');
    // A signed read copies it, private as its ACL says.
    expect(await signed('policy2disk', 'by-policy.txt')).toBe('policy says public');
    expect(await settledCopies(gw.adminUrl!, 'policy2disk', before, 2)).toEqual({ skipped: 1, ok: 1 });
    expect(await storeSide(newStore, 'from-policy').acl('by-policy.txt')).toBe('private');
  });

  it('the seeds\' boto3 flow on an object that has not moved: put_object_acl public-read reaches the old provider, then an anonymous GET reads and copies it public', async () => {
    await rgw.send(new PutObjectCommand({ Bucket: RGW.old, Key: 'users/claire.json', Body: '{"name": "Claire"}' }));
    const before = await copyResults(gw.adminUrl!, 'rgw2disk');
    const out = await runPython(`
import urllib.request, urllib.error
s3 = boto3.client('s3', aws_access_key_id='${GW_KEY.accessKeyId}', aws_secret_access_key='${GW_KEY.secretAccessKey}',
                  endpoint_url='http://${DOMAIN}:${portOf(gw.url)}', region_name='us-east-1')
def anon(url):
    try:
        r = urllib.request.urlopen(url)
        return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, '']
public_url = 'http://${DOMAIN}:${portOf(gw.url)}/rgw2disk/users/claire.json'
out = {'private': anon(public_url)}
s3.put_object_acl(Bucket='rgw2disk', Key='users/claire.json', ACL='public-read')
out['grants'] = [g['Grantee'].get('URI', 'owner') + ' ' + g['Permission'] for g in s3.get_object_acl(Bucket='rgw2disk', Key='users/claire.json')['Grants']]
out['public'] = anon(public_url)
print(json.dumps(out))
`, {}, MODERN_PYTHON) as Record<string, unknown>;
    expect(out.private).toEqual([403, '']);
    expect(out.grants).toEqual(expect.arrayContaining([`${ALL_USERS} READ`]));
    expect(out.public).toEqual([200, '{"name": "Claire"}']);
    expect(await settledCopies(gw.adminUrl!, 'rgw2disk', before)).toEqual({ ok: 1 });
    expect(await storeSide(newStore, 'from-rgw').acl('users/claire.json')).toBe('public-read');
  });
});
