// A header value with bytes over 0x7F, as botocore sends x-amz-meta-* holding UTF-8 (ceph's
// s3-tests test_object_set_get_unicode_metadata). Node reads a header value as latin1, one char per
// byte; s3gate hashed its canonical request as UTF-8, so `é` (C3 A9 on the wire) was hashed as
// C3 83 C2 A9 and every such request answered SignatureDoesNotMatch, where RGW 16 stores it. Now
// the signature covers the bytes that came, in SigV4 and SigV2, both ways: RGW verifies what s3gate
// re-signs, in V4 (linode) and in V2 (dell-ecs data operations).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
const run = randomBytes(4).toString('hex');
const VALUE = 'café 日本 Hello World\u00e9';

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await startTestGateway({
    domains: ['127.0.0.1'],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      linode: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      ecs: { provider: 'dell-ecs', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
      disk: { provider: 'local', path: tmpDir('s3gate-nonascii-') },
    },
    buckets: { [`na-ecs-${run}`]: { upstream: 'ecs' }, [`na-linode-${run}`]: { upstream: 'linode' }, '*': { upstream: 'disk' } },
  });
}, 10 * 60_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

/** boto3 puts an object with the value in x-amz-meta-note (as s3-tests sets it) and reads the header's bytes back as UTF-8. */
function roundTrip(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string, sig: string): Promise<unknown> {
  return runPython(`
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(signature_version='${sig}', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try: s3.create_bucket(Bucket='${bucket}')
except ClientError as e: pass
s3.meta.events.register('before-call.s3.PutObject', lambda **kw: kw['params']['headers'].update({'x-amz-meta-note': os.environ['VALUE'], 'content-disposition': 'attachment; filename="' + os.environ['VALUE'] + '"'}))
try:
    s3.put_object(Bucket='${bucket}', Key='k-${sig}', Body=b'x')
except ClientError as e:
    print(json.dumps({'error': e.response['Error']['Code']})); raise SystemExit
got = s3.get_object(Bucket='${bucket}', Key='k-${sig}')['ResponseMetadata']['HTTPHeaders']
head = s3.head_object(Bucket='${bucket}', Key='k-${sig}')['ResponseMetadata']['HTTPHeaders']
text = lambda v: v.encode('latin1').decode('utf8', 'replace')
print(json.dumps({'note': text(got['x-amz-meta-note']), 'disposition': text(got['content-disposition']), 'head': text(head['content-disposition'])}))
`, { EP: endpoint, AK: creds.accessKeyId, SK: creds.secretAccessKey, VALUE }, MODERN_PYTHON);
}

describe('UTF-8 in a signed header value, through s3gate', { timeout: 120_000 }, () => {
  it.each([['SigV4', 's3v4'], ['SigV2', 's3']])('%s: stored and read back byte for byte, as RGW 16 does directly; into RGW re-signed V4 and V2, and the local store', async (_n, sig) => {
    const direct = await roundTrip(ceph.endpoint, ceph.users.a, `na-direct-${run}`, sig);
    const stored = { note: VALUE, disposition: `attachment; filename="${VALUE}"`, head: `attachment; filename="${VALUE}"` };
    expect(direct).toEqual(stored);
    for (const bucket of [`na-linode-${run}`, `na-ecs-${run}`, `na-local-${run}`]) {
      expect(await roundTrip(gw.url, GW_KEY, bucket, sig), bucket).toEqual(stored);
    }
  });
});

/**
 * boto3 copies with x-amz-copy-source replaced by the source as the Ruby SDK sends a `copy_source`
 * string (and aws-sdk-go v1, s3cmd's older releases): the key's UTF-8 unescaped. s3gate read those
 * bytes as latin1 and looked for `Ã¼`: NoSuchKey, where RGW 16 copies the object.
 */
function rawCopy(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string, sig: string): Promise<unknown> {
  return runPython(`
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(signature_version='${sig}', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try: s3.create_bucket(Bucket='${bucket}')
except ClientError as e: pass
src = 'ü/' + os.environ['VALUE'] + '-${sig}'
s3.put_object(Bucket='${bucket}', Key=src, Body=b'the source')
s3.meta.events.register('before-call.s3.CopyObject', lambda **kw: kw['params']['headers'].update({'x-amz-copy-source': '${bucket}/' + src}))
try:
    s3.copy_object(Bucket='${bucket}', Key='copy-${sig}', CopySource={'Bucket': 'placeholder', 'Key': 'placeholder'})
except ClientError as e:
    print(json.dumps({'error': e.response['Error']['Code']})); raise SystemExit
print(json.dumps({'copied': s3.get_object(Bucket='${bucket}', Key='copy-${sig}')['Body'].read().decode()}))
`, { EP: endpoint, AK: creds.accessKeyId, SK: creds.secretAccessKey, VALUE }, MODERN_PYTHON);
}

