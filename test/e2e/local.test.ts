// The out-of-the-box path: the README's quick start, as written, against `s3gate --config
// proxy.yaml` (the local store), and a gateway killed in the middle of a PUT leaving nothing.
import { describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { startCli as start, waitFor } from '../helpers/cli.js';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { request } from 'undici';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
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

describe('a gateway killed in the middle of a copy or a complete', () => {
  // Killed while the store spools the new bytes (a temp file exists): after the restart the key is
  // the old object or the new one, whole, with its own metadata, and nothing is left on disk that
  // no object names. Without the store's sweep of what a dead process left, the temp file stays.
  it('leaves the old object or the new one, and no stray files once the store restarts', async () => {
    const dir = tmpDir('s3gate-kill2-');
    copyFileSync(join(ROOT, 'proxy.yaml'), join(dir, 'proxy.yaml'));
    let gw = await start(['--config', join(dir, 'proxy.yaml')], { cwd: dir, env: { S3GATE_LISTEN: '127.0.0.1:0' } });
    const port = gw.port;
    const s3 = new S3Client({ endpoint: `http://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: DEMO, maxAttempts: 1 });
    const B = 'crash2';
    const bucketDir = join(dir, 'data', B);
    const tmp = join(bucketDir, '.s3gate', 'tmp');
    const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
    const big = Buffer.alloc(48 * 1024 * 1024, 'n');
    const old = Buffer.from('the old object');
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'big', Body: big, Metadata: { which: 'new' } }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'target', Body: old, Metadata: { which: 'old' } }));
    const part = Buffer.alloc(6 * 1024 * 1024, 'p');
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'target', Metadata: { which: 'mpu' } }));
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (let n = 1; n <= 6; n++) parts.push({ PartNumber: n, ETag: (await s3.send(new UploadPartCommand({ Bucket: B, Key: 'target', UploadId: upload.UploadId, PartNumber: n, Body: part }))).ETag! });

    const killDuringSpool = async (send: () => Promise<unknown>) => {
      const pending = send().catch((e: Error) => e);
      await waitFor(() => readdirSync(tmp).length > 0, 60_000);
      await stop(gw.child, 'SIGKILL');
      await pending;
      gw = await start(['--config', join(dir, 'proxy.yaml')], { cwd: dir, env: { S3GATE_LISTEN: `127.0.0.1:${port}` } });
    };
    const expectWholeAndClean = async (allowed: Record<string, Buffer>) => {
      const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'target' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      const which = got.Metadata?.which ?? '';
      expect(Object.keys(allowed)).toContain(which);
      expect(bytes.equals(allowed[which]!)).toBe(true);
      if (!got.ETag!.includes('-')) expect(got.ETag).toBe(md5(bytes));
      expect(readdirSync(tmp)).toEqual([]);
      // Every data file in the bucket directory is one a sidecar names.
      const named = readdirSync(join(bucketDir, '.s3gate', 'meta')).map((n) => (JSON.parse(readFileSync(join(bucketDir, '.s3gate', 'meta', n), 'utf8')) as { data: string }).data);
      expect(readdirSync(bucketDir).filter((f) => f !== '.s3gate').sort()).toEqual(named.sort());
    };
    try {
      await killDuringSpool(() => s3.send(new CopyObjectCommand({ Bucket: B, Key: 'target', CopySource: `${B}/big` })));
      await expectWholeAndClean({ old, new: big });
      await killDuringSpool(() => s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'target', UploadId: upload.UploadId, MultipartUpload: { Parts: parts } })));
      await expectWholeAndClean({ old, new: big, mpu: Buffer.concat(Array(6).fill(part)) });
      // The upload was not completed by the dead process, so it completes now.
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'target', UploadId: upload.UploadId, MultipartUpload: { Parts: parts } }));
      await expectWholeAndClean({ mpu: Buffer.concat(Array(6).fill(part)) });
    } finally {
      await stop(gw.child);
    }
  }, 300_000);
});

describe('the local store served by two workers', () => {
  // Each worker is its own process with its own in-process locks: only the store's lock files make
  // a conditional write's check and commit one step across them.
  it('of 32 racing If-None-Match: * PUTs of one key exactly one succeeds', async () => {
    const dir = tmpDir('s3gate-workers-');
    copyFileSync(join(ROOT, 'proxy.yaml'), join(dir, 'proxy.yaml'));
    const gw = await start(['--config', join(dir, 'proxy.yaml')], { cwd: dir, env: { S3GATE_LISTEN: '127.0.0.1:0', S3GATE_WORKERS: '2' } });
    try {
      const clients = Array.from({ length: 8 }, () => new S3Client({ endpoint: `http://localhost:${gw.port}`, region: 'us-east-1', forcePathStyle: true, credentials: DEMO, maxAttempts: 1 }));
      await clients[0]!.send(new CreateBucketCommand({ Bucket: 'workers' }));
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(Array.from({ length: 32 }, (_, i) =>
          clients[i % 8]!.send(new PutObjectCommand({ Bucket: 'workers', Key: `once-${round}`, Body: `writer ${i}`, IfNoneMatch: '*' })).then(() => 200, (e: { $metadata: { httpStatusCode: number } }) => e.$metadata.httpStatusCode)));
        expect(results.filter((s) => s === 200)).toHaveLength(1);
        expect(results.filter((s) => s === 412)).toHaveLength(31);
      }
    } finally {
      await stop(gw.child);
    }
  }, 120_000);
});
