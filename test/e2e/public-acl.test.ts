// Anonymous reads where the provider's ACLs decide (#19 part 2, `public: acl`, the default): the
// seeds' public-URL flow, as the Cloud Temple guide and the Linode Q&A write it with boto3,
// against RGW 16 and the local store. Anonymous object reads and listings go on unsigned, so what
// the provider would answer an anonymous client directly is what the client gets through s3gate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startCli } from '../helpers/cli.js';
import { client, DOMAIN, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

const ROOT = join(import.meta.dirname, '../..');
const run = Math.random().toString(36).slice(2, 8);
const B = { acl: `edges-acl-${run}`, policy: `edges-policy-${run}`, pub: `edges-pub-${run}` };
const GRANTS = [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }];
let ceph: CephInfo;
let direct: S3Client;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;

beforeAll(async () => {
  ceph = await ensureCeph();
  const cephA = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...cephA }, maxAttempts: 1 });
  for (const b of Object.values(B)) await direct.send(new CreateBucketCommand({ Bucket: b, ...(b === B.pub ? { ACL: 'public-read' } : {}) }));
  await direct.send(new PutBucketPolicyCommand({
    Bucket: B.policy,
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${B.policy}/*`] }] }),
  }));
  await direct.send(new PutObjectCommand({ Bucket: B.policy, Key: 'private-by-acl.txt', Body: 'policy says public' }));
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: GRANTS,
    upstreams: {
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: cephA },
      disk: { provider: 'local', path: tmpDir('s3gate-public-acl-') },
    },
    buckets: {
      media: { upstream: 'rgw', bucket: B.acl, domains: ['files.example.test'] },
      lmedia: { upstream: 'disk', domains: ['lfiles.example.test'] },
      lpub: { upstream: 'disk' },
      policy: { upstream: 'rgw', bucket: B.policy },
      pub: { upstream: 'rgw', bucket: B.pub },
      closed: { upstream: 'rgw', bucket: B.acl, public: 'none' },
      '*': { upstream: 'disk' },
    },
  });
  port = Number(new URL(gw.url).port);
  const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
  for (const b of ['lmedia', 'elsewhere']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  await s3.send(new CreateBucketCommand({ Bucket: 'lpub', ACL: 'public-read' }));
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

/** The seeds' flow with boto3 as the Cloud Temple guide writes it (SigV2, path-style), then anonymous GETs. */
function seedsFlow(endpoint: string, bucket: string, customDomain: string): Promise<Record<string, [number, string]>> {
  return runPython(`
import urllib.request, urllib.error
endpoint_url = '${endpoint}'
bucket_name = '${bucket}'
access_key, secret_key = '${GW_KEY.accessKeyId}', '${GW_KEY.secretAccessKey}'
s3 = boto3.client(
's3',
aws_access_key_id=access_key,
aws_secret_access_key=secret_key,
endpoint_url=endpoint_url,
config=Config(
region_name='us-east-1',
signature_version='s3',
s3={'addressing_style': 'path'}
)
)
def anon(url):
    try:
        r = urllib.request.urlopen(url)
        return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
out = {}
key = "users/dupont_claire.json"
s3.put_object(Bucket=bucket_name, Key=key, Body=b'{"name": "Claire"}', ContentType="application/json")
s3.put_object(Bucket=bucket_name, Key="users/neighbour.json", Body=b'{"name": "private"}', ContentType="application/json")
public_url = f"{endpoint_url.rstrip('/')}/{bucket_name}/{key}"
out['private'] = anon(public_url)
s3.put_object_acl(Bucket=bucket_name, Key=key, ACL="public-read")
out['after_acl'] = anon(public_url)
out['custom_domain'] = anon('http://${customDomain}:${port}/' + key)
result = s3.put_object(
Bucket=bucket_name,
Key="users/at_once.json",
Body=b'{"name": "at once"}',
ContentType="application/json",
ACL="public-read" # Make the object publicly readable
)
out['put_public'] = anon(f"{endpoint_url.rstrip('/')}/{bucket_name}/users/at_once.json")
out['neighbour'] = anon(f"{endpoint_url.rstrip('/')}/{bucket_name}/users/neighbour.json")
out['listing'] = anon(f"{endpoint_url.rstrip('/')}/{bucket_name}?list-type=2")
req = urllib.request.Request(f"{endpoint_url.rstrip('/')}/{bucket_name}/users/anon-write.json", data=b'x', method='PUT')
try:
    out['anon_put'] = [urllib.request.urlopen(req).status, '']
except urllib.error.HTTPError as e:
    out['anon_put'] = [e.code, e.read().decode()]
print(json.dumps(out))
`, {}, MODERN_PYTHON) as Promise<Record<string, [number, string]>>;
}

const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe.each([['RGW 16', 'media', 'files.example.test'], ['the local store', 'lmedia', 'lfiles.example.test']] as const)('the seeds\' public-URL flow against %s', (_n, bucket, customDomain) => {
  it('private, refused; put_object_acl public-read, readable (also on the custom domain); ACL on upload, readable at once; the neighbour stays private', async () => {
    const out = await seedsFlow(`http://${DOMAIN}:${port}`, bucket, customDomain);
    expect(out.private![0]).toBe(403);
    expect(code(out.private![1])).toBe('AccessDenied');
    expect(out.after_acl).toEqual([200, '{"name": "Claire"}']);
    expect(out.custom_domain).toEqual([200, '{"name": "Claire"}']);
    expect(out.put_public).toEqual([200, '{"name": "at once"}']);
    expect(out.neighbour![0]).toBe(403);
    // The bucket is private: its listing too, as the provider decides.
    expect(out.listing![0]).toBe(403);
    // Anonymous writes are refused by s3gate itself.
    expect(out.anon_put![0]).toBe(403);
    expect(code(out.anon_put![1])).toBe('AccessDenied');
  });
});

describe('a provider bucket policy that makes objects public', () => {
  it('a missing key in a bucket anyone may list: 404 NoSuchKey, as S3 and RGW answer; in a private bucket, 403', async () => {
    const anon = async (path: string) => {
      const r = await fetch(`${gw.url}${path}`);
      return [r.status, /<Code>([^<]*)<\/Code>/.exec(await r.text())?.[1]];
    };
    const rgwDirect = await fetch(`${ceph.endpoint}/${B.pub}/gone.txt`);
    expect([rgwDirect.status, /<Code>([^<]*)<\/Code>/.exec(await rgwDirect.text())?.[1]]).toEqual([404, 'NoSuchKey']);
    // The local store gave 403 here: it asked only the (missing) object's ACL.
    expect([await anon('/pub/gone.txt'), await anon('/lpub/gone.txt'), await anon('/lmedia/gone.txt')])
      .toEqual([[404, 'NoSuchKey'], [404, 'NoSuchKey'], [403, 'AccessDenied']]);
  });

  it('a private object in a bucket whose RGW policy grants public GetObject is readable anonymously through s3gate, as directly', async () => {
    const directly = await fetch(`${ceph.endpoint}/${B.policy}/private-by-acl.txt`);
    expect(directly.status).toBe(200);
    const via = await fetch(`${gw.url}/policy/private-by-acl.txt`);
    expect(via.status).toBe(200);
    expect(await via.text()).toBe('policy says public');
  });
});

describe('where s3gate refuses anonymous requests itself', () => {
  it('public: none refuses even an object the provider would serve', async () => {
    await client(gw.url, GW_KEY, { forcePathStyle: true }).send(new PutObjectCommand({ Bucket: 'media', Key: 'open.txt', Body: 'open', ACL: 'public-read' }));
    expect((await fetch(`${gw.url}/media/open.txt`)).status).toBe(200);
    const r = await fetch(`${gw.url}/closed/open.txt`);
    expect(r.status).toBe(403);
    expect(code(await r.text())).toBe('AccessDenied');
  });

  it('the "*" route refuses anonymous requests unless it says public: acl', async () => {
    await client(gw.url, GW_KEY, { forcePathStyle: true }).send(new PutObjectCommand({ Bucket: 'elsewhere', Key: 'open.txt', Body: 'open', ACL: 'public-read' }));
    expect((await fetch(`${gw.url}/elsewhere/open.txt`)).status).toBe(403);
  });

  it('anonymous ListBuckets is refused', async () => {
    expect((await fetch(`${gw.url}/`)).status).toBe(403);
  });
});

describe('the default proxy.yaml', () => {
  it('says public: acl on its "*" local store, so the seeds\' flow works on npm start', async () => {
    const dir = tmpDir('s3gate-default-acl-');
    writeFileSync(join(dir, 'proxy.yaml'), readFileSync(join(ROOT, 'proxy.yaml')));
    const cli = await startCli(['--config', join(dir, 'proxy.yaml'), '--listen', '127.0.0.1:0'], { cwd: dir });
    try {
      const s3 = new S3Client({ endpoint: `http://localhost:${cli.port}`, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
        credentials: { accessKeyId: 'S3GATEDEMOKEY', secretAccessKey: 's3gate-demo-secret-change-me' } });
      await s3.send(new CreateBucketCommand({ Bucket: 'demo' }));
      await s3.send(new PutObjectCommand({ Bucket: 'demo', Key: 'public.txt', Body: 'hello', ACL: 'public-read' }));
      await s3.send(new PutObjectCommand({ Bucket: 'demo', Key: 'private.txt', Body: 'secret' }));
      const pub = await fetch(`http://localhost:${cli.port}/demo/public.txt`);
      expect([pub.status, await pub.text()]).toEqual([200, 'hello']);
      expect((await fetch(`http://localhost:${cli.port}/demo/private.txt`)).status).toBe(403);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});