describe('UTF-8 unescaped in x-amz-copy-source, through s3gate', { timeout: 120_000 }, () => {
  it.each([['SigV4', 's3v4'], ['SigV2', 's3']])('%s: the object named by those bytes is copied, as RGW 16 copies it directly; into RGW re-signed V4 and V2, and the local store', async (_n, sig) => {
    expect(await rawCopy(ceph.endpoint, ceph.users.a, `na-direct-${run}`, sig)).toEqual({ copied: 'the source' });
    for (const bucket of [`na-linode-${run}`, `na-ecs-${run}`, `na-local-${run}`]) {
      expect(await rawCopy(gw.url, GW_KEY, bucket, sig), bucket).toEqual({ copied: 'the source' });
    }
  });
});

/**
 * x-amz-tagging as the Ruby SDK sends its `tagging: "k=ü"` string: a query string whose text beyond
 * ASCII is unescaped UTF-8. RGW 16 reads the tag `k=ü`; the local store read `k=Ã¼`.
 */
function rawTagging(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string): Promise<unknown> {
  return runPython(`
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try: s3.create_bucket(Bucket='${bucket}')
except ClientError as e: pass
s3.meta.events.register('before-call.s3.PutObject', lambda **kw: kw['params']['headers'].update({'x-amz-tagging': 'k=ü日本&plain=a%20b'}))
s3.put_object(Bucket='${bucket}', Key='tagged', Body=b'x')
print(json.dumps({'tags': sorted([t['Key'] + '=' + t['Value'] for t in s3.get_object_tagging(Bucket='${bucket}', Key='tagged')['TagSet']])}))
`, { EP: endpoint, AK: creds.accessKeyId, SK: creds.secretAccessKey }, MODERN_PYTHON);
}

describe('UTF-8 unescaped in x-amz-tagging, through s3gate', { timeout: 120_000 }, () => {
  it('the tags those bytes name, as RGW 16 reads them directly; into RGW re-signed V4 and V2, and the local store', async () => {
    const tags = { tags: ['k=ü日本', 'plain=a b'] };
    expect(await rawTagging(ceph.endpoint, ceph.users.a, `na-direct-${run}`)).toEqual(tags);
    for (const bucket of [`na-linode-${run}`, `na-ecs-${run}`, `na-local-${run}`]) {
      expect(await rawTagging(gw.url, GW_KEY, bucket), bucket).toEqual(tags);
    }
  });
});

/** A presigned GET asking for a Content-Disposition and a Content-Type holding UTF-8 (response-* overrides), read as bytes. */
function askedHeaders(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, bucket: string): Promise<unknown> {
  return runPython(`
import urllib.request
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try: s3.create_bucket(Bucket='${bucket}')
except ClientError as e: pass
s3.put_object(Bucket='${bucket}', Key='asked', Body=b'x')
url = s3.generate_presigned_url('get_object', Params={'Bucket': '${bucket}', 'Key': 'asked', 'ResponseContentDisposition': 'attachment; filename="' + os.environ['VALUE'] + '.pdf"', 'ResponseContentType': 'text/plain; name=' + os.environ['VALUE']})
try:
    r = urllib.request.urlopen(url)
except urllib.error.HTTPError as e:
    print(json.dumps({'status': e.code})); raise SystemExit
text = lambda v: v.encode('latin1').decode('utf8', 'replace')
print(json.dumps({'status': r.status, 'disposition': text(r.headers['content-disposition']), 'type': text(r.headers['content-type'])}))
`, { EP: endpoint, AK: creds.accessKeyId, SK: creds.secretAccessKey, VALUE }, MODERN_PYTHON);
}

describe('response-content-disposition and response-content-type holding UTF-8, through s3gate', { timeout: 120_000 }, () => {
  it('answered with those bytes, as RGW 16 answers them directly; the local store sent é as one byte and answered 日本 with a 500', async () => {
    const want = { status: 200, disposition: `attachment; filename="${VALUE}.pdf"`, type: `text/plain; name=${VALUE}` };
    expect(await askedHeaders(ceph.endpoint, ceph.users.a, `na-direct-${run}`)).toEqual(want);
    for (const bucket of [`na-linode-${run}`, `na-ecs-${run}`, `na-local-${run}`]) {
      expect(await askedHeaders(gw.url, GW_KEY, bucket), bucket).toEqual(want);
    }
  });
});
