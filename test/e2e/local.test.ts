// The out-of-the-box path: the README's quick start, as written, against `s3gate --config
// proxy.yaml` (the local store), and a gateway killed in the middle of a PUT leaving nothing.
import { describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { startCli as start } from '../helpers/cli.js';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { request } from 'undici';
import { HeadObjectCommand, ListObjectsV2Command, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { tmpDir } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';

const ROOT = join(import.meta.dirname, '../..');
const DEMO = { accessKeyId: 'S3GATEDEMOKEY', secretAccessKey: 's3gate-demo-secret-change-me' };

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill(signal);
  });
}

function readmeBlock(lang: string): string {
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  if (!m) throw new Error(`README has no ${lang} block`);
  return m[1]!;
}

describe('quick start with the default proxy.yaml', () => {
  it('prints the demo key, and the README\'s boto3 snippet and AWS CLI line work as written', async () => {
    const dir = tmpDir('s3gate-quickstart-');
    copyFileSync(join(ROOT, 'proxy.yaml'), join(dir, 'proxy.yaml'));
    copyFileSync(join(ROOT, 'README.md'), join(dir, 'README.md'));
    const gw = await start(['--config', join(dir, 'proxy.yaml')], { cwd: dir, env: { S3GATE_LISTEN: '127.0.0.1:0' } });
    const port = gw.port;
    try {
      for (let i = 0; i < 100 && !gw.err().includes('demo secret'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(gw.err()).toContain(`demo key:    ${DEMO.accessKeyId}`);
      const py = readmeBlock('python').replaceAll('localhost:8080', `localhost:${port}`);
      const out = await runPython(py + '\nprint(json.dumps("done"))', {}, MODERN_PYTHON);
      expect(out).toBe('done');
      const cliLine = /```sh\n(AWS_ACCESS_KEY_ID[\s\S]*?)```/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))![1]!.replaceAll('localhost:8080', `localhost:${port}`);
      const res = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile('bash', ['-c', cliLine], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir } }, (e, _o, stderr) => resolve({ code: e ? 1 : 0, stderr }));
      });
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      const s3 = new S3Client({ endpoint: `http://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: DEMO });
      const keys = (await s3.send(new ListObjectsV2Command({ Bucket: 'demo' }))).Contents?.map((c) => c.Key);
      expect(keys).toEqual(['README.md', 'greeting.txt']);
    } finally {
      await stop(gw.child);
    }
  });
});

describe('a gateway killed in the middle of a PUT', () => {
  it('leaves no partial object, visible or on disk outside the store\'s temp area', async () => {
    const dir = tmpDir('s3gate-kill-');
    copyFileSync(join(ROOT, 'proxy.yaml'), join(dir, 'proxy.yaml'));
    let gw = await start(['--config', join(dir, 'proxy.yaml')], { cwd: dir, env: { S3GATE_LISTEN: '127.0.0.1:0' } });
    const port = gw.port;
    const s3 = new S3Client({ endpoint: `http://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: DEMO, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'crash' }));

    // A declared 8 MiB body of which only 1 MiB ever arrives before the process dies.
    const total = 8 * 1024 * 1024;
    const signer = new SignatureV4({ credentials: DEMO, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: 'localhost', port, path: '/crash/half.bin', query: {},
      headers: { host: `localhost:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(total) } });
    const body = Readable.from((async function* () {
      yield Buffer.alloc(1024 * 1024, 1);
      await new Promise((r) => setTimeout(r, 60_000));
    })());
    const pending = request(`http://localhost:${port}/crash/half.bin`, { method: 'PUT', headers: signed.headers as Record<string, string>, body }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 500));
    await stop(gw.child, 'SIGKILL');
    expect(await pending).toBeInstanceOf(Error);

    gw = await start(['--config', join(dir, 'proxy.yaml')], { cwd: dir, env: { S3GATE_LISTEN: `127.0.0.1:${port}` } });
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'crash', Key: 'half.bin' })).catch((e: { $metadata: { httpStatusCode: number } }) => e.$metadata.httpStatusCode);
      expect(head).toBe(404);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'crash' }));
      expect(listed.KeyCount).toBe(0);
      // The only place a partial write may sit is the store's own temp area.
      expect(readdirSync(join(dir, 'data', 'crash')).filter((f) => f !== '.s3gate')).toEqual([]);
    } finally {
      await stop(gw.child);
    }
  });
});
