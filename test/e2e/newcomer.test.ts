// What a newcomer hit first in a trial run from the README (#19 part 4): the CLI's flags and
// messages, a fresh local store that is ready, CreateBucket twice, ListBuckets dates, virtual-host
// names under nested gateway domains, and access lines that name the key a failed request tried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../commands/run-cli.js';
import { startCli } from '../helpers/cli.js';
import { client, failure, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

const ROOT = join(import.meta.dirname, '../..');
const GRANTS = [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }];

describe('the bin', () => {
  it('s3gate --version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `s3gate ${pkg.version}\n` });
  });

  it('serve --listen HOST:PORT (repeatable) listens there instead of the config, and serves', async () => {
    const dir = tmpDir('s3gate-listen-');
    writeFileSync(join(dir, 'proxy.yaml'), readFileSync(join(ROOT, 'proxy.yaml')));
    const gw = await startCli(['serve', '--config', join(dir, 'proxy.yaml'), '--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0'], { cwd: dir });
    try {
      const urls = gw.lines().find((l) => l.msg === 's3gate listening')!.listen as string[];
      expect(urls).toHaveLength(2);
      expect(new Set(urls).size).toBe(2);
      for (const url of urls) {
        const s3 = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
          credentials: { accessKeyId: 'S3GATEDEMOKEY', secretAccessKey: 's3gate-demo-secret-change-me' } });
        expect((await s3.send(new ListBucketsCommand({}))).$metadata.httpStatusCode).toBe(200);
      }
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
    const bad = await cli(['serve', '--config', join(dir, 'proxy.yaml'), '--listen', 'nowhere']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--listen: "nowhere" is not host:port');
  });

  it('a mistyped provider name prints only the root cause', async () => {
    const dir = tmpDir('s3gate-typo-');
    writeFileSync(join(dir, 'proxy.yaml'), readFileSync(join(ROOT, 'proxy.yaml'), 'utf8').replace('provider: local', 'provider: locl'));
    const r = await cli(['check', '--config', join(dir, 'proxy.yaml')]);
    expect(r.code).toBe(2);
    const problems = r.stderr.trim().split('\n').slice(1);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ {2}upstreams\.disk\.provider: no preset "locl"; known: .*local/);
  });

  it('a YAML syntax error shows the line and a caret under the column', async () => {
    const dir = tmpDir('s3gate-yaml-');
    writeFileSync(join(dir, 'proxy.yaml'), 'upstreams:\n  disk: { provider: local, path: ./data }\nbuckets:\n  demo: upstream: disk\n');
    const r = await cli(['--config', join(dir, 'proxy.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not valid YAML: .*line 4, column \d+:/);
    expect(r.stderr).toContain('  demo: upstream: disk\n');
    expect(r.stderr).toMatch(/\n {2,}\^/);
  });

  it('a missing config file says why', async () => {
    const r = await cli(['--config', '/nonexistent/s3gate.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/nonexistent/s3gate.yaml: cannot read the config file: no such file');
  });

  it('check on a fresh local store says the path will be created, and the gateway then creates it and reports ready', async () => {
    const dir = tmpDir('s3gate-fresh-');
    writeFileSync(join(dir, 'proxy.yaml'), `keys: []\nupstreams: { disk: { provider: local, path: ./data } }\nbuckets: { "*": { upstream: disk } }\n`);
    const r = await cli(['check', '--config', join(dir, 'proxy.yaml')]);
    expect(r.stdout).toContain('will be created');
    expect(r.stdout).toContain('all 2 probes passed\n');
    expect(r.code).toBe(0);
    // A gateway started on a store nobody has touched yet.
    const fresh = join(dir, 'fresh', 'data');
    const gw = await startTestGateway({ admin: { address: '127.0.0.1:0' }, keys: GRANTS, upstreams: { disk: { provider: 'local', path: fresh } }, buckets: { '*': { upstream: 'disk' } } });
    try {
      const ready = await fetch(`${gw.adminUrl}/readyz`);
      expect(await ready.json()).toMatchObject({ ready: true, upstreams: { disk: 'ok' } });
      expect(ready.status).toBe(200);
      expect(existsSync(fresh)).toBe(true);
    } finally {
      await gw.close();
    }
  });
});

describe('CreateBucket of a bucket the caller already owns (the local store)', () => {
  it("the README's boto3 snippet runs twice without error in us-east-1", async () => {
    const dir = tmpDir('s3gate-twice-');
    writeFileSync(join(dir, 'proxy.yaml'), readFileSync(join(ROOT, 'proxy.yaml')));
    const gw = await startCli(['--config', join(dir, 'proxy.yaml'), '--listen', '127.0.0.1:0'], { cwd: dir });
    try {
      const snippet = /```python\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))![1]!.replaceAll('localhost:8080', `localhost:${gw.port}`);
      expect(await runPython(snippet + '\nprint(json.dumps("once"))', {}, MODERN_PYTHON)).toBe('once');
      expect(await runPython(snippet + '\nprint(json.dumps("twice"))', {}, MODERN_PYTHON)).toBe('twice');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  it('elsewhere: 409 BucketAlreadyOwnedByYou, as S3 answers outside us-east-1', async () => {
    const gw = await startTestGateway({ region: 'eu-west-1', keys: GRANTS, upstreams: { disk: { provider: 'local', path: tmpDir('s3gate-eu-'), region: 'eu-west-1' } }, buckets: { '*': { upstream: 'disk' } } });
    try {
      const s3 = client(gw.url, GW_KEY, { forcePathStyle: true, region: 'eu-west-1' });
      await s3.send(new CreateBucketCommand({ Bucket: 'twice', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
      const e = await failure(s3.send(new CreateBucketCommand({ Bucket: 'twice', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })));
      expect(e.name).toBe('BucketAlreadyOwnedByYou');
      expect(e.$metadata.httpStatusCode).toBe(409);
    } finally {
      await gw.close();
    }
  });
});

describe('ListBuckets', () => {
  it("shows the provider's creation date for routed buckets, and the config's load time where the provider lists none", async () => {
    const path = tmpDir('s3gate-dates-');
    const before = Date.now();
    const gw = await startTestGateway({
      keys: GRANTS, upstreams: { disk: { provider: 'local', path } },
      buckets: { media: { upstream: 'disk', bucket: 'media-prod' }, ghost: { upstream: 'disk', bucket: 'not-created' }, '*': { upstream: 'disk' } },
    });
    try {
      const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
      await s3.send(new CreateBucketCommand({ Bucket: 'media' }));
      await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
      const listed = (await s3.send(new ListBucketsCommand({}))).Buckets!;
      expect(listed.map((b) => b.Name)).toEqual(['ghost', 'media', 'plain']);
      for (const b of listed) {
        expect(b.CreationDate!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
        expect(b.CreationDate!.getTime()).toBeLessThanOrEqual(Date.now());
      }
      const created = listed.find((b) => b.Name === 'media')!.CreationDate!.getTime();
      const loaded = listed.find((b) => b.Name === 'ghost')!.CreationDate!.getTime();
      expect(created).toBeGreaterThanOrEqual(Math.floor(loaded / 1000) * 1000);
    } finally {
      await gw.close();
    }
  });
});

describe('gateway domains where one ends in the other', () => {
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    gw = await startTestGateway({ domains: ['gateway.test', 's3.gateway.test'], keys: GRANTS, upstreams: { disk: { provider: 'local', path: tmpDir('s3gate-nested-') } }, buckets: { '*': { upstream: 'disk' } } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('the SDK with default (virtual-host) addressing on s3.gateway.test reaches bucket demo, not bucket s3', async () => {
    const port = new URL(gw.url).port;
    const vhost = client(`http://s3.gateway.test:${port}`, GW_KEY);
    const path = client(`http://s3.gateway.test:${port}`, GW_KEY, { forcePathStyle: true });
    await path.send(new CreateBucketCommand({ Bucket: 'demo' }));
    await vhost.send(new PutObjectCommand({ Bucket: 'demo', Key: 'x', Body: 'nested' }));
    expect(await (await path.send(new GetObjectCommand({ Bucket: 'demo', Key: 'x' }))).Body!.transformToString()).toBe('nested');
    const line = gw.sink.lines.filter((l) => l.msg === 'request' && l.op === 'PutObject').at(-1);
    expect(line?.bucket).toBe('demo');
  });
});

describe('the access line of a failed authentication', () => {
  it('names the access key id that was tried, never the secret or the signature', async () => {
    const gw = await startTestGateway({ keys: GRANTS, upstreams: { disk: { provider: 'local', path: tmpDir('s3gate-tried-') } }, buckets: { '*': { upstream: 'disk' } } });
    try {
      const secret = 'a-wrong-secret-abcdefghijklmnopqrstuvwxyz0';
      const bad = client(gw.url, { accessKeyId: 'NOSUCHKEY123', secretAccessKey: secret }, { forcePathStyle: true });
      await failure(bad.send(new ListBucketsCommand({})));
      const wrongSecret = client(gw.url, { accessKeyId: GW_KEY.accessKeyId, secretAccessKey: secret }, { forcePathStyle: true });
      await failure(wrongSecret.send(new ListBucketsCommand({})));
      const lines = gw.sink.lines.filter((l) => l.msg === 'request');
      expect(lines.map((l) => [l.triedKey, l.error])).toEqual([['NOSUCHKEY123', 'InvalidAccessKeyId'], [GW_KEY.accessKeyId, 'SignatureDoesNotMatch']]);
      expect(gw.sink.text()).not.toContain(secret);
      expect(gw.sink.text()).not.toMatch(/Signature=|[0-9a-f]{64}/);
    } finally {
      await gw.close();
    }
  });
});

describe("the README's s3cmd and rclone recipes", () => {
  const ini = (name: string) => {
    const block = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(`[${name}]`));
    if (!block) throw new Error(`README has no [${name}] ini block`);
    return block;
  };
  const sh = (cmd: string, args: string[], cwd: string) => new Promise<{ code: number; out: string }>((resolve) => {
    execFile(cmd, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd }, timeout: 60_000 }, (e, stdout, stderr) => resolve({ code: e ? 1 : 0, out: stdout + stderr }));
  });

  it('s3cmd and rclone, configured as written, upload, list and download through the quick-start gateway', async () => {
    const dir = tmpDir('s3gate-recipes-');
    writeFileSync(join(dir, 'proxy.yaml'), readFileSync(join(ROOT, 'proxy.yaml')));
    writeFileSync(join(dir, 'hello.txt'), 'hello from a recipe\n');
    const gw = await startCli(['--config', join(dir, 'proxy.yaml'), '--listen', '127.0.0.1:0'], { cwd: dir });
    try {
      const port = (s: string) => s.replaceAll('localhost:8080', `localhost:${gw.port}`);
      writeFileSync(join(dir, 's3cfg'), port(ini('default')));
      writeFileSync(join(dir, 'rclone.conf'), port(ini('s3gate')));
      expect(await sh('s3cmd', ['-c', 's3cfg', 'mb', 's3://recipes'], dir)).toMatchObject({ code: 0 });
      expect(await sh('s3cmd', ['-c', 's3cfg', 'put', 'hello.txt', 's3://recipes/s3cmd.txt'], dir)).toMatchObject({ code: 0 });
      expect((await sh('s3cmd', ['-c', 's3cfg', 'ls', 's3://recipes'], dir)).out).toContain('s3://recipes/s3cmd.txt');
      expect(await sh('rclone', ['--config', 'rclone.conf', 'copyto', 'hello.txt', 's3gate:recipes/rclone.txt'], dir)).toMatchObject({ code: 0 });
      const ls = await sh('rclone', ['--config', 'rclone.conf', 'ls', 's3gate:recipes'], dir);
      expect(ls.out).toMatch(/20 rclone\.txt/);
      expect(ls.out).toMatch(/20 s3cmd\.txt/);
      expect((await sh('rclone', ['--config', 'rclone.conf', 'cat', 's3gate:recipes/s3cmd.txt'], dir)).out).toBe('hello from a recipe\n');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });
});
