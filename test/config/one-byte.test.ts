// A config file that reads a secret from the environment, or has a dash in a comment, is text
// V8 holds two bytes per character; the strings the gateway then uses on every request (key ids,
// secrets, region, endpoint, bucket names) came out two-byte too, and each access line, hash and
// header write took V8's and Node's slower paths. v8.serialize shows the representation: a
// one-byte string is tagged '"', a two-byte one 'c'.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { oneByte, oneByteStrings } from '../../src/config/one-byte.js';

const TEXT = `
# media — served on files.example.com, café
listen:
  - address: 127.0.0.1:0
region: eu-central-2-gateway
keys:
  - accessKeyId: GATEWAYKEY0123456789
    secretAccessKey: \${APP_SECRET}
    allow: [{ bucket: media-assets-bucket, actions: [read, write, list, delete] }]
upstreams:
  linode-london-primary:
    provider: linode
    endpoint: https://gb-lon-1.linodeobjects.com
    region: gb-lon-1-primary-region
    credentials: { accessKeyId: \${LINODE_KEY}, secretAccessKey: \${LINODE_SECRET:-unused} }
buckets:
  media-assets-bucket:
    upstream: linode-london-primary
    bucket: media-prod-2024
`;
const ENV = { APP_SECRET: 'app-secret-value', LINODE_KEY: 'LINODEKEY0123456789', LINODE_SECRET: 'linode-secret-value' };

const kind = (s: string): string => (serialize(s)[2] === 0x22 ? 'one-byte' : 'two-byte');

describe('config strings are one-byte', () => {
  it('every string the request path uses, from a file with ${VAR} references and a non-Latin-1 comment', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3gate-onebyte-'));
    const file = join(dir, 'proxy.yaml');
    writeFileSync(file, TEXT);
    const cfg = loadConfig(file, { env: ENV });
    const key = cfg.keys.get('GATEWAYKEY0123456789')!;
    const up = cfg.upstreams.get('linode-london-primary')!;
    const route = cfg.buckets.get('media-assets-bucket')!;
    const strings = {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      region: cfg.region,
      upstreamName: up.name,
      upstreamRegion: up.region,
      upstreamKeyId: up.credentials.accessKeyId,
      upstreamSecret: up.credentials.secretAccessKey,
      endpointHost: up.endpoint.host,
      routeName: route.name,
      providerBucket: route.bucket!,
      bucketKey: [...cfg.buckets.keys()][0]!,
    };
    expect(strings.secretAccessKey).toBe('app-secret-value');
    expect(strings.upstreamSecret).toBe('linode-secret-value');
    expect(Object.fromEntries(Object.entries(strings).map(([k, v]) => [k, kind(v)]))).toEqual(Object.fromEntries(Object.keys(strings).map((k) => [k, 'one-byte'])));
  });

  it('oneByte keeps text beyond Latin-1 as it is, and oneByteStrings keeps a __proto__ key a key', () => {
    // (13 characters or more: V8 copies a shorter slice, and a copy may come out one-byte)
    const two = 'abcdefghijklmnopq\u27e6'.slice(0, 16);
    expect(kind(two)).toBe('two-byte');
    expect(kind(oneByte(two))).toBe('one-byte');
    expect(oneByte('a\u2014b')).toBe('a\u2014b');
    const doc = oneByteStrings(JSON.parse('{"__proto__": {"x": 1}, "a": ["b", 2, null]}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(Object.keys(doc)).toEqual(['__proto__', 'a']);
    expect(doc.a).toEqual(['b', 2, null]);
  });

  it('an alias that refers to itself is copied as the cycle it is, and the loader names the field', () => {
    const doc = oneByteStrings(parse('a: &x\n  b: *x\nc: [*x, *x]\n')) as { a: { b: unknown }; c: unknown[] };
    expect(doc.a.b).toBe(doc.a);
    expect(doc.c[0]).toBe(doc.a);
    const dir = mkdtempSync(join(tmpdir(), 's3gate-onebyte-'));
    const file = join(dir, 'proxy.yaml');
    writeFileSync(file, `${TEXT}loop: &x\n  self: *x\n`);
    expect(() => loadConfig(file, { env: ENV })).toThrow(ConfigError);
    try {
      loadConfig(file, { env: ENV });
    } catch (e) {
      expect((e as ConfigError).problems.join('\n')).toMatch(/loop/);
    }
  });
});
