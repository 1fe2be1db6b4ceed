// The users' own stories (../shared/seeds, quoted in the scripts below) as acceptance tests:
// their boto3 code, unmodified but for endpoint, keys and bucket names, with default settings,
// pointed at s3gate's HTTPS listener. Run in front of a real Ceph RGW 16 and of the local store;
// seed 002 (Dell ECS) in front of the ECS-like strict upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { ensureCeph } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls.js';
import { boto3Version, MODERN_PYTHON, runPython } from '../helpers/python.js';

const cert = selfSignedCert([DOMAIN, `*.${DOMAIN}`]);
const run = Math.random().toString(36).slice(2, 8);
let ecs: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let endpoint: string;

beforeAll(async () => {
  const ceph = await ensureCeph();
  const creds = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  const direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...creds }, maxAttempts: 1 });
  await direct.send(new CreateBucketCommand({ Bucket: `seeds-ceph-${run}` }));
  ecs = await startStrictUpstream({ ...UP_KEY, region: 'fr1', mode: 'ecs-like' });
  await ecs.store.handle({ method: 'PUT', bucket: 'mon-bucket-test', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  gw = await startTestGateway({
    listen: [{ address: '127.0.0.1:0', tls: { cert: cert.cert, key: cert.key } }],
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      linode: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds },
      disk: { provider: 'local', path: tmpDir('s3gate-seeds-') },
      ecs: { provider: 'cloud-temple', endpoint: ecs.url, region: 'fr1', credentials: UP_KEY },
    },
    buckets: {
      'example-bucket': { upstream: 'linode', bucket: `seeds-ceph-${run}` },
      'local-bucket': { upstream: 'disk' },
      'mon-bucket-test': { upstream: 'ecs' },
    },
  });
  endpoint = `https://${DOMAIN}:${portOf(gw.url)}`;
  await runPython(`
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'], region_name='us-east-1')
s3.create_bucket(Bucket='local-bucket')
print('null')`, env(), MODERN_PYTHON);
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await ecs?.close();
  await removeCephBuckets(await ensureCeph(), (name) => name.endsWith(run));
}, 60_000);

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey, EP: endpoint, AWS_CA_BUNDLE: cert.cert, ...extra };
}

