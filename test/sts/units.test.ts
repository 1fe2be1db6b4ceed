// The pure parts of temporary credentials: sealing, grant intersection, session policies, config.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { allows } from '../../src/authorize/grants.js';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { ACTIONS, type Action, type Grant } from '../../src/config/types.js';
import { intersect } from '../../src/sts/grants.js';
import { parsePolicy, PolicyError } from '../../src/sts/policy.js';
import { limitKey, limitLabel, principalName, sessionKey } from '../../src/sts/inbound.js';
import { deriveSealingKey, newCredentials, open, seal, TokenError } from '../../src/sts/seal.js';
import type { Session, StsConfig } from '../../src/sts/types.js';

const K1 = deriveSealingKey('k1', 'sealing-secret-one-0123456789abcdefghij');
const K2 = deriveSealingKey('k2', 'sealing-secret-two-0123456789abcdefghij');

function session(over: Partial<Session> = {}): Session {
  const c = newCredentials();
  return { v: 1, ak: c.accessKeyId, sk: c.secretAccessKey, iat: 1, exp: 2_000_000_000, role: 'r', rsn: 'n', src: 'KEY', allow: [{ bucket: 'media', prefix: 'u/', actions: ['read'] }], ...over };
}

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof TokenError) return e.reason;
    throw e;
  }
  return 'opened';
}

describe('sealing', () => {
  it('opens what it sealed, with the key its id names', () => {
    const s = session();
    const t = seal(s, K1);
    expect(t.startsWith('S3GT1.k1.')).toBe(true);
    expect(open(t, [K2, K1])).toEqual(s);
    // Credentials have AWS's shapes.
    expect(s.ak).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(s.sk).toHaveLength(40);
  });

  it('refuses a flipped bit anywhere, a truncation, another key id, a removed key, a token sealed with another secret', () => {
    const t = seal(session(), K1);
    const body = t.slice('S3GT1.k1.'.length);
    const raw = Buffer.from(body, 'base64url');
    for (let i = 0; i < raw.length; i += 7) {
      const b = Buffer.from(raw);
      b[i]! ^= 1;
      expect(reason(() => open(`S3GT1.k1.${b.toString('base64url')}`, [K1]))).toBe('forged');
    }
    expect(reason(() => open(t.slice(0, -4), [K1]))).toBe('forged');
    expect(reason(() => open(t.slice(0, 20), [K1]))).toBe('malformed');
    expect(reason(() => open(t.replace('S3GT1.k1.', 'S3GT1.k2.'), [K1, K2]))).toBe('forged');
    expect(reason(() => open(t, [K2]))).toBe('unknown-key');
    const attacker = deriveSealingKey('k1', 'an-attackers-guess-0123456789abcdefghijk');
    expect(reason(() => open(seal(session({ allow: [{ bucket: '*', actions: [...ACTIONS] }] }), attacker), [K1]))).toBe('forged');
    expect(reason(() => open('not a token', [K1]))).toBe('malformed');
    expect(reason(() => open('S3GT1.k1.!!!!', [K1]))).toBe('malformed');
  });
});

const bucketArb = fc.constantFrom('*', 'a', 'b');
const prefixArb = fc.option(fc.constantFrom('', 'x', 'x/', 'x/y', 'y/', 'xy'), { nil: undefined });
const actionsArb = fc.subarray([...ACTIONS] as Action[], { minLength: 1 });
const IAM_SAMPLE = ['getobject', 'getobjecttagging', 'putobject', 'putobjectacl', 'listbucket', 'listbucketversions', 'getbucketlocation', 'deleteobject'];
// Configured grants (classes only) and a policy's (held to a kind of resource, and maybe to actions).
const exactArb = fc.option(fc.record({ level: fc.constantFrom('object' as const, 'bucket' as const), only: fc.option(fc.subarray(IAM_SAMPLE, { minLength: 1 }), { nil: undefined }) }), { nil: undefined });
const grantArb: fc.Arbitrary<Grant> = fc.record({ bucket: bucketArb, prefix: prefixArb, actions: actionsArb, exact: exactArb }).map((g) => ({
  bucket: g.bucket, ...(g.prefix ? { prefix: g.prefix } : {}), actions: g.actions,
  ...(g.exact ? { level: g.exact.level, ...(g.exact.only ? { only: g.exact.only } : {}) } : {}),
}));
const keyFor = (allow: Grant[]) => ({ accessKeyId: 'K', secretAccessKey: 's', allow });

describe('token versions', () => {
  it('seals a session policy\'s grants as version 2, which a release that reads grants as classes refuses', () => {
    const exact = session({ v: 2, allow: [{ bucket: 'media', actions: ['read'], level: 'object', only: ['getobject'] }] });
    expect(open(seal(exact, K1), [K1])).toEqual(exact);
    // Such grants in a version-1 token (the shape every earlier release accepts) are refused here too.
    expect(reason(() => open(seal({ ...exact, v: 1 }, K1), [K1]))).toBe('malformed');
    expect(reason(() => open(seal(session({ v: 2, allow: [{ bucket: 'media', actions: ['read'], only: ['getobject'] }] }), K1), [K1]))).toBe('malformed');
    expect(reason(() => open(seal(session({ v: 2, allow: [{ bucket: 'media', actions: ['read'], level: 'both' as 'object' }] }), K1), [K1]))).toBe('malformed');
    // A version-1 token stays readable: sessions without a policy, and those sealed before.
    expect(open(seal(session(), K1), [K1]).v).toBe(1);
  });
});

