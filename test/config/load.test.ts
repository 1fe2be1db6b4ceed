// The config loader: the issue's own example loads, every preset is a valid profile, and each
// mistake stops start-up with a message naming the field, never the secret.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildConfig, ConfigError, loadConfig, presetNames, protectReferences } from '../../src/config/load.js';
import { signatureFor } from '../../src/config/provider.js';
import { SUBRESOURCES } from '../../src/authorize/operation.js';
import { selfSignedCert } from '../helpers/tls.js';

const EXAMPLE = `
listen:
  - address: 0.0.0.0:8080
domains: [s3.example.com]
region: us-east-1
keys:
  - accessKeyId: GATEWAYKEY1
    secretAccessKey: \${APP_SECRET}
    allow: [{ bucket: media, actions: [read, write, list, delete] }]
upstreams:
  linode:
    provider: linode
    endpoint: https://gb-lon-1.linodeobjects.com
    region: gb-lon-1
    credentials: { accessKeyId: \${LINODE_KEY}, secretAccessKey: \${LINODE_SECRET} }
buckets:
  media:
    upstream: linode
    bucket: media-prod-2024
    domains: [files.example.com]
    public: read
`;
const ENV = { APP_SECRET: 'app-secret-value', LINODE_KEY: 'LK', LINODE_SECRET: 'linode-secret-value' };

