// AssumeRole on s3gate with real clients (boto3, the JS SDK, the AWS CLI) in front of the strict
// test upstream, and the token attacks of docs/security.md: each refused, none reaching the
// provider, the token never in a log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, DeleteObjectCommand, GetBucketLocationCommand, GetObjectCommand, GetObjectTaggingCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { request } from 'undici';
import { buildConfig } from '../../src/config/load.js';
import { deriveSealingKey, newCredentials, open, seal } from '../../src/sts/seal.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testRequestHandler, testUndiciAgent } from '../upstream/resolve.js';
import { afterSigning, client, failure, GW_KEY, GW_KEY_LIMITED, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { MODERN_PYTHON, PYTHON, runPython } from '../helpers/python.js';
import { assume, awsCli, BOTO_S3, s3, SEAL_K1, sts, type TempCreds } from './helpers.js';
import { tmpdir } from 'node:os';

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
const agent = testUndiciAgent();
const ROLE = 'arn:aws:iam::000000000000:role/uploader';
const ALL = ['read', 'write', 'list', 'delete', 'admin'];

function doc(roles: Record<string, unknown>) {
  return {
    region: 'us-east-1',
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ALL }] },
      { ...GW_KEY_LIMITED, allow: [{ bucket: 'media', actions: ['read'] }] },
    ],
    upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'eu-test-1', credentials: UP_KEY } },
    buckets: { media: { upstream: 'strict', bucket: 'media-up' }, other: { upstream: 'strict', bucket: 'other-up' } },
    roles,
    sts: { sealingKeys: [SEAL_K1] },
  };
}
const ROLES = {
  uploader: { assumableBy: [GW_KEY.accessKeyId], maxSessionDuration: 7200, allow: [{ bucket: 'media', prefix: 'uploads/', actions: ['read', 'write', 'list'] }] },
  reader: { assumableBy: [GW_KEY.accessKeyId], allow: [{ bucket: 'other', actions: ['read', 'list'] }] },
};

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'eu-test-1' });
  gw = await startTestGateway(doc(ROLES));
  const admin = client(gw.url, GW_KEY, { forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: 'media' }));
  await admin.send(new CreateBucketCommand({ Bucket: 'other' }));
  await admin.send(new PutObjectCommand({ Bucket: 'other', Key: 'kept.txt', Body: 'kept' }));
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

function noTokenUpstream(tokens: string[]): void {
  for (const r of upstream.requests) {
    expect(r.headers['x-amz-security-token']).toBeUndefined();
    for (const t of tokens) {
      expect(r.url).not.toContain(encodeURIComponent(t).slice(0, 40));
      expect(JSON.stringify(r.headers)).not.toContain(t.slice(10, 50));
    }
  }
  for (const t of tokens) expect(gw.sink.text()).not.toContain(t.slice(10, 50));
}