describe('who a session is, for limits and metrics', () => {
  it('is who asked under the role (a web identity\'s issuer and subject, a key id), never the RoleSessionName', () => {
    const sts: StsConfig = { sealingKeys: [K1], roles: new Map([['r', { name: 'r', assumableBy: [], maxSessionDuration: 3600, allow: [{ bucket: 'media', prefix: 'u/', actions: ['read'] }] }]]) };
    const key = (over: Partial<Session>) => sessionKey(sts, seal(session(over), K1)).key;
    const alice = 'https://idp.example/#alice';
    const a1 = key({ src: alice, rsn: 'botocore-session-1' });
    const a2 = key({ src: alice, rsn: 'botocore-session-2' });
    const bob = key({ src: 'https://idp.example/#bob', rsn: 'botocore-session-1' });
    expect(limitKey(a1)).toBe(limitKey(a2));
    expect(limitKey(bob)).not.toBe(limitKey(a1));
    expect(limitKey(key({ src: 'KEY1', rsn: 'same' }))).not.toBe(limitKey(key({ src: 'KEY2', rsn: 'same' })));
    expect(limitKey(a1)).not.toContain('alice');
    expect([principalName(a1), principalName(bob), limitLabel(limitKey(a1))]).toEqual(['role:r', 'role:r', 'role:r']);
    expect(limitLabel('KEY1')).toBe('KEY1');
  });
});

describe('grant intersection', () => {
  it('allows exactly what both lists allow, for every request', () => {
    fc.assert(fc.property(
      fc.array(grantArb, { maxLength: 4 }), fc.array(grantArb, { maxLength: 4 }),
      fc.constantFrom(...ACTIONS), fc.constantFrom('a', 'b', 'c'), fc.option(fc.constantFrom('', 'x', 'x/', 'x/y/z', 'xy', 'y/1'), { nil: undefined }),
      fc.option(fc.constantFrom('', 'x', 'x/', 'y/'), { nil: undefined }), fc.option(fc.constantFrom(...IAM_SAMPLE), { nil: undefined }),
      (a, b, action, bucket, key, listPrefix, iam) => {
        const both = allows(keyFor(a), action, bucket, key, listPrefix, iam) && allows(keyFor(b), action, bucket, key, listPrefix, iam);
        expect(allows(keyFor(intersect(a, b)), action, bucket, key, listPrefix, iam)).toBe(both);
      },
    ), { numRuns: 5000 });
  });
});