function problems(doc: string, env: NodeJS.ProcessEnv = ENV): string[] {
  try {
    buildConfig(parse(protectReferences(doc)), tmpdir(), { env });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('config', () => {
  it('loads the issue\'s example with secrets from the environment', () => {
    const cfg = buildConfig(parse(protectReferences(EXAMPLE)), tmpdir(), { env: ENV });
    expect(cfg.keys.get('GATEWAYKEY1')?.secretAccessKey).toBe('app-secret-value');
    const up = cfg.upstreams.get('linode')!;
    expect(up.credentials.secretAccessKey).toBe('linode-secret-value');
    expect(up.profile.addressing).toBe('path');
    expect(cfg.buckets.get('media')).toMatchObject({ bucket: 'media-prod-2024', domains: ['files.example.com'], public: 'read' });
  });

  it('names the field for a wrong upstream reference', () => {
    expect(problems(EXAMPLE.replace('upstream: linode', 'upstream: linod'))).toEqual(['buckets.media.upstream: no upstream "linod"; known: linode']);
  });

  it('names the variable, not a value, when a secret is missing', () => {
    const p = problems(EXAMPLE, { APP_SECRET: 'x', LINODE_KEY: 'k' });
    expect(p).toEqual(['upstreams.linode.credentials.secretAccessKey: environment variable LINODE_SECRET is not set']);
  });

  it('reads a secret from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3gate-cfg-'));
    writeFileSync(join(dir, 'secret'), 'from-a-file\n');
    const cfg = buildConfig(parse(protectReferences(EXAMPLE.replace('${APP_SECRET}', '${file:secret}'))), dir, { env: ENV });
    expect(cfg.keys.get('GATEWAYKEY1')?.secretAccessKey).toBe('from-a-file');
  });

  it('reports every mistake at once, each by its path', () => {
    const doc = `
listen: [{ address: nowhere }]
keys: [{ accessKeyId: K1, secretAccessKey: s, allow: [{ bucket: ghost, actions: [read, fly] }] }]
upstreams:
  u: { provider: nosuch, endpoint: x }
  v: { provider: aws, endpoint: ftp://x, credentials: { accessKeyId: a }, expectContinue: true }
buckets:
  Bad_Name: { upstream: u }
  ok-bucket: { upstream: v, colour: blue }
`;
    const p = problems(doc);
    expect(p).toEqual(expect.arrayContaining([
      'listen[0].address: "nowhere" is not host:port',
      expect.stringMatching(/^upstreams\.u\.provider: no preset "nosuch"; known: .*linode/),
      'upstreams.v.endpoint: "ftp://x" is not an http(s) URL',
      'upstreams.v.credentials.secretAccessKey: is required',
      // s3gate never sends Expect upstream (undici does not implement it): a field that would do
      // nothing is refused rather than believed.
      'upstreams.v.expectContinue: unknown field; known: provider, endpoint, region, credentials, path, connectAddress, timeouts, retries, addressing, signing, payload, checksums, conditionalWrites, copySourceConditions, cannedAcls, unknownSubresources, listingEncodesKeysOnly, tls',
      'buckets.Bad_Name: is not a valid S3 bucket name',
      'buckets.ok-bucket.colour: unknown field; known: upstream, bucket, domains, public, mode, from, mirror, copyOnRead, cors',
      'keys[0].allow[0].bucket: no bucket "ghost"; known: Bad_Name, ok-bucket',
      'keys[0].allow[0].actions: unknown action "fly"; known: read, write, list, delete, admin',
    ]));
  });

  it('a grant whose bucket has a wildcard is named: grants take one bucket or "*", even where a "*" route makes any name known', () => {
    const doc = `
keys: [{ accessKeyId: GRANTKEY1, secretAccessKey: s, allow: [{ bucket: "photos-*", actions: [read] }, { bucket: "*", prefix: "a/", actions: [list] }] }]
upstreams: { u: { provider: local, path: ./data } }
buckets: { "*": { upstream: u } }
`;
    expect(problems(doc)).toEqual([
      'keys[0].allow[0].bucket: "photos-*" is not a bucket name: a grant names one bucket, or "*" for every bucket (there are no patterns; prefix narrows a grant to keys within its bucket)',
    ]);
  });

  it('acceptRegions: "*" or a list of region names, each mistake named', () => {
    const cfg = (extra: string) => buildConfig(parse(protectReferences(EXAMPLE + extra)), tmpdir(), { env: ENV });
    expect(cfg('').acceptRegions).toBeUndefined();
    expect(cfg('acceptRegions: "*"\n').acceptRegions).toBe('any');
    expect([...(cfg('acceptRegions: [dummy, eu-west-1]\n').acceptRegions as Set<string>)]).toEqual(['dummy', 'eu-west-1']);
    expect(problems(EXAMPLE + 'acceptRegions: any\n')).toEqual(['acceptRegions: must be "*" or a list of region names']);
    expect(problems(EXAMPLE + 'acceptRegions: [EU West]\n')).toEqual(['acceptRegions: "EU West" is not a region name (lower-case letters, digits and \'-\')']);
  });

  it('a preset override of conditionalWrites that is not true or false is named', () => {
    const doc = `
upstreams:
  v: { provider: local, path: /tmp/x, conditionalWrites: { ifNoneMatch: "yes", onDelete: 1 } }
buckets:
  b: { upstream: v }
`;
    expect(problems(doc)).toContain('upstreams.v.conditionalWrites.ifNoneMatch: must be true or false');
    expect(problems(doc)).toContain('upstreams.v.conditionalWrites.onDelete: must be true or false');
    expect(problems(doc.replace('onDelete: 1', 'ifMatch: maybe'))).toContain('upstreams.v.conditionalWrites.ifMatch: must be true, false or unquoted');
    expect(problems(doc.replace('onDelete: 1', 'ifMatch: unquoted')).some((x) => x.includes('ifMatch'))).toBe(false);
  });

  it('unknownSubresources names S3 sub-resources only, per level', () => {
    const doc = `
upstreams:
  v: { provider: local, path: /tmp/x, unknownSubresources: { bucket: [encryption, nonsense], object: attributes, root: [] } }
buckets:
  b: { upstream: v }
`;
    const p = problems(doc);
    expect(p).toContain('upstreams.v.unknownSubresources.bucket: "nonsense" is not an S3 sub-resource; known: ' + [...SUBRESOURCES].join(', '));
    expect(p).toContain('upstreams.v.unknownSubresources.object: must be a list of sub-resource names');
    expect(p.some((x) => x.startsWith('upstreams.v.unknownSubresources.root: unknown field'))).toBe(true);
    expect(p.some((x) => x.includes('"encryption"'))).toBe(false);
  });

  it('a preset override of cannedAcls that is not true or false is named, and every preset says it', () => {
    const doc = `
upstreams:
  v: { provider: local, path: /tmp/x, cannedAcls: "yes" }
buckets:
  b: { upstream: v }
`;
    expect(problems(doc)).toContain('upstreams.v.cannedAcls: must be true or false');
  });

  it('the shipped proxy.yaml is valid as it is', () => {
    const cfg = loadConfig(join(import.meta.dirname, '../../proxy.yaml'), { env: {} });
    expect(cfg.upstreams.get('disk')?.kind).toBe('local');
  });

  it.each(presetNames())('preset %s is a complete provider profile', (name) => {
    const cfg = buildConfig({
      upstreams: { u: { provider: name, endpoint: 'https://example.invalid', path: '/tmp/x', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } },
      buckets: { '*': { upstream: 'u' } },
    }, tmpdir(), { env: {} });
    const p = cfg.upstreams.get('u')!.profile;
    expect(['path', 'virtual']).toContain(p.addressing);
    expect(['v2', 'v4']).toContain(p.signing.default);
    expect(['unsigned', 'sha256', 'signed-chunked']).toContain(p.payload.outbound);
    expect(typeof p.payload.acceptsUnsignedTrailer).toBe('boolean');
    expect(Array.isArray(p.checksums.headerAlgorithms)).toBe(true);
    expect(typeof p.conditionalWrites.ifNoneMatch).toBe('boolean');
    expect([true, false, 'unquoted']).toContain(p.conditionalWrites.ifMatch);
    expect(typeof p.cannedAcls).toBe('boolean');
    expect(p.sources.length).toBeGreaterThan(0);
    expect(['v2', 'v4']).toContain(signatureFor(p, 'PutObject'));
  });

  it('Dell ECS signs data with SigV2 and metadata with SigV4', () => {
    const cfg = buildConfig({ upstreams: { e: { provider: 'dell-ecs', endpoint: 'https://x', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } }, buckets: { '*': { upstream: 'e' } } }, tmpdir(), { env: {} });
    const p = cfg.upstreams.get('e')!.profile;
    expect(['PutObject', 'GetObject', 'DeleteObject'].map((o) => signatureFor(p, o))).toEqual(['v2', 'v2', 'v2']);
    expect(['ListObjectsV2', 'HeadObject', 'HeadBucket'].map((o) => signatureFor(p, o))).toEqual(['v4', 'v4', 'v4']);
  });
});

