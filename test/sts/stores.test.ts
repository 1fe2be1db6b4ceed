// The proof of issue #23 against real stores: boto3, the JS SDK and the AWS CLI assume a role on
// s3gate, then use the session on a bucket served by Ceph RGW 16 and one served by the local
// store. Allowed calls work, the rest is AccessDenied, with and without a session policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { ensureCeph } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { client, failure, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { testRequestHandler } from '../upstream/resolve.js';
import { assume, awsCli, BOTO_S3, s3, SEAL_K1 } from './helpers.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
const run = Math.random().toString(36).slice(2, 8);
const ROLE = 'arn:aws:iam::000000000000:role/app';

beforeAll(async () => {
  const ceph = await ensureCeph();
  const creds = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: creds },
      disk: { provider: 'local', path: tmpDir('s3gate-sts-stores-') },
    },
    buckets: { rgw: { upstream: 'rgw', bucket: `sts-rgw-${run}` }, local: { upstream: 'disk' } },
    roles: {
      app: {
        assumableBy: [GW_KEY.accessKeyId],
        allow: [{ bucket: 'rgw', prefix: 'app/', actions: ['read', 'write', 'list'] }, { bucket: 'local', prefix: 'app/', actions: ['read', 'write', 'list'] }],
      },
    },
    sts: { sealingKeys: [SEAL_K1] },
  });
  const direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  await direct.send(new CreateBucketCommand({ Bucket: `sts-rgw-${run}` }));
  await client(gw.url, GW_KEY, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'local' }));
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(await ensureCeph(), (name) => name.endsWith(run));
}, 60_000);

describe.each(['rgw', 'local'])('temporary credentials on the %s bucket', (bucket) => {
  it('boto3: the role, then a session policy narrowed to one prefix', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${bucket}/app/only/*` }] });
    const out = await runPython(`
EP = ${JSON.stringify(gw.url)}
B = ${JSON.stringify(bucket)}
${BOTO_S3}
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=${JSON.stringify(GW_KEY.accessKeyId)}, aws_secret_access_key=${JSON.stringify(GW_KEY.secretAccessKey)})
x = s3_for(s.assume_role(RoleArn=${JSON.stringify(ROLE)}, RoleSessionName='boto')['Credentials'])
y = s3_for(s.assume_role(RoleArn=${JSON.stringify(ROLE)}, RoleSessionName='boto-narrow', Policy=${JSON.stringify(policy)})['Credentials'])
print(json.dumps({
  'put': code(lambda: x.put_object(Bucket=B, Key='app/a.txt', Body=b'a')),
  'get': code(lambda: x.get_object(Bucket=B, Key='app/a.txt')['Body'].read()),
  'list': code(lambda: x.list_objects_v2(Bucket=B, Prefix='app/')),
  'outside': code(lambda: x.put_object(Bucket=B, Key='root.txt', Body=b'a')),
  'delete': code(lambda: x.delete_object(Bucket=B, Key='app/a.txt')),
  'narrowPut': code(lambda: y.put_object(Bucket=B, Key='app/only/b.txt', Body=b'b')),
  'narrowOther': code(lambda: y.put_object(Bucket=B, Key='app/c.txt', Body=b'c')),
  'narrowList': code(lambda: y.list_objects_v2(Bucket=B, Prefix='app/')),
}))
`, {}, MODERN_PYTHON);
    expect(out).toEqual({ put: 'ok', get: 'ok', list: 'ok', outside: 'AccessDenied', delete: 'AccessDenied', narrowPut: 'ok', narrowOther: 'AccessDenied', narrowList: 'AccessDenied' });
  });

  it('the JS SDK: AssumeRole and fromTemporaryCredentials', async () => {
    const temp = await assume(gw.url, GW_KEY, { RoleArn: ROLE, RoleSessionName: 'js' });
    await s3(gw.url, temp).send(new PutObjectCommand({ Bucket: bucket, Key: 'app/js.txt', Body: 'js' }));
    expect((await failure(s3(gw.url, temp).send(new PutObjectCommand({ Bucket: bucket, Key: 'js.txt', Body: 'js' })))).name).toBe('AccessDenied');
    const viaProvider = new S3Client({
      endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, requestHandler: testRequestHandler(), maxAttempts: 1,
      credentials: fromTemporaryCredentials({
        masterCredentials: { ...GW_KEY },
        params: { RoleArn: ROLE, RoleSessionName: 'provider', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/app/*` }] }) },
        clientConfig: { endpoint: gw.url, region: 'us-east-1', requestHandler: testRequestHandler() },
      }),
    });
    expect(await (await viaProvider.send(new GetObjectCommand({ Bucket: bucket, Key: 'app/js.txt' }))).Body!.transformToString()).toBe('js');
    expect((await failure(viaProvider.send(new PutObjectCommand({ Bucket: bucket, Key: 'app/x.txt', Body: 'x' })))).name).toBe('AccessDenied');
  });

  it('the AWS CLI: aws sts assume-role, then aws s3api', async () => {
    const assumed = await awsCli(['sts', 'assume-role', '--endpoint-url', gw.url, '--role-arn', ROLE, '--role-session-name', 'cli'], {
      AWS_ACCESS_KEY_ID: GW_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: GW_KEY.secretAccessKey,
    });
    expect(assumed.stderr).toBe('');
    const c = (assumed.out as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string } }).Credentials;
    const env = { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken };
    const put = await awsCli(['s3api', 'put-object', '--endpoint-url', gw.url, '--bucket', bucket, '--key', 'app/cli.txt', '--body', '/etc/hostname'], env);
    expect(put.stderr).toBe('');
    const got = await awsCli(['s3api', 'head-object', '--endpoint-url', gw.url, '--bucket', bucket, '--key', 'app/cli.txt'], env);
    expect(got.code).toBe(0);
    const denied = await awsCli(['s3api', 'delete-object', '--endpoint-url', gw.url, '--bucket', bucket, '--key', 'app/cli.txt'], env);
    expect(denied.stderr).toContain('AccessDenied');
  });
});
