// `s3gate migrate` against a real Ceph RGW 16 (Pacific, what Linode runs): user a's bucket is
// the old provider, user b's the new one. 2,000 objects, a SIGKILL halfway, a restart, and
// `--verify` agreeing with the result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, md5, MiB, report, runCli, seedSet, waitForProgress } from './helpers.js';

let ceph: CephInfo;
let a: S3Client;
let b: S3Client;
let dir: string;
let config: string;
const run = Math.random().toString(36).slice(2, 8);
const OLD = `mig-old-${run}`;
const NEW = `mig-new-${run}`;
const objects = seedSet();
const big = objects.at(-1)!;
const env = () => ({ A_SECRET: ceph.users.a.secretAccessKey, B_SECRET: ceph.users.b.secretAccessKey });
const MP = ['--multipart-threshold', '5MiB', '--part-size', '5MiB'];

const s3 = (creds: CephInfo['users']['a']) =>
  new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 3 });

function meta(o: { headers: Record<string, string> }) {
  const h = o.headers;
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-amz-meta-')) metadata[k.slice(11)] = v;
  return {
    ...(h['content-type'] ? { ContentType: h['content-type'] } : {}),
    ...(h['cache-control'] ? { CacheControl: h['cache-control'] } : {}),
    ...(h['content-disposition'] ? { ContentDisposition: h['content-disposition'] } : {}),
    ...(h['content-encoding'] ? { ContentEncoding: h['content-encoding'] } : {}),
    Metadata: metadata,
  };
}

beforeAll(async () => {
  ceph = await ensureCeph();
  a = s3(ceph.users.a);
  b = s3(ceph.users.b);
  await a.send(new CreateBucketCommand({ Bucket: OLD }));
  await b.send(new CreateBucketCommand({ Bucket: NEW }));
  const small = objects.slice(0, -1);
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < small.length) {
      const o = small[next++]!;
      await a.send(new PutObjectCommand({ Bucket: OLD, Key: o.key, Body: bytesFor(o.key, o.size), ...meta(o) }));
    }
  }));
  // The big one as a 2-part upload at the old provider: its ETag (…-2) cannot match our
  // 5 MiB-part copy (…-3), so the journal is what proves them equal.
  await new Upload({ client: a, params: { Bucket: OLD, Key: big.key, Body: bytesFor(big.key, big.size), ...meta(big) }, partSize: 6 * MiB, queueSize: 2 }).done();
  dir = tmpDir('s3gate-migrate-ceph-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  ceph-a: { provider: linode, endpoint: ${ceph.endpoint}, region: us-east-1, credentials: { accessKeyId: ${ceph.users.a.accessKeyId}, secretAccessKey: \${A_SECRET} } }
  ceph-b: { provider: linode, endpoint: ${ceph.endpoint}, region: us-east-1, credentials: { accessKeyId: ${ceph.users.b.accessKeyId}, secretAccessKey: \${B_SECRET} } }
buckets:
  media:
    mode: migrate
    upstream: ceph-b
    bucket: ${NEW}
    from: { upstream: ceph-a, bucket: ${OLD} }
`);
}, 600_000);

afterAll(async () => {
  a?.destroy();
  b?.destroy();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

describe('s3gate migrate on Ceph RGW 16 (user a → user b)', () => {
  it('2,000 objects, SIGKILL halfway, restart: each copied once, verify clean, metadata kept', async () => {
    const started = Date.now();
    const first = runCli(['migrate', '--config', config, '--bucket', 'media', '--concurrency', '8', ...MP, '--page-size', '250', '--progress-interval', '0.05'], dir, env());
    const seen = await waitForProgress(first, 700);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = runCli(['migrate', '--config', config, '--bucket', 'media', '--concurrency', '8', ...MP, '--page-size', '250', '--json'], dir, env());
    expect(await second.exited, second.err()).toEqual({ code: 0, signal: null });
    const r = report(second);
    console.log(`2,000-object run (Ceph RGW 16): ${((Date.now() - started) / 1000).toFixed(1)} s in total; killed after ${seen} settled, then ${r.copied} copied and ${r.skipped} skipped`);
    expect(r).toMatchObject({ failed: 0, stopped: false });
    expect(Number(r.copied)).toBeLessThan(objects.length);

    // Each key copied once: the journal is the record (RGW keeps no request log for us).
    const lines = readFileSync(join(dir, '.s3gate-migrate-media.jsonl'), 'utf8').split('\n').filter(Boolean);
    const copied = lines.flatMap((l) => { try { const x = JSON.parse(l) as { t: string; k: string }; return x.t === 'copied' ? [x.k] : []; } catch { return []; } });
    expect(new Set(copied).size).toBe(copied.length);
    expect(copied.length).toBeLessThanOrEqual(objects.length);

    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: b }, { Bucket: NEW })) for (const c of page.Contents ?? []) keys.push(c.Key!);
    expect(keys.sort()).toEqual(objects.map((o) => o.key).sort());

    for (const o of [big, ...objects.filter((_, i) => i % 97 === 0 || i % 50 === 7).slice(0, 20)]) {
      const [x, y] = await Promise.all([a.send(new HeadObjectCommand({ Bucket: OLD, Key: o.key })), b.send(new HeadObjectCommand({ Bucket: NEW, Key: o.key }))]);
      expect([y.ContentType, y.ContentLength, y.CacheControl, y.ContentDisposition, y.ContentEncoding, y.Metadata], o.key).toEqual([x.ContentType, x.ContentLength, x.CacheControl, x.ContentDisposition, x.ContentEncoding, x.Metadata]);
      const body = Buffer.from(await (await b.send(new GetObjectCommand({ Bucket: NEW, Key: o.key }))).Body!.transformToByteArray());
      expect(md5(body), o.key).toBe(md5(bytesFor(o.key, o.size)));
    }
    const bigHead = await b.send(new HeadObjectCommand({ Bucket: NEW, Key: big.key }));
    expect(bigHead.ETag).toMatch(/-3"$/);

    const verify = runCli(['migrate', '--config', config, '--bucket', 'media', '--verify', '--json'], dir, env());
    expect(await verify.exited, verify.out().slice(-2000)).toEqual({ code: 0, signal: null });
    expect(report(verify)).toMatchObject({ listed: objects.length, skipped: objects.length, failed: 0, differences: {} });

    const dry = runCli(['migrate', '--config', config, '--bucket', 'media', '--dry-run', '--json'], dir, env());
    expect((await dry.exited).code).toBe(0);
    expect(report(dry)).toMatchObject({ wouldCopy: { objects: 0, bytes: 0 } });
  }, 600_000);
});
