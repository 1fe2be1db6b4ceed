// `s3gate migrate` carries canned ACLs across (#19 part 2): from Ceph RGW 16 into the local store,
// then from the local store into RGW 16 under another account. Each object's ACL is read at the
// source and written with the copy (single PUTs and multipart uploads alike); an ACL that no
// canned ACL expresses leaves its object uncopied, in the report, and the run exits 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand, GetObjectAclCommand, ListBucketsCommand,
  PutObjectAclCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalStore } from '../../src/local/store.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, MiB, report, runCli } from './helpers.js';

const run = Math.random().toString(36).slice(2, 8);
const OLD = `mig-acl-old-${run}`;
const NEW = `mig-acl-new-${run}`;
let ceph: CephInfo;
let a: S3Client;
let b: S3Client;
let dir: string;
let store: LocalStore;
const env = () => ({ A_SECRET: ceph.users.a.secretAccessKey, B_SECRET: ceph.users.b.secretAccessKey });
const s3 = (creds: CephInfo['users']['a']) =>
  new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...creds }, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 3 });

function canned(uris: string[]): string {
  const g = uris.map((u) => u.replace('http://acs.amazonaws.com/groups/global/', '')).sort().join(',');
  return ({ '': 'private', 'AllUsers READ': 'public-read', 'AllUsers READ,AllUsers WRITE': 'public-read-write', 'AuthenticatedUsers READ': 'authenticated-read' } as Record<string, string>)[g] ?? `other: ${g}`;
}
async function rgwAcl(c: S3Client, bucket: string, key: string): Promise<string> {
  try {
    const r = await c.send(new GetObjectAclCommand({ Bucket: bucket, Key: key }));
    return canned((r.Grants ?? []).filter((g) => g.Grantee?.URI).map((g) => `${g.Grantee!.URI} ${g.Permission}`));
  } catch (e) {
    if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return 'absent';
    throw e;
  }
}
async function storeAcl(key: string): Promise<string> {
  try {
    const r = await store.handle({ method: 'GET', bucket: 'dst', key, query: new URLSearchParams('acl'), headers: {}, body: Readable.from([]) });
    return canned([...String(r.body).matchAll(/<URI>([^<]*)<\/URI><\/Grantee><Permission>([^<]*)</g)].map((m) => `${m[1]} ${m[2]}`));
  } catch {
    return 'absent';
  }
}

const OBJECTS: [string, string | undefined][] = [['pub.txt', 'public-read'], ['priv.txt', undefined], ['auth.txt', 'authenticated-read'], ['rw.txt', 'public-read-write']];

