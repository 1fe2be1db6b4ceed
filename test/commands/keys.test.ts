// `s3gate keys new`: every run is a fresh, well-formed pair, and the entry it prints is a valid
// keys: item once its secret is in the environment.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfig, protectReferences } from '../../src/config/load.js';
import { cli } from './run-cli.js';

interface KeyJson { accessKeyId: string; secretAccessKey: string; env?: string; yaml: string }

describe('s3gate keys new', () => {
  it('gives unique, valid pairs', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => cli(['keys', 'new', '--json'])));
    const keys = runs.map((r) => {
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as KeyJson;
    });
    for (const k of keys) {
      expect(k.accessKeyId).toMatch(/^S3G[A-Z0-9]{17}$/);
      expect(k.secretAccessKey).toMatch(/^[A-Za-z0-9_-]{40}$/);
    }
    expect(new Set(keys.map((k) => k.accessKeyId)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.secretAccessKey)).size).toBe(keys.length);
  });

  it('prints a keys: entry that loads, reading the secret from the variable it names', async () => {
    const r = await cli(['keys', 'new', '--json', '--bucket', 'media', '--actions', 'read,write']);
    const k = JSON.parse(r.stdout) as KeyJson;
    expect(k.env).toBe(`S3GATE_SECRET_${k.accessKeyId}`);
    expect(k.yaml).not.toContain(k.secretAccessKey);
    const doc = parse(protectReferences(`keys:\n${k.yaml}upstreams: { d: { provider: local, path: /tmp/x } }\nbuckets: { media: { upstream: d } }\n`));
    const cfg = buildConfig(doc, '/tmp', { env: { [k.env!]: k.secretAccessKey } });
    expect(cfg.keys.get(k.accessKeyId)).toEqual({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, allow: [{ bucket: 'media', actions: ['read', 'write'] }] });
  });

  it('--inline puts the secret in the entry; the text form shows id, secret, entry and env line', async () => {
    const inline = JSON.parse((await cli(['keys', 'new', '--json', '--inline'])).stdout) as KeyJson;
    const cfg = buildConfig(parse(`keys:\n${inline.yaml}upstreams: { d: { provider: local, path: /tmp/x } }\nbuckets: { "*": { upstream: d } }\n`), '/tmp', { env: {} });
    expect(cfg.keys.get(inline.accessKeyId)!.secretAccessKey).toBe(inline.secretAccessKey);

    const text = await cli(['keys', 'new']);
    expect(text.code).toBe(0);
    const id = /access key id:\s+(S3G[A-Z0-9]{17})/.exec(text.stdout)![1]!;
    const secret = /secret access key:\s+(\S{40})\n/.exec(text.stdout)![1]!;
    expect(text.stdout).toContain(`- accessKeyId: ${id}`);
    expect(text.stdout).toContain(`S3GATE_SECRET_${id}=${secret}`);
  });

  it('refuses a missing subcommand or an unknown action', async () => {
    const none = await cli(['keys']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('missing subcommand');
    const bad = await cli(['keys', 'new', '--actions', 'read,fly']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown action fly; known: read, write, list, delete, admin');
    const pattern = await cli(['keys', 'new', '--bucket', 'ops-*']);
    expect(pattern.code).toBe(2);
    expect(pattern.stderr).toContain('--bucket "ops-*" is not a bucket name');
    expect(pattern.stdout).toBe('');
  });
});