const policy = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('session policies', () => {
  it('turns object and bucket ARNs into grants held to the actions the statement allowed', () => {
    expect(parsePolicy(policy([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::media/users/alice/*' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::media', Condition: { StringLike: { 's3:prefix': ['users/alice/*'] } } },
      { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::logs' },
    ]))).toEqual([
      { bucket: 'media', prefix: 'users/alice/', actions: ['read', 'write'], level: 'object', only: ['getobject', 'putobject'] },
      { bucket: 'media', prefix: 'users/alice/', actions: ['list'], level: 'bucket', only: ['listbucket'] },
      // Every action on the bucket in those classes: no list of them to carry in the token.
      { bucket: 'logs', actions: ['read', 'list', 'admin'], level: 'bucket' },
    ]);
    expect(parsePolicy(policy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]))).toEqual([
      { bucket: '*', actions: ['read', 'write', 'delete', 'admin'], level: 'object' }, { bucket: '*', actions: ['read', 'list', 'admin'], level: 'bucket' },
    ]);
    expect(parsePolicy(policy([{ Effect: 'Allow', Action: 's3:List*', Resource: ['arn:aws:s3:::media/*', 'arn:aws:s3:::media'] }]))).toEqual([
      { bucket: 'media', actions: ['read'], level: 'object', only: ['listmultipartuploadparts'] }, { bucket: 'media', actions: ['list'], level: 'bucket' },
    ]);
  });

  it('names the actions a wildcard matched, and refuses one that matches none', () => {
    const onMedia = (action: string | string[]) => parsePolicy(policy([{ Effect: 'Allow', Action: action, Resource: ['arn:aws:s3:::media/*', 'arn:aws:s3:::media'] }]));
    expect(onMedia('s3:*Tagging')).toEqual([
      { bucket: 'media', actions: ['read', 'write'], level: 'object', only: ['deleteobjecttagging', 'deleteobjectversiontagging', 'getobjecttagging', 'getobjectversiontagging', 'putobjecttagging', 'putobjectversiontagging'] },
      { bucket: 'media', actions: ['read', 'admin'], level: 'bucket', only: ['getbuckettagging', 'putbuckettagging'] },
    ]);
    expect(onMedia('s3:Get*')[0]!.only).toContain('getobjectversion');
    expect(onMedia('s3:Get*')[0]!.only).not.toContain('listmultipartuploadparts');
    // IAM matches action names without regard to case.
    expect(onMedia('S3:getobject')).toEqual([{ bucket: 'media', actions: ['read'], level: 'object', only: ['getobject'] }]);
    // Naming ListAllMyBuckets grants nothing more: every key's ListBuckets lists what it holds grants on.
    expect(onMedia('s3:ListAllMyBuckets')).toEqual([]);
    expect(() => onMedia('s3:Nothing*')).toThrow(/matches no S3 action s3gate knows/);
    expect(() => onMedia('s3:GetObjectTypo')).toThrow(/is not an S3 action s3gate knows/);
  });

  it('says what is wrong with a bucket name', () => {
    const msg = (resource: string) => { try { parsePolicy(policy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: resource }])); } catch (e) { return (e as Error).message; } return ''; };
    expect(msg('arn:aws:s3:::STS-art/*')).toContain('"STS-art" is not a valid bucket name');
    expect(msg('arn:aws:s3:::med*/x*')).toContain('wildcard or variable inside a bucket name');
  });

  it('refuses what it cannot express rather than dropping it', () => {
    const bad: unknown[] = [
      { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/*' },
      { Effect: 'Allow', NotAction: 's3:GetObject', Resource: 'arn:aws:s3:::media/*' },
      { Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::media/*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/exact-key.txt' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/*/photos/*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::med*/x*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/${aws:username}/*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/*', Principal: '*' },
      { Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' },
      { Effect: 'Allow', Action: 's3:GetObjectTypo', Resource: '*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:dynamodb:::table/x' },
    ];
    for (const s of bad) expect(() => parsePolicy(policy([s])), JSON.stringify(s)).toThrow(PolicyError);
    expect(() => parsePolicy('{"Statement": [')).toThrow(PolicyError);
    expect(() => parsePolicy('{"Version":"2012-10-17","Statement":[],"Extra":1}')).toThrow(PolicyError);
    expect(() => parsePolicy('{"Version":"2012-10-17"}')).toThrow(PolicyError);
  });
});

const base = {
  keys: [{ accessKeyId: 'KEY1', secretAccessKey: 'secret-1-abcdefghijklmnop', allow: [{ bucket: '*', actions: ['read'] }] }],
  upstreams: { disk: { provider: 'local', path: '/tmp' } },
  buckets: { media: { upstream: 'disk' } },
};

function problems(doc: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    buildConfig({ ...base, ...doc }, '/tmp', { env });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('config', () => {
  it('reads roles, sealing keys from the environment, and claim placeholders', () => {
    const cfg = buildConfig({
      ...base,
      roles: {
        ci: { assumableBy: ['KEY1'], maxSessionDuration: 7200, allow: [{ bucket: 'media', actions: ['read'] }] },
        browser: { webIdentity: { issuer: 'https://id.example', audience: 'app', jwksUrl: 'https://id.example/jwks' }, allow: [{ bucket: 'media', prefix: 'users/${sub}/', actions: ['write'] }] },
      },
      sts: { sealingKeys: [{ id: 'k2', secret: '$\u27e6SEAL\u27e7' }] },
    }, '/tmp', { env: { SEAL: 'x'.repeat(32) } });
    expect(cfg.sts!.roles.get('browser')!.allow[0]!.prefix).toBe('users/${sub}/');
    expect(cfg.sts!.sealingKeys[0]!.id).toBe('k2');
    expect(cfg.sts!.roles.get('ci')!.maxSessionDuration).toBe(7200);
  });

  it('names the field of every mistake, and never a secret', () => {
    const p = problems({
      roles: {
        a: { assumableBy: ['NOPE'], maxSessionDuration: 50000, allow: [{ bucket: 'zzz', actions: ['fly'] }] },
        b: { allow: [] },
        c: { assumableBy: ['KEY1'], allow: [{ bucket: 'media', prefix: 'u/${sub}/', actions: ['read'] }] },
        d: { webIdentity: { issuer: 'https://i', audience: 'x', keys: [{ kty: 'oct', k: 'c2VjcmV0' }], algorithms: ['HS256'] }, allow: [] },
      },
      sts: { sealingKeys: [{ id: 'k1', secret: 'too-short-secret' }] },
    });
    const text = p.join('\n');
    for (const f of ['roles.a.assumableBy', 'roles.a.maxSessionDuration', 'roles.a.allow[0].bucket', 'roles.a.allow[0].actions', 'roles.b:', 'roles.c.allow', 'roles.d.webIdentity.keys[0]', 'roles.d.webIdentity.algorithms', 'sts.sealingKeys[0].secret']) {
      expect(text).toContain(f);
    }
    expect(text).not.toContain('too-short-secret');
    expect(problems({ roles: { a: { assumableBy: ['KEY1'], allow: [] } } }).join()).toContain('sts.sealingKeys: is required when roles are declared');
  });
});
