// A key whose percent-encoded bytes are not UTF-8 names no key S3 could store: S3 answers 400
// InvalidURI ("Couldn't parse the specified URI.", as s3-tests' test_object_read_unreadable pins),
// RGW 16 400 InvalidObjectName. s3gate used to decode such a path leniently and store another key
// (`a%FFb` became the key `a%FFb`, sent on as `a%25FFb`), on the local store and on providers.
// Now it refuses before anything is forwarded or stored, whatever is behind it (#20).
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { client, DOMAIN, failure, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let up: StrictUpstream;
let ceph: CephInfo;
let s3: S3Client;
let bytes: S3Client;
let endpoint: string;
const run = Math.random().toString(36).slice(2, 8);
const buckets = { local: `badkey-local-${run}`, strict: `badkey-strict-${run}`, rgw: `badkey-rgw-${run}` };

beforeAll(async () => {
  ceph = await ensureCeph();
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      disk: { provider: 'local', path: tmpDir('s3gate-badkey-') },
      strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
      rgw: { provider: 'ceph', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
    },
    buckets: { [buckets.strict]: { upstream: 'strict' }, [buckets.rgw]: { upstream: 'rgw' }, '*': { upstream: 'disk' } },
  });
  endpoint = `http://${DOMAIN}:${portOf(gw.url)}`;
  s3 = client(endpoint, GW_KEY, { forcePathStyle: true });
  // The SDK percent-encodes a key's UTF-8, so no string key can carry a lone byte: the path is
  // changed before the SDK signs it, as a client holding raw bytes would send it.
  bytes = client(endpoint, GW_KEY, { forcePathStyle: true });
  bytes.middlewareStack.add(
    ((next: (a: { request: { path: string } }) => unknown) => (args: { request: { path: string } }) => {
      args.request.path = args.request.path.replace(/%25([89A-F][0-9A-F])/g, '%$1');
      return next(args);
    }) as never,
    { step: 'build', name: 'raw-bytes-in-path' },
  );
  await s3.send(new CreateBucketCommand({ Bucket: buckets.local }));
  await s3.send(new CreateBucketCommand({ Bucket: buckets.rgw }));
  await up.store.handle({ method: 'PUT', bucket: buckets.strict, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  bytes?.destroy();
  await gw?.close();
  await up?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

describe('a key that is not UTF-8 is 400 InvalidURI, and nothing is stored', () => {
  it.each(Object.entries(buckets))('%s: PUT and GET of keys holding bytes that are not UTF-8 (JS SDK)', async (_target, Bucket) => {
    const from = up.requests.length;
    for (const Key of ['a%FFb', 'x/%C3(', '%E2%82']) {
      const put = await failure(bytes.send(new PutObjectCommand({ Bucket, Key, Body: 'must not be stored' })));
      expect([put.name, put.$metadata.httpStatusCode, put.message]).toEqual(['InvalidURI', 400, "Couldn't parse the specified URI."]);
      const get = await failure(bytes.send(new GetObjectCommand({ Bucket, Key })));
      expect([get.name, get.$metadata.httpStatusCode]).toEqual(['InvalidURI', 400]);
    }
    expect(up.requests.length).toBe(from);
    expect((await s3.send(new ListObjectsV2Command({ Bucket }))).KeyCount).toBe(0);
  });

  it('boto3 with its default settings, the raw byte put in the URL before signing', async () => {
    const out = await runPython(`
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id='${GW_KEY.accessKeyId}', aws_secret_access_key='${GW_KEY.secretAccessKey}', region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
def raw_byte(request, **kw):
    request.url = request.url.replace('%25FF', '%FF')
s3.meta.events.register('before-sign.s3.PutObject', raw_byte)
try:
    s3.put_object(Bucket='${buckets.local}', Key='k%FF', Body=b'x')
    print(json.dumps('stored'))
except ClientError as e:
    print(json.dumps([e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error']['Code']]))
`, { EP: endpoint }, MODERN_PYTHON);
    expect(out).toEqual([400, 'InvalidURI']);
  });

  it('keys that are UTF-8 still pass, a stray % included', async () => {
    for (const Key of ['é😀', '100%', 'a%2Fb']) await s3.send(new PutObjectCommand({ Bucket: buckets.local, Key, Body: Key }));
    const r = await s3.send(new ListObjectsV2Command({ Bucket: buckets.local }));
    expect(r.Contents!.map((c) => c.Key)).toEqual(['100%', 'a%2Fb', 'é😀']);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: buckets.local, Key: '100%' }))).Body!.transformToString()).toBe('100%');
  });
});