beforeAll(async () => {
  ceph = await ensureCeph();
  a = s3(ceph.users.a);
  b = s3(ceph.users.b);
  await a.send(new CreateBucketCommand({ Bucket: OLD }));
  await b.send(new CreateBucketCommand({ Bucket: NEW }));
  for (const [key, acl] of OBJECTS) await a.send(new PutObjectCommand({ Bucket: OLD, Key: key, Body: `bytes of ${key}`, ...(acl ? { ACL: acl as 'public-read' } : {}) }));
  // Copied as a multipart upload (a multipart source, and above the threshold): the ACL goes on CreateMultipartUpload.
  await new Upload({ client: a, params: { Bucket: OLD, Key: 'big.bin', Body: bytesFor('big.bin', 11 * MiB), ACL: 'public-read' }, partSize: 6 * MiB }).done();
  // Shared with user b: no canned ACL says that.
  const bId = (await b.send(new ListBucketsCommand({}))).Owner!.ID!;
  const aId = (await a.send(new ListBucketsCommand({}))).Owner!.ID!;
  await a.send(new PutObjectCommand({ Bucket: OLD, Key: 'granted.txt', Body: 'shared with b' }));
  await a.send(new PutObjectAclCommand({ Bucket: OLD, Key: 'granted.txt', GrantRead: `id="${bId}"`, GrantFullControl: `id="${aId}"` }));
  dir = tmpDir('s3gate-migrate-acl-');
  store = new LocalStore(join(dir, 'data'));
  await store.handle({ method: 'PUT', bucket: 'dst', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  writeFileSync(join(dir, 'proxy.yaml'), `
upstreams:
  ceph-a: { provider: linode, endpoint: ${ceph.endpoint}, region: us-east-1, credentials: { accessKeyId: ${ceph.users.a.accessKeyId}, secretAccessKey: \${A_SECRET} } }
  ceph-b: { provider: linode, endpoint: ${ceph.endpoint}, region: us-east-1, credentials: { accessKeyId: ${ceph.users.b.accessKeyId}, secretAccessKey: \${B_SECRET} } }
  disk: { provider: local, path: ./data }
buckets:
  "*": { upstream: disk }
`);
}, 600_000);

afterAll(async () => {
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
});

describe('s3gate migrate carries canned ACLs', { timeout: 300_000 }, () => {
  it('RGW 16 → local store: each canned ACL kept, single and multipart; an ACL no canned ACL expresses is not copied and the run exits 1', async () => {
    const mig = runCli(['migrate', '--config', 'proxy.yaml', '--from', `ceph-a/${OLD}`, '--to', 'disk/dst', '--json', '--no-state', '--multipart-threshold', '5MiB', '--part-size', '5MiB'], dir, env());
    const { code } = await mig.exited;
    const r = report(mig);
    expect(code, mig.err()).toBe(1);
    expect(r).toMatchObject({ copied: 5, failed: 1 });
    expect(r.failures).toEqual([{ key: 'granted.txt', reason: 'AclNotCarried: not copied: its ACL is not a canned ACL' }]);
    for (const [key, acl] of OBJECTS) expect(await storeAcl(key), key).toBe(acl ?? 'private');
    expect(await storeAcl('big.bin')).toBe('public-read');
    expect(await storeAcl('granted.txt')).toBe('absent');
  });

  it('local store → RGW 16 (another account): the same ACLs arrive, and RGW serves anonymous reads by them', async () => {
    const mig = runCli(['migrate', '--config', 'proxy.yaml', '--from', 'disk/dst', '--to', `ceph-b/${NEW}`, '--json', '--no-state', '--multipart-threshold', '5MiB', '--part-size', '5MiB'], dir, env());
    const { code } = await mig.exited;
    expect(code, mig.err()).toBe(0);
    expect(report(mig)).toMatchObject({ copied: 5, failed: 0 });
    for (const [key, acl] of OBJECTS) expect(await rgwAcl(b, NEW, key), key).toBe(acl ?? 'private');
    expect(await rgwAcl(b, NEW, 'big.bin')).toBe('public-read');
    expect((await fetch(`${ceph.endpoint}/${NEW}/pub.txt`)).status).toBe(200);
    expect((await fetch(`${ceph.endpoint}/${NEW}/priv.txt`)).status).toBe(403);
    expect((await fetch(`${ceph.endpoint}/${NEW}/auth.txt`)).status).toBe(403);
  });

  it('--verify names a copy whose ACL is not its source\'s', async () => {
    const verify = () => runCli(['migrate', '--config', 'proxy.yaml', '--from', 'disk/dst', '--to', `ceph-b/${NEW}`, '--json', '--no-state', '--verify'], dir, env());
    const clean = verify();
    expect((await clean.exited).code, clean.err()).toBe(0);
    await b.send(new PutObjectAclCommand({ Bucket: NEW, Key: 'priv.txt', ACL: 'public-read' }));
    const dirty = verify();
    expect((await dirty.exited).code, dirty.err()).toBe(1);
    expect(dirty.events().filter((e) => e.event === 'difference')).toEqual([
      expect.objectContaining({ key: 'priv.txt', kind: 'acl', detail: 'the source\'s ACL is private, the destination\'s public-read' }),
    ]);
  });
});