describe(`seeds with boto3 ${boto3Version()} (default settings)`, () => {
  it.each(['example-bucket', 'local-bucket'])('000: put_object, upload_file, get, download, presign, delete, list on %s — no when_required', async (bucket) => {
    const out = await runPython(`
import urllib.request, ssl, tempfile
ACCESS_KEY = os.environ['AK']; SECRET_KEY = os.environ['SK']
s3_client = boto3.client("s3", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, endpoint_url=os.environ['EP'])
s3_client.put_object(Bucket="${bucket}", Key="greeting.txt", Body=b"Hello world!")
d = tempfile.mkdtemp(); f = os.path.join(d, "greeting.txt")
open(f, "wb").write(b"Hello from a file!" * 1000)
s3_client.upload_file(Filename=f, Bucket="${bucket}", Key="greeting.txt")
got = s3_client.get_object(Bucket="${bucket}", Key="greeting.txt")["Body"].read()
s3_client.download_file(Bucket="${bucket}", Key="greeting.txt", Filename=f + ".back")
back = open(f + ".back", "rb").read()
url = s3_client.generate_presigned_url("get_object", Params={"Bucket": "${bucket}", "Key": "greeting.txt"})
ctx = ssl.create_default_context(cafile=os.environ['AWS_CA_BUNDLE'])
req = urllib.request.Request(url)
fetched = urllib.request.urlopen(req, context=ctx).read()
listed = [o["Key"] for o in s3_client.list_objects_v2(Bucket="${bucket}").get("Contents", [])]
s3_client.delete_object(Bucket="${bucket}", Key="greeting.txt")
after = s3_client.list_objects_v2(Bucket="${bucket}").get("KeyCount")
print(json.dumps({"got": len(got), "back": back == got, "fetched": fetched == got, "listed": listed, "after": after}))
`, env(), MODERN_PYTHON);
    expect(out).toEqual({ got: 18000, back: true, fetched: true, listed: ['greeting.txt'], after: 0 });
  });

  it('001: boto3.resource upload with ContentType and ACL, file URL on the virtual-host name', async () => {
    const out = await runPython(`
import ssl, urllib.request
s3 = boto3.resource("s3", aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'])
AWS_BUCKET_NAME = "example-bucket"
key = "obj123/photo.jpg"
s3.Bucket(AWS_BUCKET_NAME).put_object(Key=key, Body=b"\\xff\\xd8 not really a jpeg", ContentType='image', ACL='public-read')
o = s3.Object(AWS_BUCKET_NAME, key)
print(json.dumps({"type": o.content_type, "len": o.content_length}))
`, env(), MODERN_PYTHON);
    expect(out).toEqual({ type: 'image', len: 20 });
  });

  it('002: the Cloud Temple (Dell ECS) hybrid SigV2/SigV4 clients, and a single default client, all work', async () => {
    const out = await runPython(`
bucket_name = 'mon-bucket-test'
config_v2 = Config(region_name='fr1', signature_version='s3', s3={'addressing_style': 'path'}, retries={'max_attempts': 3, 'mode': 'adaptive'})
client_data = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'], config=config_v2)
config_v4 = Config(region_name='fr1', signature_version='s3v4', s3={'addressing_style': 'path', 'payload_signing_enabled': False}, retries={'max_attempts': 3, 'mode': 'adaptive'})
client_metadata = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'], config=config_v4)
body_bytes = json.dumps({"id": 12345, "nom": "Dupont"}, indent=2).encode("utf-8")
key = "users/dupont_claire.json"
r = client_data.put_object(Bucket=bucket_name, Key=key, Body=body_bytes, ContentType="application/json")
content = client_data.get_object(Bucket=bucket_name, Key=key)['Body'].read().decode('utf-8')
keys = []
for page in client_metadata.get_paginator('list_objects_v2').paginate(Bucket=bucket_name):
    keys += [o['Key'] for o in page.get('Contents', [])]
head = client_metadata.head_object(Bucket=bucket_name, Key=key)['ContentLength']
plain = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'])
plain.put_object(Bucket=bucket_name, Key="users/default.json", Body=b"{}")
d = client_data.delete_object(Bucket=bucket_name, Key=key)['ResponseMetadata']['HTTPStatusCode']
print(json.dumps({"put": r['ResponseMetadata']['HTTPStatusCode'], "content": json.loads(content)["id"], "keys": keys, "head": head, "del": d}))
`, env({ AWS_REGION: 'fr1' }), MODERN_PYTHON);
    expect(out).toEqual({ put: 200, content: 12345, keys: ['users/dupont_claire.json'], head: 36, del: 204 });
    const ops = ecs.requests.filter((r) => r.status < 300).map((r) => `${r.operation}:${r.auth}`);
    expect(ops).toEqual(expect.arrayContaining(['PutObject:v2-header', 'GetObject:v2-header', 'ListObjectsV2:v4-header', 'HeadObject:v4-header', 'DeleteObject:v2-header']));
  });

  it('003: presigned get_object and put_object URLs, default and s3v4, work with plain HTTP', async () => {
    const out = await runPython(`
import ssl, urllib.request
ctx = ssl.create_default_context(cafile=os.environ['AWS_CA_BUNDLE'])
res = {}
for name, cfg in [("default", None), ("s3v4", Config(signature_version="s3v4"))]:
    kw = {"config": cfg} if cfg else {}
    s3 = boto3.client('s3', region_name='us-east-1', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'], **kw)
    put = s3.generate_presigned_url(ClientMethod='put_object', Params={'Bucket': 'example-bucket', 'Key': 'new-object-' + name}, ExpiresIn=3600)
    urllib.request.urlopen(urllib.request.Request(put, data=b"uploaded by " + name.encode(), method="PUT"), context=ctx).read()
    get = s3.generate_presigned_url(ClientMethod='get_object', Params={'Bucket': 'example-bucket', 'Key': 'new-object-' + name}, ExpiresIn=3600)
    res[name] = urllib.request.urlopen(get, context=ctx).read().decode()
print(json.dumps(res))
`, env(), MODERN_PYTHON);
    expect(out).toEqual({ default: 'uploaded by default', s3v4: 'uploaded by s3v4' });
  });
});
