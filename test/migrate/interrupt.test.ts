// Stopping a multipart copy halfway. SIGKILL leaves the upload open at the new provider and
// the restart continues it, sending only the parts that are missing; SIGINT aborts it, so
// nothing partial remains, flushes the journal and exits 130.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, md5, MiB, report, runCli } from './helpers.js';

const OLD = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const NEW = { accessKeyId: 'NEWPROVIDERKEY', secretAccessKey: 'new-provider-secret-abcdefghijklmnopqrst' };
const env = { OLD_SECRET: OLD.secretAccessKey, NEW_SECRET: NEW.secretAccessKey };
const KEY = 'videos/huge ü+.mp4';
const SIZE = 42 * MiB; // 9 parts of 5 MiB, sent one after the other

let oldUp: StrictUpstream;
let newUp: StrictUpstream;
let dir: string;
let config: string;

const handle = (up: StrictUpstream, method: string, bucket: string, key?: string, query = '', headers: Record<string, string> = {}, body?: Buffer) =>
  up.store.handle({ method, bucket, ...(key ? { key } : {}), query: new URLSearchParams(query), headers, body: Readable.from(body ? [body] : []) });

const ok = (bucket: string, op: string) => newUp.requests.filter((r) => r.bucket === bucket && r.operation === op && r.status === 200);

async function untilPartsStored(bucket: string, n: number) {
  while (ok(bucket, 'UploadPart').length < n) await new Promise((r) => setTimeout(r, 5));
}

async function openUploads(bucket: string): Promise<string> {
  return String((await handle(newUp, 'GET', bucket, undefined, 'uploads=')).body);
}

beforeAll(async () => {
  oldUp = await startStrictUpstream({ ...OLD, region: 'us-east-1' });
  newUp = await startStrictUpstream({ ...NEW, region: 'us-east-1' });
  await handle(oldUp, 'PUT', 'old');
  await handle(oldUp, 'PUT', 'old', KEY, '', { 'content-type': 'video/mp4', 'x-amz-meta-take': '3', 'content-length': String(SIZE) }, bytesFor(KEY, SIZE));
  for (const b of ['killed', 'interrupted']) await handle(newUp, 'PUT', b);
  dir = tmpDir('s3gate-migrate-int-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  old: { provider: linode, endpoint: ${oldUp.url}, credentials: { accessKeyId: ${OLD.accessKeyId}, secretAccessKey: \${OLD_SECRET} } }
  new: { provider: linode, endpoint: ${newUp.url}, credentials: { accessKeyId: ${NEW.accessKeyId}, secretAccessKey: \${NEW_SECRET} } }
buckets:
  killed: { mode: migrate, upstream: new, from: { upstream: old, bucket: old } }
  interrupted: { mode: migrate, upstream: new, from: { upstream: old, bucket: old } }
`);
});

afterAll(async () => {
  await oldUp?.close();
  await newUp?.close();
});

const args = (bucket: string) => ['migrate', '--config', config, '--bucket', bucket, '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json'];

describe('a multipart copy stopped halfway', () => {
  it('SIGKILL: the restart continues the same upload and sends each part once', async () => {
    const first = runCli(args('killed'), dir, env);
    await untilPartsStored('killed', 2);
    first.child.kill('SIGKILL');
    await first.exited;
    const journal = readFileSync(join(dir, '.s3gate-migrate-killed.jsonl'), 'utf8');
    const uploadId = (JSON.parse(journal.split('\n').find((l) => l.includes('"t":"mpu"'))!) as { u: string }).u;
    expect(await openUploads('killed')).toContain(uploadId);
    const partsBefore = ok('killed', 'UploadPart').length;
    expect(partsBefore).toBeLessThan(9);

    const second = runCli(args('killed'), dir, env);
    expect(await second.exited, second.err()).toEqual({ code: 0, signal: null });
    expect(report(second)).toMatchObject({ copied: 1, failed: 0 });
    const parts = ok('killed', 'UploadPart').map((r) => new URL(r.url, 'http://x').searchParams);
    expect(parts.map((p) => p.get('uploadId'))).toEqual(Array(9).fill(uploadId)); // the same upload, continued
    expect(parts.map((p) => Number(p.get('partNumber'))).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ok('killed', 'CreateMultipartUpload')).toHaveLength(1);
    expect(ok('killed', 'CompleteMultipartUpload')).toHaveLength(1);
    expect(await openUploads('killed')).not.toContain('<Upload>');
    const head = await handle(newUp, 'HEAD', 'killed', KEY);
    expect([head.headers['content-type'], head.headers['x-amz-meta-take'], head.headers['content-length']]).toEqual(['video/mp4', '3', String(SIZE)]);
    const got = await handle(newUp, 'GET', 'killed', KEY);
    const chunks: Buffer[] = [];
    for await (const c of got.body as Readable) chunks.push(Buffer.from(c as Buffer));
    expect(md5(Buffer.concat(chunks))).toBe(md5(bytesFor(KEY, SIZE)));
  }, 120_000);

  it('SIGINT: aborts the upload, flushes the journal, exits 130; the next run copies it', async () => {
    const first = runCli(args('interrupted'), dir, env);
    await untilPartsStored('interrupted', 1);
    first.child.kill('SIGINT');
    expect(await first.exited).toEqual({ code: 130, signal: null });
    expect(report(first)).toMatchObject({ stopped: true, copied: 0 });
    expect(newUp.requests.filter((r) => r.bucket === 'interrupted' && r.operation === 'AbortMultipartUpload' && r.status === 204)).toHaveLength(1);
    expect(await openUploads('interrupted')).not.toContain('<Upload>');
    expect((await handle(newUp, 'HEAD', 'interrupted', KEY).catch((e: { status: number }) => ({ status: e.status }))).status).toBe(404);
    const lines = readFileSync(join(dir, '.s3gate-migrate-interrupted.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { t: string });
    expect(lines.map((l) => l.t)).toEqual(['begin', 'mpu', 'mpu-end']);

    const second = runCli(args('interrupted'), dir, env);
    expect((await second.exited).code).toBe(0);
    expect(report(second)).toMatchObject({ copied: 1 });
  }, 120_000);
});