// The listener's certificate and key, and an upstream's CA, are read and checked while the config
// is validated: `check`, `serve` and a reload refuse them with the field named, where OpenSSL's
// `key values mismatch` used to surface only when the listener opened (test/cli, test/workers).
describe('config: TLS files', () => {
  const one = selfSignedCert(['localhost']);
  const two = selfSignedCert(['localhost']);
  const dir = mkdtempSync(join(tmpdir(), 's3gate-tlscfg-'));
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a PEM file\n');
  const doc = (cert: string, key: string, ca?: string) => `
listen: [{ address: 127.0.0.1:0 }, { address: 127.0.0.1:0, tls: { cert: ${cert}, key: ${key} } }]
upstreams:
  disk: { provider: local, path: ./data }
  remote: { provider: linode, endpoint: https://x.example, credentials: { accessKeyId: a, secretAccessKey: b }${ca ? `, tls: { verify: true, ca: ${ca} }` : ''} }
buckets: { "*": { upstream: disk } }
`;

  it('a matching pair loads, and the listener keeps the bytes that were checked', () => {
    const cfg = buildConfig(parse(protectReferences(doc(one.cert, one.key, one.cert))), dir, { env: {} });
    expect(cfg.listen[1]!.tls).toMatchObject({ cert: one.cert, key: one.key });
    expect(cfg.listen[1]!.tls!.pem.cert.equals(readFileSync(one.cert))).toBe(true);
    expect(cfg.listen[1]!.tls!.pem.key.equals(readFileSync(one.key))).toBe(true);
  });

  it('a certificate that is not the key\'s pair is named by its field', () => {
    expect(problems(doc(two.cert, one.key))).toEqual([`listen[1].tls.cert: the certificate in ${two.cert} does not match the private key in ${one.key} (they are not a pair)`]);
  });

  it('a file that holds no certificate, or no key, is named by its field', () => {
    expect(problems(doc(garbage, one.key))).toEqual([`listen[1].tls.cert: ${garbage} holds no PEM certificate (no start line)`]);
    expect(problems(doc(one.key, one.key))).toEqual([`listen[1].tls.cert: ${one.key} holds no PEM certificate (no start line)`]);
    expect(problems(doc(one.cert, garbage))[0]).toMatch(new RegExp(`^listen\\[1\\]\\.tls\\.key: ${garbage} holds no usable PEM private key \\(`));
    expect(problems(doc(one.cert, join(dir, 'nope.key')))).toEqual([`listen[1].tls.key: file ${join(dir, 'nope.key')} not found`]);
  });

  it('an upstream CA bundle that holds no certificate is named by its field', () => {
    expect(problems(doc(one.cert, one.key, garbage))).toEqual([`upstreams.remote.tls.ca: ${garbage} holds no PEM certificate (no start line)`]);
    expect(problems(doc(one.cert, one.key, join(dir, 'nope.pem')))).toEqual([`upstreams.remote.tls.ca: cannot read ${join(dir, 'nope.pem')}: ENOENT`]);
  });
});
