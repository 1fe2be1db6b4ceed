// The package's bin, as users run it: `s3gate --config FILE`. A bad config stops it with the
// field named; a good one serves, logs one line per request with no secret, and SIGTERM exits 0.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, GetObjectCommand, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createServer, type AddressInfo } from 'node:net';
import { selfSignedCert } from '../helpers/tls.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const SECRET = 'cli-test-secret-must-never-be-logged';

function run(args: string[], env: Record<string, string> = {}, node = process.execPath, cli = CLI) {
  const child = spawn(node, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (err += c));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  return { child, exited, out: () => out, err: () => err };
}

describe('s3gate --config', () => {
  it('refuses a wrong config before listening, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3gate-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), 'upstreams:\n  linode: { provider: linode, endpoint: https://x, credentials: { accessKeyId: a, secretAccessKey: b } }\nbuckets:\n  media: { upstream: linod }\n');
    const p = run(['--config', join(dir, 'bad.yaml')]);
    expect(await p.exited).toBe(2);
    expect(p.err()).toContain('buckets.media.upstream: no upstream "linod"; known: linode');
  });

  it('serves, logs each request without secrets, and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3gate-cli-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(join(dir, 'proxy.yaml'), `
listen: [{ address: 127.0.0.1:${port} }]
domains: [localhost]
keys: [{ accessKeyId: CLIKEY, secretAccessKey: \${CLI_SECRET}, allow: [{ bucket: "*", actions: [read, write, list, delete, admin] }] }]
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
`);
    const p = run(['--config', join(dir, 'proxy.yaml')], { CLI_SECRET: SECRET });
    // Up to 20 s: at load 10 the gateway once took over 5 s to start here.
    for (let i = 0; i < 400 && !p.out().includes('s3gate listening'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(p.out()).toContain('s3gate listening');
    const s3 = new S3Client({ endpoint: `http://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'CLIKEY', secretAccessKey: SECRET }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'cli' }));
    await s3.send(new PutObjectCommand({ Bucket: 'cli', Key: 'k', Body: 'v' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'cli', Key: 'k' }))).Body!.transformToString()).toBe('v');
    const wrong = new S3Client({ endpoint: `http://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'CLIKEY', secretAccessKey: 'wrong' }, maxAttempts: 1 });
    await wrong.send(new GetObjectCommand({ Bucket: 'cli', Key: 'k' })).catch(() => {});
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const lines = p.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.filter((l) => l.msg === 'request');
    // Logged just before process.exit: only the synchronous flush at exit can have written it.
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
    expect(access.map((l) => `${l.op} ${l.status}`)).toEqual(['CreateBucket 200', 'PutObject 200', 'GetObject 200', 'GetObject 403']);
    expect(access[1]).toMatchObject({ key: 'CLIKEY', bucket: 'cli', bytesIn: 1, upstream: 'disk' });
    expect(typeof access[1]!.reqId).toBe('string');
    expect(typeof access[1]!.ms).toBe('number');
    expect(p.out()).not.toContain(SECRET);
    expect(p.out()).not.toMatch(/Signature=|AWS4-HMAC-SHA256 Credential/);
  });
});

// A certificate that is not its key's pair, or a file that holds no PEM: `check` said `valid`,
// `serve` then died on OpenSSL's `key values mismatch` naming no field, and with workers logged
// `worker died; starting a replacement` while the whole gateway was exiting.
describe('TLS files that cannot serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 's3gate-cli-tls-'));
  const one = selfSignedCert(['localhost']);
  const two = selfSignedCert(['localhost']);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a PEM file\n');
  const config = (name: string, cert: string, key: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `
listen: [{ address: 127.0.0.1:0 }, { address: 127.0.0.1:0, tls: { cert: ${cert}, key: ${key} } }]
keys: [{ accessKeyId: CLIKEY, secretAccessKey: cli-tls-secret-abcdefghijklmnopqrstuvwx, allow: [{ bucket: "*", actions: [read] }] }]
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
`);
    return file;
  };
  const mismatch = `listen[1].tls.cert: the certificate in ${two.cert} does not match the private key in ${one.key} (they are not a pair)`;
  const noCert = `listen[1].tls.cert: ${garbage} holds no PEM certificate (no start line)`;

  it('s3gate check refuses them, naming the field (exit 2)', async () => {
    for (const [file, message] of [[config('check-pair', two.cert, one.key), mismatch], [config('check-pem', garbage, one.key), noCert]] as const) {
      const p = run(['check', '--config', file]);
      expect(await p.exited).toBe(2);
      expect(p.err()).toContain(message);
      expect(p.out()).not.toContain('valid');
    }
  });

  it('serve refuses them before listening, naming the field, with one process and with workers, and no worker is "replaced"', async () => {
    const file = config('serve-pair', two.cert, one.key);
    for (const args of [['--config', file], ['--config', file, '--workers', '2']]) {
      const p = run(args);
      expect(await p.exited).toBe(2);
      expect(p.err()).toContain(mismatch);
      expect(p.err()).not.toContain('key values mismatch');
      expect(p.out()).not.toContain('worker died');
      expect(p.out()).not.toContain('s3gate listening');
    }
  });

  it('a worker that cannot listen fails the start as a whole: no "worker died; starting a replacement"', async () => {
    // Something else holds the port: the first worker cannot bind it.
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const file = join(dir, 'taken.yaml');
      writeFileSync(file, `
listen: [{ address: 127.0.0.1:${port} }]
keys: [{ accessKeyId: CLIKEY, secretAccessKey: cli-tls-secret-abcdefghijklmnopqrstuvwx, allow: [{ bucket: "*", actions: [read] }] }]
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
`);
      const p = run(['--config', file, '--workers', '2']);
      expect(await p.exited).toBe(1);
      expect(p.err()).toContain('EADDRINUSE');
      expect(p.out()).not.toContain('worker died');
      expect(p.out()).not.toContain('s3gate listening');
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});

// The machine's own `node`, where it is older than the package allows (Node 20 on the bench
// machine): what `node dist/cli.js` runs on when the shell finds it first.
const OLD_NODE = (() => {
  try {
    const v = execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).trim();
    return Number(/^v(\d+)/.exec(v)?.[1]) < 22 ? '/usr/bin/node' : undefined;
  } catch {
    return undefined;
  }
})();

describe('on a Node older than the package asks for', () => {
  const repo = join(import.meta.dirname, '../..');

  it('refuses to start before anything listens, naming the Node it needs and how to get it', async () => {
    // A copy of the package whose engines ask for more than this Node has: the check an older Node meets.
    const dir = mkdtempSync(join(tmpdir(), 's3gate-old-node-'));
    cpSync(join(repo, 'dist'), join(dir, 'dist'), { recursive: true });
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { engines: { node: string } };
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, engines: { node: '>=99.0.0' } }));
    const p = run(['--config', join(repo, 'proxy.yaml')], {}, process.execPath, join(dir, 'dist/cli.js'));
    expect(await p.exited).toBe(2);
    expect(p.err()).toContain(`s3gate: Node.js 99.0.0 or later is needed; this is ${process.version} (${process.execPath}).`);
    expect(p.err()).toContain('`npm start` and `npx s3gate` run on the project\'s own Node');
    expect(p.out()).not.toContain('listening');
    // --version still answers: it is how a user finds out what they have.
    const v = run(['--version'], {}, process.execPath, join(dir, 'dist/cli.js'));
    expect(await v.exited).toBe(0);
  });

  it.runIf(OLD_NODE)('the machine\'s own older node: `node dist/cli.js` with two workers is refused at once, not half started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3gate-old-node-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(join(dir, 'proxy.yaml'), `
listen: [{ address: 127.0.0.1:${port} }]
workers: 2
keys: [{ accessKeyId: OLDKEY, secretAccessKey: old-node-secret-abcdefghijklmnop, allow: [{ bucket: "*", actions: [read] }] }]
upstreams: { disk: { provider: local, path: ${JSON.stringify(dir)} } }
buckets: { "*": { upstream: disk } }
`);
    const p = run(['--config', join(dir, 'proxy.yaml')], {}, OLD_NODE!);
    expect(await p.exited).toBe(2);
    expect(p.err()).toMatch(/^s3gate: Node\.js 22\.12\.0 or later is needed; this is v(1|20|21)\S* \(\/usr\/bin\/node\)\./);
    expect(p.out()).not.toContain('listening');
  });
});
