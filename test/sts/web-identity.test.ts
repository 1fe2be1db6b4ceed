// AssumeRoleWithWebIdentity against an OIDC issuer running on loopback: its own key pair, a JWKS
// endpoint, tokens it mints. Good tokens become sessions whose grants carry the token's subject;
// each kind of bad token is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { request } from 'undici';
import type { AddressInfo } from 'node:net';
import { client, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { BOTO_S3, SEAL_K1, sts } from './helpers.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let idp: http.Server;
let iss: string;
let jwksFetches = 0;
let mint: (claims?: JWTPayload, opts?: { kid?: string; alg?: string; key?: CryptoKey | Uint8Array; exp?: string | number }) => Promise<string>;
let spki: string;
let otherKey: CryptoKey;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  otherKey = (await generateKeyPair('RS256')).privateKey;
  spki = await exportSPKI(publicKey);
  const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
  idp = http.createServer((req, res) => {
    if (req.url === '/jwks') {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  iss = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  mint = (claims = {}, opts = {}) => new SignJWT({ iss, aud: 's3gate-app', sub: 'alice', email_verified: true, ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'idp-key-1' })
    .setIssuedAt().setExpirationTime(opts.exp ?? '10m')
    .sign(opts.key ?? privateKey);

  const dir = tmpDir('s3gate-sts-wi-');
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { disk: { provider: 'local', path: dir } },
    buckets: { media: { upstream: 'disk' } },
    roles: {
      browser: {
        webIdentity: { issuer: iss, audience: 's3gate-app', jwksUrl: `${iss}/jwks`, algorithms: ['RS256'], claims: { email_verified: true } },
        allow: [{ bucket: 'media', prefix: 'users/${sub}/', actions: ['read', 'write', 'list'] }],
      },
      pods: {
        // Static keys, a nested claim required (a Kubernetes service-account token's shape).
        webIdentity: { issuer: iss, audience: 's3gate-app', keys: [jwk], claims: { 'kubernetes.io.namespace': 'ci' } },
        allow: [{ bucket: 'media', prefix: 'ci/${kubernetes.io.serviceaccount.name}/', actions: ['read', 'write'] }],
      },
    },
    sts: { sealingKeys: [SEAL_K1], cors: [{ allowedOrigins: ['https://app.example'], allowedMethods: ['POST'], allowedHeaders: ['*'] }] },
  });
  await client(gw.url, GW_KEY, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'media' }));
});

afterAll(async () => {
  await gw?.close();
  await new Promise((r) => idp?.close(r));
});

const BROWSER = 'arn:aws:iam::000000000000:role/browser';

