// The copier against a real Ceph RGW 16, where what the provider honours decides the outcome:
// RGW 16 refuses a PUT with If-None-Match: * on an existing key (412) and ignores the condition
// on CompleteMultipartUpload, and its multipart ETags are S3's composite. User a's bucket is the
// old provider, user b's the new one; the copier reaches RGW through a proxy that lets a client
// write land between the copier's decision and its commit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, MiB, report, runCli } from './helpers.js';
import { startFaultProxy, type FaultProxy } from './proxy.js';

let ceph: CephInfo;
let a: S3Client;
let b: S3Client;
let proxy: FaultProxy;
let dir: string;
let config: string;
const run = Math.random().toString(36).slice(2, 8);
const OLD = `mig-nw-old-${run}`;
const NEW = `mig-nw-new-${run}`;
const env = () => ({ A_SECRET: ceph.users.a.secretAccessKey, B_SECRET: ceph.users.b.secretAccessKey });
const s3 = (creds: CephInfo['users']['a']) =>
  new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const bodyOf = async (key: string) => Buffer.from(await (await b.send(new GetObjectCommand({ Bucket: NEW, Key: key }))).Body!.transformToByteArray());
const keyOf = (url: string) => decodeURIComponent(new URL(url, 'http://x').pathname.split('/').slice(2).join('/'));
const migrate = (extra: string[] = []) => runCli(['migrate', '--config', config, '--bucket', 'media', '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json', ...extra], dir, env());

beforeAll(async () => {
  ceph = await ensureCeph();
  a = s3(ceph.users.a);
  b = s3(ceph.users.b);
  await a.send(new CreateBucketCommand({ Bucket: OLD }));
  await b.send(new CreateBucketCommand({ Bucket: NEW }));
  for (const k of ['between.txt', 'during.txt', 'plain.txt']) await a.send(new PutObjectCommand({ Bucket: OLD, Key: k, Body: bytesFor(k, 3000) }));
  await a.send(new PutObjectCommand({ Bucket: OLD, Key: 'during-big.bin', Body: bytesFor('during-big.bin', 11 * MiB) }));
  // A multipart source in 6 MiB parts: its composite ETag is what the copy is checked against.
  await new Upload({ client: a, params: { Bucket: OLD, Key: 'parts.bin', Body: bytesFor('parts.bin', 13 * MiB) }, partSize: 6 * MiB, queueSize: 1 }).done();
  proxy = await startFaultProxy(ceph.endpoint);
  dir = tmpDir('s3gate-migrate-ceph-newer-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  ceph-a: { provider: linode, endpoint: ${ceph.endpoint}, region: us-east-1, credentials: { accessKeyId: ${ceph.users.a.accessKeyId}, secretAccessKey: \${A_SECRET} } }
  ceph-b: { provider: linode, endpoint: ${proxy.url}, region: us-east-1, credentials: { accessKeyId: ${ceph.users.b.accessKeyId}, secretAccessKey: \${B_SECRET} } }
buckets:
  media: { mode: migrate, upstream: ceph-b, bucket: ${NEW}, from: { upstream: ceph-a, bucket: ${OLD} } }
`);
}, 600_000);

afterAll(async () => {
  a?.destroy();
  b?.destroy();
  await proxy?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
}, 60_000);

describe('s3gate migrate on Ceph RGW 16: newer writes at the destination win', () => {
  it('a write before the run and writes during it are kept; the multipart source is checked and copied', async () => {
    const before = Buffer.from('written at the new provider before the run');
    await b.send(new PutObjectCommand({ Bucket: NEW, Key: 'between.txt', Body: before }));
    const during = Buffer.from('written while the copier copied this key');
    const duringBig = Buffer.from('written while the multipart copy was under way');
    proxy.decide = async (r) => {
      const key = keyOf(r.url);
      if (r.kind === 'put' && key === 'during.txt') await b.send(new PutObjectCommand({ Bucket: NEW, Key: key, Body: during }));
      if (r.kind === 'part' && key === 'during-big.bin' && new URL(r.url, 'http://x').searchParams.get('partNumber') === '3') {
        await b.send(new PutObjectCommand({ Bucket: NEW, Key: key, Body: duringBig }));
      }
      return { do: 'pass' };
    };
    const first = migrate();
    expect((await first.exited).code, first.err()).toBe(0);
    proxy.decide = () => ({ do: 'pass' });
    expect(report(first)).toMatchObject({ copied: 2, newerAtDestination: 3, failed: 0, unverified: 0 });
    expect(first.events().filter((e) => e.event === 'newer-at-destination').map((e) => e.key).sort()).toEqual(['between.txt', 'during-big.bin', 'during.txt']);
    // RGW 16 itself refused the copier's PUT: If-None-Match: * → 412.
    expect(proxy.seen.filter((r) => r.kind === 'put' && keyOf(r.url) === 'during.txt').map((r) => [r.headers['if-none-match'], r.status])).toEqual([['*', 412]]);
    expect(await bodyOf('between.txt')).toEqual(before);
    expect(await bodyOf('during.txt')).toEqual(during);
    expect(await bodyOf('during-big.bin')).toEqual(duringBig);
    expect((await bodyOf('parts.bin')).equals(bytesFor('parts.bin', 13 * MiB))).toBe(true);
    expect((await bodyOf('plain.txt')).equals(bytesFor('plain.txt', 3000))).toBe(true);

    const again = migrate();
    expect((await again.exited).code, again.err()).toBe(0);
    expect(report(again)).toMatchObject({ copied: 0, newerAtDestination: 3, skipped: 2 });
    const verify = migrate(['--verify=content']);
    expect((await verify.exited).code, verify.out()).toBe(0);
    expect(report(verify)).toMatchObject({ differences: {}, newerAtDestination: 3, skipped: 2 });
  }, 600_000);
});