describe('boto3 sts.assume_role, then S3 with the returned credentials', () => {
  it('allows what the role grants and refuses the rest with AccessDenied (SigV4 and SigV2)', async () => {
    const out = await runPython(`
EP = ${JSON.stringify(gw.url)}
${BOTO_S3}
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=${JSON.stringify(GW_KEY.accessKeyId)}, aws_secret_access_key=${JSON.stringify(GW_KEY.secretAccessKey)})
r = s.assume_role(RoleArn=${JSON.stringify(ROLE)}, RoleSessionName='boto-session', DurationSeconds=1800)
c = r['Credentials']
res = {'arn': r['AssumedRoleUser']['Arn'], 'ak': c['AccessKeyId'], 'token': c['SessionToken']}
for sig in ['s3v4', 's3']:
    x = s3_for(c, sig)
    res[sig] = {
      'put': code(lambda: x.put_object(Bucket='media', Key='uploads/boto-' + sig + '.txt', Body=b'hello')),
      'get': code(lambda: x.get_object(Bucket='media', Key='uploads/boto-' + sig + '.txt')['Body'].read()),
      'list': code(lambda: x.list_objects_v2(Bucket='media', Prefix='uploads/')),
      'putOutside': code(lambda: x.put_object(Bucket='media', Key='elsewhere/x.txt', Body=b'no')),
      'otherBucket': code(lambda: x.get_object(Bucket='other', Key='kept.txt')),
      'delete': code(lambda: x.delete_object(Bucket='media', Key='uploads/boto-' + sig + '.txt')),
      'listAll': code(lambda: x.list_objects_v2(Bucket='media')),
    }
res['who'] = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken']).get_caller_identity()['Arn']
print(json.dumps(res))
`, {}, MODERN_PYTHON) as Record<string, unknown>;
    expect(out.arn).toBe('arn:aws:sts::000000000000:assumed-role/uploader/boto-session');
    expect(out.ak).toMatch(/^ASIA/);
    const expected = { put: 'ok', get: 'ok', list: 'ok', putOutside: 'AccessDenied', otherBucket: 'AccessDenied', delete: 'AccessDenied', listAll: 'AccessDenied' };
    expect(out.s3v4).toEqual(expected);
    expect(out.s3).toEqual(expected);
    expect(out.who).toBe('arn:aws:sts::000000000000:assumed-role/uploader/boto-session');
    noTokenUpstream([out.token as string]);
    // RoleSessionName in the access log and the metrics.
    const line = gw.sink.lines.find((l) => l.msg === 'request' && l.key === out.ak && l.op === 'PutObject');
    expect(line).toMatchObject({ role: 'uploader', session: 'boto-session', status: 200 });
    expect(gw.sink.lines.find((l) => l.msg === 'sts session issued' && l.session === 'boto-session')).toMatchObject({ role: 'uploader', key: GW_KEY.accessKeyId });
    const metrics = await gw.metrics.registry.metrics();
    expect(metrics).toMatch(/s3gate_sts_sessions_issued_total\{role="uploader",action="AssumeRole"\} \d+/);
    // Labelled by the role (bounded, the operator's), never by the client's RoleSessionName.
    expect(metrics).toMatch(/s3gate_requests_total\{operation="PutObject",status="200",upstream="strict",key="role:uploader"\} \d+/);
    expect(metrics).not.toContain('boto-session');
  });

  it('with a session policy narrowed to one prefix: the rest of the role is refused', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::media/uploads/alice/*' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::media', Condition: { StringLike: { 's3:prefix': 'uploads/alice/*' } } },
    ] });
    const out = await runPython(`
EP = ${JSON.stringify(gw.url)}
${BOTO_S3}
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=${JSON.stringify(GW_KEY.accessKeyId)}, aws_secret_access_key=${JSON.stringify(GW_KEY.secretAccessKey)})
c = s.assume_role(RoleArn=${JSON.stringify(ROLE)}, RoleSessionName='alice', Policy=${JSON.stringify(policy)})['Credentials']
x = s3_for(c)
print(json.dumps({
  'mine': code(lambda: x.put_object(Bucket='media', Key='uploads/alice/a.txt', Body=b'a')),
  'read': code(lambda: x.get_object(Bucket='media', Key='uploads/alice/a.txt')),
  'list': code(lambda: x.list_objects_v2(Bucket='media', Prefix='uploads/alice/')),
  'bobs': code(lambda: x.put_object(Bucket='media', Key='uploads/bob/a.txt', Body=b'b')),
  'listRole': code(lambda: x.list_objects_v2(Bucket='media', Prefix='uploads/')),
}))
`, {}, MODERN_PYTHON);
    expect(out).toEqual({ mine: 'ok', read: 'ok', list: 'ok', bobs: 'AccessDenied', listRole: 'AccessDenied' });
  });
});

describe('boto3 presigned URLs from temporary credentials', () => {
  it('SigV2 (botocore\'s default for custom endpoints) and SigV4 query auth carry the token and work', async () => {
    const out = await runPython(`
import urllib.request, urllib.error
EP = ${JSON.stringify(gw.url)}
${BOTO_S3}
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=${JSON.stringify(GW_KEY.accessKeyId)}, aws_secret_access_key=${JSON.stringify(GW_KEY.secretAccessKey)})
c = s.assume_role(RoleArn='arn:aws:iam::000000000000:role/reader', RoleSessionName='presign')['Credentials']
res = {}
for sig in ['s3', 's3v4']:
    url = s3_for(c, sig).generate_presigned_url('get_object', Params={'Bucket': 'other', 'Key': 'kept.txt'}, ExpiresIn=600)
    res[sig + 'Token'] = 'ecurity-token=' in url.lower() or 'security-token=' in url.lower()
    try:
        res[sig] = urllib.request.urlopen(url).read().decode()
    except urllib.error.HTTPError as e:
        res[sig] = e.read().decode()
print(json.dumps(res))
`, {}, MODERN_PYTHON);
    expect(out).toEqual({ s3Token: true, s3: 'kept', s3v4Token: true, s3v4: 'kept' });
  });
});

describe('a presigned STS request (Vault\'s AWS auth, aws-iam-authenticator)', () => {
  it('boto3 generate_presigned_url(\'get_caller_identity\', HttpMethod=\'GET\') (as aws eks get-token), then a GET: the caller\'s identity; other X-Amz-* parameters refused', async () => {
    const out = await runPython(`
import urllib.request, urllib.error
EP = ${JSON.stringify(gw.url)}
def fetch(url):
    try:
        return urllib.request.urlopen(url).read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=${JSON.stringify(GW_KEY.accessKeyId)}, aws_secret_access_key=${JSON.stringify(GW_KEY.secretAccessKey)})
c = s.assume_role(RoleArn=${JSON.stringify(ROLE)}, RoleSessionName='presigned-sts')['Credentials']
t = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])
print(json.dumps({
  'key': fetch(s.generate_presigned_url('get_caller_identity', ExpiresIn=60, HttpMethod='GET')),
  'session': fetch(t.generate_presigned_url('get_caller_identity', ExpiresIn=60, HttpMethod='GET')),
  'extra': fetch(s.generate_presigned_url('get_caller_identity', ExpiresIn=60, HttpMethod='GET') + '&X-Amz-Foo=1'),
}))
`, {}, MODERN_PYTHON) as Record<string, string>;
    expect(out.key).toContain(`<Arn>arn:aws:iam::000000000000:user/${GW_KEY.accessKeyId}</Arn>`);
    expect(out.session).toContain('<Arn>arn:aws:sts::000000000000:assumed-role/uploader/presigned-sts</Arn>');
    expect(out.extra).toContain('<Code>InvalidParameterValue</Code>');
    expect(out.extra).toContain('X-Amz-Foo');
  });
});

describe('the JS SDK', () => {
  it('AssumeRole, fromTemporaryCredentials, a presigned URL from temporary credentials', async () => {
    const temp = await assume(gw.url, GW_KEY, { RoleSessionName: 'js-sdk' });
    const x = s3(gw.url, temp);
    await x.send(new PutObjectCommand({ Bucket: 'media', Key: 'uploads/js.txt', Body: 'from js' }));
    expect(await (await x.send(new GetObjectCommand({ Bucket: 'media', Key: 'uploads/js.txt' }))).Body!.transformToString()).toBe('from js');
    expect((await failure(x.send(new DeleteObjectCommand({ Bucket: 'media', Key: 'uploads/js.txt' })))).name).toBe('AccessDenied');

    const provided = s3(gw.url, { accessKeyId: 'x', secretAccessKey: 'y' });
    const viaProvider = new (provided.constructor as typeof import('@aws-sdk/client-s3').S3Client)({
      endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, requestHandler: testRequestHandler(), maxAttempts: 1,
      credentials: fromTemporaryCredentials({
        masterCredentials: { ...GW_KEY },
        params: { RoleArn: ROLE, RoleSessionName: 'provider', DurationSeconds: 900 },
        clientConfig: { endpoint: gw.url, region: 'us-east-1', requestHandler: testRequestHandler() },
      }),
    });
    const listed = await viaProvider.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'uploads/' }));
    expect(listed.Contents?.map((c) => c.Key)).toContain('uploads/js.txt');
    expect((await failure(viaProvider.send(new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' })))).name).toBe('AccessDenied');

    const url = await getSignedUrl(x, new GetObjectCommand({ Bucket: 'media', Key: 'uploads/js.txt' }), { expiresIn: 600 });
    expect(url).toContain('X-Amz-Security-Token=');
    const r = await request(url, { dispatcher: agent });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('from js');
    const who = await sts(gw.url, temp).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe('arn:aws:sts::000000000000:assumed-role/uploader/js-sdk');
    noTokenUpstream([temp.sessionToken]);
  });
});

describe('the AWS CLI', () => {
  it('aws sts assume-role, then aws s3api with the session', async () => {
    const assumed = await awsCli(['sts', 'assume-role', '--endpoint-url', gw.url, '--role-arn', ROLE, '--role-session-name', 'cli', '--duration-seconds', '900'], {
      AWS_ACCESS_KEY_ID: GW_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: GW_KEY.secretAccessKey,
    });
    expect(assumed.stderr).toBe('');
    const c = (assumed.out as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string } }).Credentials;
    const env = { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken };
    const put = await awsCli(['s3api', 'put-object', '--endpoint-url', gw.url, '--bucket', 'media', '--key', 'uploads/cli.txt', '--body', '/etc/hostname'], env);
    expect(put.stderr).toBe('');
    const denied = await awsCli(['s3api', 'put-object', '--endpoint-url', gw.url, '--bucket', 'other', '--key', 'cli.txt', '--body', '/etc/hostname'], env);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('AccessDenied');
  });
});

describe('STS errors', () => {
  it('answers in STS\'s error documents: duration bounds, unknown role, a key not allowed, malformed policy', async () => {
    const c = sts(gw.url, GW_KEY);
    const err = async (input: Record<string, unknown>, creds = GW_KEY) =>
      (await failure(sts(gw.url, creds).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'err-test', ...input })))) as unknown as { name: string; message: string; $metadata: { httpStatusCode: number } };
    const short = await err({ DurationSeconds: 899 });
    expect([short.name, short.$metadata.httpStatusCode]).toEqual(['ValidationError', 400]);
    expect((await err({ DurationSeconds: 7201 })).message).toContain('MaxSessionDuration');
    expect((await err({ RoleArn: 'arn:aws:iam::000000000000:role/nope' })).name).toBe('AccessDenied');
    const notAllowed = await err({}, GW_KEY_LIMITED);
    expect([notAllowed.name, notAllowed.$metadata.httpStatusCode]).toEqual(['AccessDenied', 403]);
    const deny = await err({ Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:*', Resource: '*' }] }) });
    expect(deny.name).toBe('MalformedPolicyDocumentException');
    expect((await err({ Policy: '{not json' })).name).toBe('MalformedPolicyDocumentException');
    const long = await err({ Policy: JSON.stringify({ Statement: [{ Sid: 'x'.repeat(2100), Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }) });
    expect(long.name).toBe('ValidationError');
    expect(long.message).toContain('Member must have length less than or equal to 2048');
    expect(long.message).not.toContain('null');
    const upper = await err({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::Media/*' }] }) });
    expect(upper.message).toContain('"Media" is not a valid bucket name');
    expect((await err({ PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnly' }] })).name).toBe('MalformedPolicyDocumentException');
    // docs/sts.md, Clients: a CLI profile's external_id or mfa_serial is refused, never ignored.
    for (const extra of [{ ExternalId: 'ext-1' }, { SerialNumber: 'arn:aws:iam::000000000000:mfa/me', TokenCode: '123456' }, { SourceIdentity: 'me' }, { Tags: [{ Key: 'a', Value: 'b' }] }]) {
      const e = await err(extra);
      expect([e.name, e.message], JSON.stringify(extra)).toEqual(['InvalidParameterValue', `The parameter ${Object.keys(extra)[0]} is not supported by s3gate.`]);
    }
    const badSig = await failure(sts(gw.url, { ...GW_KEY, secretAccessKey: 'wrong-secret-abcdefghijklmnopqrstuvwxyz' }).send(new GetCallerIdentityCommand({})));
    expect(badSig.name).toBe('SignatureDoesNotMatch');
    expect((await failure(sts(gw.url, { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'x' }).send(new GetCallerIdentityCommand({})))).name).toBe('InvalidClientTokenId');
    expect((await c.send(new GetCallerIdentityCommand({}))).Arn).toBe(`arn:aws:iam::000000000000:user/${GW_KEY.accessKeyId}`);
  });
});

describe('token attacks (docs/security.md)', () => {
  let a: TempCreds;
  let b: TempCreds;
  beforeAll(async () => {
    a = await assume(gw.url, GW_KEY, { RoleSessionName: 'attack-a' });
    b = await assume(gw.url, GW_KEY, { RoleArn: 'arn:aws:iam::000000000000:role/reader', RoleSessionName: 'attack-b' });
  });
  const get = (c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, bucket = 'other', key = 'kept.txt') =>
    s3(gw.url, c).send(new GetObjectCommand({ Bucket: bucket, Key: key }));

  it('token swap: another session\'s token with this session\'s key is InvalidToken', async () => {
    expect(await (await get(b)).Body!.transformToString()).toBe('kept');
    const e = await failure(get({ ...a, sessionToken: b.sessionToken }));
    expect(e.name).toBe('InvalidToken');
    expect((await failure(get({ ...b, sessionToken: a.sessionToken }))).name).toBe('InvalidToken');
  });

  it('token on a long-term key is InvalidToken; a temporary key without its token is InvalidAccessKeyId', async () => {
    expect((await failure(get({ ...GW_KEY, sessionToken: b.sessionToken }))).name).toBe('InvalidToken');
    expect((await failure(get({ accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey }))).name).toBe('InvalidAccessKeyId');
  });

  it('the token must be signed in SigV4 header auth, and is refused in the query of a header-signed request', async () => {
    const unsigned = afterSigning(s3(gw.url, { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey }), (r) => { r.headers['x-amz-security-token'] = b.sessionToken; });
    const e = await failure(unsigned.send(new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' })));
    expect(e.name).toBe('AccessDenied');
    const inQuery = afterSigning(s3(gw.url, b), (r) => { r.query['X-Amz-Security-Token'] = b.sessionToken; delete r.headers['x-amz-security-token']; });
    expect((await failure(inQuery.send(new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' })))).name).toBe('AccessDenied');
  });

  it('tampered grants inside the token: any changed byte, a truncation, a token re-sealed with another key are InvalidToken', async () => {
    const t = b.sessionToken;
    const body = Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url');
    body[body.length >> 1]! ^= 0x20;
    const flipped = t.slice(0, t.lastIndexOf('.') + 1) + body.toString('base64url');
    expect((await failure(get({ ...b, sessionToken: flipped }))).name).toBe('InvalidToken');
    expect((await failure(get({ ...b, sessionToken: t.slice(0, -10) }))).name).toBe('InvalidToken');
    const now = Math.floor(Date.now() / 1000);
    const forged = seal({ v: 1, ak: b.accessKeyId, sk: b.secretAccessKey, iat: now, exp: now + 900, role: 'reader', rsn: 'x', src: 'x', allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] as never },
      deriveSealingKey('k1', 'an-attackers-own-secret-0123456789abcdef'));
    expect((await failure(get({ ...b, sessionToken: forged }))).name).toBe('InvalidToken');
  });

  it('expired token, presigned: the URL stops working when the session ends, whatever its X-Amz-Expires', async () => {
    const c = newCredentials();
    const then = Math.floor(Date.now() / 1000) - 7200;
    const expired = seal({ v: 1, ak: c.accessKeyId, sk: c.secretAccessKey, iat: then, exp: then + 3600, role: 'reader', rsn: 'old', src: GW_KEY.accessKeyId, allow: [{ bucket: 'other', actions: ['read', 'list'] }] },
      deriveSealingKey(SEAL_K1.id, SEAL_K1.secret));
    const url = await getSignedUrl(s3(gw.url, { ...c, sessionToken: expired }), new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' }), { expiresIn: 7 * 24 * 3600 });
    const r = await request(url, { dispatcher: agent });
    expect(r.statusCode).toBe(400);
    expect(await r.body.text()).toContain('<Code>ExpiredToken</Code>');
    expect((await failure(get({ ...c, sessionToken: expired }))).name).toBe('ExpiredToken');
  });

  it('policy widening: a session policy asking for more than the role gets no more than the role', async () => {
    const wide = await assume(gw.url, GW_KEY, { RoleSessionName: 'widen', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }) });
    expect((await failure(get(wide))).name).toBe('AccessDenied');
    expect((await failure(s3(gw.url, wide).send(new DeleteObjectCommand({ Bucket: 'media', Key: 'uploads/js.txt' })))).name).toBe('AccessDenied');
    await s3(gw.url, wide).send(new PutObjectCommand({ Bucket: 'media', Key: 'uploads/widen.txt', Body: 'w' }));
  });

  it('policy exactness: a session may do exactly the actions its policy allows, not the rest of their class', async () => {
    const reader = 'arn:aws:iam::000000000000:role/reader';
    const both = ['arn:aws:s3:::other', 'arn:aws:s3:::other/*'];
    const as = (name: string, Action: string | string[], Resource: string | string[] = both) =>
      assume(gw.url, GW_KEY, { RoleArn: reader, RoleSessionName: name, Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action, Resource }] }) });
    const listOnly = await as('list-only', 's3:List*');
    expect((await failure(get(listOnly))).name).toBe('AccessDenied');
    const listed = await s3(gw.url, listOnly).send(new ListObjectsV2Command({ Bucket: 'other' }));
    expect(listed.Contents?.map((c) => c.Key)).toContain('kept.txt');
    // s3:GetObject reads the object, and not its tags, though both are s3gate's read class.
    const getOnly = await as('get-only', 's3:GetObject', 'arn:aws:s3:::other/*');
    // Its grants are held to their actions, so a release that would read them as classes refuses the token.
    expect(open(getOnly.sessionToken, [deriveSealingKey(SEAL_K1.id, SEAL_K1.secret)]).v).toBe(2);
    expect(await (await s3(gw.url, getOnly).send(new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' }))).Body!.transformToString()).toBe('kept');
    expect((await failure(s3(gw.url, getOnly).send(new GetObjectTaggingCommand({ Bucket: 'other', Key: 'kept.txt' })))).name).toBe('AccessDenied');
    expect((await failure(s3(gw.url, getOnly).send(new ListObjectsV2Command({ Bucket: 'other' })))).name).toBe('AccessDenied');
    // A lesser action alone is the session's, and nothing more: AWS's own pattern for GetBucketLocation.
    const location = await as('location', ['s3:ListAllMyBuckets', 's3:GetBucketLocation'], 'arn:aws:s3:::*');
    expect((await s3(gw.url, location).send(new GetBucketLocationCommand({ Bucket: 'other' }))).$metadata.httpStatusCode).toBe(200);
    expect((await failure(get(location))).name).toBe('AccessDenied');
    const parts = await as('parts-only', 's3:ListMultipartUploadParts');
    expect((await failure(get(parts))).name).toBe('AccessDenied');
  });

  it('counts refused tokens by reason, and never logs a token', async () => {
    const metrics = await gw.metrics.registry.metrics();
    for (const reason of ['key-mismatch', 'forged', 'expired', 'unsigned']) expect(metrics).toMatch(new RegExp(`s3gate_sts_tokens_refused_total\\{reason="${reason}"\\} [1-9]`));
    noTokenUpstream([a.sessionToken, b.sessionToken]);
  });
});

describe('limits and metrics of sessions', () => {
  // Every request of a session counts against who asked for it under its role: not its
  // RoleSessionName, which the client chooses.
  let limited: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    limited = await startTestGateway({
      ...doc({ reader: { assumableBy: [GW_KEY.accessKeyId, GW_KEY_LIMITED.accessKeyId], allow: [{ bucket: 'other', actions: ['read', 'list'] }] } }),
      limits: { requestsPerSecond: 0.01, burst: 2, concurrent: 0 },
    });
  });
  afterAll(async () => {
    await limited?.close();
  });
  const as = (key: typeof GW_KEY, name: string) => assume(limited.url, key, { RoleArn: 'arn:aws:iam::000000000000:role/reader', RoleSessionName: name });
  const get = async (c: TempCreds) => {
    try {
      await s3(limited.url, c).send(new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' }));
      return 'ok';
    } catch (e) {
      return (e as Error).name;
    }
  };

  it('a shared RoleSessionName shares no limit, a fresh one escapes none; metrics name the role', async () => {
    const mine = await as(GW_KEY, 'shared-name');
    const theirs = await as(GW_KEY_LIMITED, 'shared-name');
    expect([await get(mine), await get(mine), await get(mine)]).toEqual(['ok', 'ok', 'SlowDown']);
    // Another key's session with the same name has its own limit.
    expect(await get(theirs)).toBe('ok');
    // A fresh name from the same key is the same asker: still limited.
    expect(await get(await as(GW_KEY, 'fresh-name-1'))).toBe('SlowDown');
    const metrics = await limited.metrics.registry.metrics();
    expect(metrics).toMatch(/s3gate_requests_total\{operation="GetObject",status="200",upstream="strict",key="role:reader"\} 3/);
    expect(metrics).toMatch(/s3gate_throttled_total\{limit="rate",key="role:reader"\} 2/);
    for (const name of ['shared-name', 'fresh-name-1']) expect(metrics).not.toContain(name);
  });
});

describe('reload', () => {
  it('removing a role refuses its live sessions from then on', async () => {
    const temp = await assume(gw.url, GW_KEY, { RoleArn: 'arn:aws:iam::000000000000:role/reader', RoleSessionName: 'reload' });
    await get(temp);
    gw.setConfig(buildConfig({ listen: [{ address: '127.0.0.1:0' }], ...doc({ uploader: ROLES.uploader }) }, tmpdir()));
    try {
      const e = await failure(get(temp));
      expect(e.name).toBe('InvalidToken');
      expect(e.message).toContain('role of this session no longer exists');
      expect(await gw.metrics.registry.metrics()).toMatch(/s3gate_sts_tokens_refused_total\{reason="role-removed"\} [1-9]/);
    } finally {
      gw.setConfig(buildConfig({ listen: [{ address: '127.0.0.1:0' }], ...doc(ROLES) }, tmpdir()));
    }
  });
  function get(c: TempCreds) {
    return s3(gw.url, c).send(new GetObjectCommand({ Bucket: 'other', Key: 'kept.txt' }));
  }
});

void PYTHON;