describe('boto3 assume_role_with_web_identity', () => {
  it('a token from the issuer becomes a session limited to users/<sub>/', async () => {
    const token = await mint();
    const out = await runPython(`
EP = ${JSON.stringify(gw.url)}
${BOTO_S3}
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')
r = s.assume_role_with_web_identity(RoleArn=${JSON.stringify(BROWSER)}, RoleSessionName='alice-browser', WebIdentityToken=os.environ['TOKEN'], DurationSeconds=900)
x = s3_for(r['Credentials'])
print(json.dumps({
  'subject': r['SubjectFromWebIdentityToken'], 'arn': r['AssumedRoleUser']['Arn'], 'provider': r['Provider'], 'audience': r['Audience'],
  'own': code(lambda: x.put_object(Bucket='media', Key='users/alice/photo.jpg', Body=b'jpg')),
  'list': code(lambda: x.list_objects_v2(Bucket='media', Prefix='users/alice/')),
  'bobs': code(lambda: x.put_object(Bucket='media', Key='users/bob/photo.jpg', Body=b'jpg')),
  'prefixTrick': code(lambda: x.put_object(Bucket='media', Key='users/alice2/photo.jpg', Body=b'jpg')),
}))
`, { TOKEN: token }, MODERN_PYTHON);
    expect(out).toEqual({ subject: 'alice', arn: 'arn:aws:sts::000000000000:assumed-role/browser/alice-browser', provider: iss, audience: 's3gate-app', own: 'ok', list: 'ok', bobs: 'AccessDenied', prefixTrick: 'AccessDenied' });
    expect(await gw.metrics.registry.metrics()).toMatch(/s3gate_sts_sessions_issued_total\{role="browser",action="AssumeRoleWithWebIdentity"\} [1-9]/);
    // The log names who the session is: the token's issuer and subject, never the token.
    const issued = gw.sink.lines.find((l) => l.msg === 'sts session issued' && l.session === 'alice-browser');
    expect(issued).toMatchObject({ role: 'browser', iss, sub: 'alice' });
    expect(gw.sink.text()).not.toContain(token.slice(-40));
  });

  it('a nested claim fills the grants and a required nested claim is checked (static keys)', async () => {
    const token = await mint({ sub: 'system:serviceaccount:ci:builder', 'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'builder' } } });
    const wrongNs = await mint({ sub: 'system:serviceaccount:prod:builder', 'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'builder' } } });
    const out = await runPython(`
EP = ${JSON.stringify(gw.url)}
${BOTO_S3}
s = boto3.client('sts', endpoint_url=EP, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')
arn = 'arn:aws:iam::000000000000:role/pods'
x = s3_for(s.assume_role_with_web_identity(RoleArn=arn, RoleSessionName='pod', WebIdentityToken=os.environ['TOKEN'])['Credentials'])
print(json.dumps({
  'own': code(lambda: x.put_object(Bucket='media', Key='ci/builder/out.tgz', Body=b'tgz')),
  'other': code(lambda: x.put_object(Bucket='media', Key='ci/deployer/out.tgz', Body=b'tgz')),
  'wrongNamespace': code(lambda: s.assume_role_with_web_identity(RoleArn=arn, RoleSessionName='pod', WebIdentityToken=os.environ['WRONG'])),
}))
`, { TOKEN: token, WRONG: wrongNs }, MODERN_PYTHON);
    expect(out).toEqual({ own: 'ok', other: 'AccessDenied', wrongNamespace: 'AccessDenied' });
  });
});

describe('refused web identity tokens', () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  it('wrong aud, wrong iss, exp past, alg none, unknown kid, HS256 signed with the public key, a subject that is not one path segment', async () => {
    const now = Math.floor(Date.now() / 1000);
    const tokens: Record<string, string> = {
      // Correctly signed, for another audience, and claiming another issuer.
      wrongAud: await mint({ aud: 'another-app' }),
      wrongIss: await mint({ iss: 'https://evil.example' }),
      expired: await mint({}, { exp: now - 600 }),
      algNone: `${b64({ alg: 'none', kid: 'idp-key-1' })}.${b64({ iss, aud: 's3gate-app', sub: 'alice', exp: now + 600, email_verified: true })}.`,
      unknownKid: await mint({}, { kid: 'idp-key-9', key: otherKey }),
      hs256PublicKey: await mint({}, { alg: 'HS256', key: new TextEncoder().encode(spki) }),
      unverifiedEmail: await mint({ email_verified: false }),
      slashInSub: await mint({ sub: 'alice/../bob' }),
    };
    const out = await runPython(`
s = boto3.client('sts', endpoint_url=${JSON.stringify(gw.url)}, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')
res = {}
for name, t in json.loads(os.environ['TOKENS']).items():
    try:
        s.assume_role_with_web_identity(RoleArn=${JSON.stringify(BROWSER)}, RoleSessionName='attempt', WebIdentityToken=t)
        res[name] = 'ok'
    except Exception as e:
        res[name] = e.response['Error']['Code']
print(json.dumps(res))
`, { TOKENS: JSON.stringify(tokens) }, MODERN_PYTHON);
    expect(out).toEqual({
      wrongAud: 'InvalidIdentityToken', wrongIss: 'InvalidIdentityToken', expired: 'ExpiredTokenException', algNone: 'InvalidIdentityToken',
      unknownKid: 'InvalidIdentityToken', hs256PublicKey: 'InvalidIdentityToken', unverifiedEmail: 'AccessDenied', slashInSub: 'AccessDenied',
    });
  });

  it('the JWKS is fetched once and cached; a role without webIdentity is not assumable with a token', async () => {
    const before = jwksFetches;
    const c = sts(gw.url);
    for (let i = 0; i < 3; i++) {
      const r = await c.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: BROWSER, RoleSessionName: `again-${i}`, WebIdentityToken: await mint() }));
      expect(r.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    }
    expect(jwksFetches).toBe(before);
    expect(jwksFetches).toBeGreaterThan(0);
    const e = await c.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: 'arn:aws:iam::000000000000:role/none', RoleSessionName: 'x1', WebIdentityToken: await mint() })).catch((x: Error) => x);
    expect((e as Error).name).toBe('AccessDenied');
    // The token is never logged.
    expect(gw.sink.text()).not.toContain('eyJ');
  });
});

describe('a browser page calling STS', () => {
  it('gets CORS on the STS endpoint from sts.cors: preflight, then the form POST', async () => {
    const pre = await request(`${gw.url}/`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,amz-sdk-invocation-id' } });
    expect(pre.statusCode).toBe(200);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
    await pre.body.dump();
    const form = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: BROWSER, RoleSessionName: 'page', WebIdentityToken: await mint() });
    const r = await request(`${gw.url}/`, { method: 'POST', headers: { origin: 'https://app.example', 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(r.statusCode).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(await r.body.text()).toContain('<AssumeRoleWithWebIdentityResult>');
    // curl sends Expect: 100-continue for a form over 1 KiB (a web identity token can make one): answered at once.
    const curl = await new Promise<string>((resolve, reject) => execFile('curl', ['-sS', '--expect100-timeout', '30', '-H', 'Expect: 100-continue', '-d', form.toString(), `${gw.url}/`],
      { timeout: 20_000 }, (e, out) => (e ? reject(e) : resolve(out))));
    expect(curl).toContain('<AssumeRoleWithWebIdentityResult>');
    const other = await request(`${gw.url}/`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.statusCode).toBe(403);
    await other.body.dump();
  });
});

describe('a pod with a projected service-account token (docs/sts.md)', () => {
  it('boto3 with only AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ENDPOINT_URL_* set gets its session by itself', async () => {
    const dir = tmpDir('s3gate-sts-pod-');
    const file = `${dir}/token`;
    writeFileSync(file, await mint({ sub: 'system:serviceaccount:ci:builder', 'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'builder' } } }));
    const out = await runPython(`
x = boto3.client('s3', config=Config(s3={'addressing_style': 'path'}))
x.put_object(Bucket='media', Key='ci/builder/from-pod.txt', Body=b'pod')
who = boto3.client('sts').get_caller_identity()['Arn']
print(json.dumps({'who': who}))
`, {
      AWS_ROLE_ARN: 'arn:aws:iam::000000000000:role/pods', AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: gw.url, AWS_ENDPOINT_URL_S3: gw.url, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    }, MODERN_PYTHON) as { who: string };
    expect(out.who).toMatch(/^arn:aws:sts::000000000000:assumed-role\/pods\//);
  });
});
