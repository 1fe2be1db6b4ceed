// A key that may list a whole bucket but delete only under `pub/`, as an IAM policy gives at S3.
// S3 answers a DeleteObjects naming keys outside that with an AccessDenied entry per such key and
// deletes the rest; `aws s3 rm --recursive` over the whole bucket then removes what it may and
// reports the others. s3gate answers the same, and the provider never sees the keys it refused.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, GW_KEY, GW_KEY_LIMITED, type startTestGateway } from '../helpers/gateway.js';
import { ALL_ACTIONS, rgwAndDiskGateway } from './rgw-and-disk.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { awsCli } from '../sts/helpers.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let admin: S3Client;
let limited: S3Client;
const run = randomBytes(4).toString('hex');
const rgwBucket = `delg-${run}`;
const BUCKETS = [['RGW 16 (linode)', rgwBucket], ['the local store', 'disk']] as const;

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await rgwAndDiskGateway(ceph, 'delete-grants', [
    ALL_ACTIONS,
    { ...GW_KEY_LIMITED, allow: [{ bucket: '*', actions: ['read', 'write', 'list'] }, { bucket: '*', prefix: 'pub/', actions: ['delete'] }] },
  ]);
  admin = client(gw.url, GW_KEY, { forcePathStyle: true });
  limited = client(gw.url, GW_KEY_LIMITED, { forcePathStyle: true });
  for (const [, b] of BUCKETS) await admin.send(new CreateBucketCommand({ Bucket: b }));
}, 10 * 60_000);

afterAll(async () => {
  admin?.destroy();
  limited?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

async function seed(bucket: string, keys: string[]): Promise<void> {
  for (const Key of keys) await admin.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
}

async function keysOf(bucket: string, Prefix: string): Promise<string[]> {
  const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

describe.each(BUCKETS)('DeleteObjects beyond a prefix delete grant, into %s', { timeout: 120_000 }, (_name, bucket) => {
  it('the JS SDK: the keys inside are Deleted, each outside an AccessDenied entry, and stays', async () => {
    await seed(bucket, ['js/pub/a', 'pub/js-1', 'pub/js 2+ü', 'keep/js-1']);
    const r = await limited.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'pub/js-1' }, { Key: 'keep/js-1' }, { Key: 'pub/js 2+ü' }, { Key: 'js/pub/a' }] } }));
    expect((r.Deleted ?? []).map((d) => d.Key).sort()).toEqual(['pub/js 2+ü', 'pub/js-1']);
    expect((r.Errors ?? []).map((e) => [e.Key, e.Code]).sort()).toEqual([['js/pub/a', 'AccessDenied'], ['keep/js-1', 'AccessDenied']]);
    expect(await keysOf(bucket, 'pub/js')).toEqual([]);
    expect(await keysOf(bucket, 'keep/js')).toEqual(['keep/js-1']);
    expect(await keysOf(bucket, 'js/')).toEqual(['js/pub/a']);
  });

  it('the JS SDK, every key outside: a 200 of AccessDenied entries, nothing deleted', async () => {
    await seed(bucket, ['keep/none-1', 'keep/none-2']);
    const r = await limited.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: [{ Key: 'keep/none-1' }, { Key: 'keep/none-2' }] } }));
    expect(r.Deleted ?? []).toEqual([]);
    expect((r.Errors ?? []).map((e) => [e.Key, e.Code, e.Message])).toEqual([['keep/none-1', 'AccessDenied', 'Access Denied'], ['keep/none-2', 'AccessDenied', 'Access Denied']]);
    expect(await keysOf(bucket, 'keep/none')).toEqual(['keep/none-1', 'keep/none-2']);
  });

  it('boto3 delete_objects with its default checksums', async () => {
    await seed(bucket, ['pub/py-1', 'keep/py-1']);
    const out = await runPython(`
s3 = boto3.client('s3', endpoint_url=os.environ['EP'], aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'],
    region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
r = s3.delete_objects(Bucket='${bucket}', Delete={'Objects': [{'Key': 'pub/py-1'}, {'Key': 'keep/py-1'}]})
print(json.dumps({'deleted': [d['Key'] for d in r.get('Deleted', [])], 'errors': [[e['Key'], e['Code']] for e in r.get('Errors', [])]}))
`, { EP: gw.url, AK: GW_KEY_LIMITED.accessKeyId, SK: GW_KEY_LIMITED.secretAccessKey }, MODERN_PYTHON) as { deleted: string[]; errors: string[][] };
    expect(out).toEqual({ deleted: ['pub/py-1'], errors: [['keep/py-1', 'AccessDenied']] });
    expect(await keysOf(bucket, 'keep/py')).toEqual(['keep/py-1']);
  });

  it('aws s3 rm --recursive over the whole bucket removes what the key may delete and reports the rest', async () => {
    const prefix = `cli-${bucket === 'disk' ? 'd' : 'r'}`;
    await seed(bucket, ['pub/cli-1', 'pub/cli-2', `${prefix}/keep-1`]);
    const r = await awsCli(['s3', 'rm', `s3://${bucket}/`, '--recursive', '--endpoint-url', gw.url],
      { AWS_ACCESS_KEY_ID: GW_KEY_LIMITED.accessKeyId, AWS_SECRET_ACCESS_KEY: GW_KEY_LIMITED.secretAccessKey });
    expect(r.code).toBe(1);
    expect(String(r.out)).toContain(`delete: s3://${bucket}/pub/cli-1`);
    expect(r.stderr).toMatch(new RegExp(`delete failed: s3://${bucket}/${prefix}/keep-1 .*AccessDenied`));
    expect(await keysOf(bucket, 'pub/')).toEqual([]);
    expect(await keysOf(bucket, `${prefix}/`)).toEqual([`${prefix}/keep-1`]);
  });
});
