// A client's conditional write during a migration holds against the key wherever it is. The key
// may still be only at the old provider, where the new provider's own check cannot see it:
// If-None-Match: * must fail there too, and If-Match must compare with the object the client
// reads (the old provider's until the key moves). A conditional delete, which would have to hold
// at both providers at once, is refused and deletes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand,
  GetObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { LocalStore } from '../../src/local/store.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, DOMAIN, failure, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { storeSide, type Side } from './helpers.js';

const OLD_KEY = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const md5 = (s: string) => `"${createHash('md5').update(s).digest('hex')}"`;

describe('conditional writes on a bucket being migrated', () => {
  let oldUp: StrictUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let s3: S3Client;
  let old: Side;
  let fresh: Side;
  const Bucket = 'mc';
  let n = 0;
  const key = (what: string) => `${what}-${n++}`;
  const read = async (Key: string) => (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();
  const code = async (p: Promise<unknown>) => {
    const e = await failure(p);
    return `${e.$metadata.httpStatusCode} ${e.name}`;
  };

  beforeAll(async () => {
    oldUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
    await oldUp.store.handle({ method: 'PUT', bucket: 'mc-old', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    const disk = tmpDir('s3gate-mc-');
    const store = new LocalStore(disk);
    await store.handle({ method: 'PUT', bucket: 'mc-new', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    gw = await startTestGateway({
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
      upstreams: {
        old: { provider: 'minio', endpoint: oldUp.url, credentials: OLD_KEY },
        disk: { provider: 'local', path: disk },
      },
      buckets: { mc: { upstream: 'disk', bucket: 'mc-new', mode: 'migrate', from: { upstream: 'old', bucket: 'mc-old' } } },
    });
    s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
    old = storeSide(oldUp.store, 'mc-old');
    fresh = storeSide(store, 'mc-new');
  });

  afterAll(async () => {
    s3?.destroy();
    await gw?.close();
    await oldUp?.close();
  });

  it('If-None-Match: * fails (412) on a key only the old provider holds, and nothing is written', async () => {
    const k = key('inm');
    await old.put(k, Buffer.from('at the old one'));
    expect(await code(s3.send(new PutObjectCommand({ Bucket, Key: k, Body: 'new', IfNoneMatch: '*' })))).toBe('412 PreconditionFailed');
    expect(await fresh.get(k)).toBeUndefined();
    expect(await read(k)).toBe('at the old one');
    // A key neither holds is created, once.
    const k2 = key('inm-none');
    await s3.send(new PutObjectCommand({ Bucket, Key: k2, Body: 'first', IfNoneMatch: '*' }));
    expect(await code(s3.send(new PutObjectCommand({ Bucket, Key: k2, Body: 'second', IfNoneMatch: '*' })))).toBe('412 PreconditionFailed');
    expect((await fresh.get(k2))?.body.toString()).toBe('first');
  });

  it('If-Match compares with the old provider\'s object while the key has not moved', async () => {
    const k = key('im');
    await old.put(k, Buffer.from('v1'));
    expect(await code(s3.send(new PutObjectCommand({ Bucket, Key: k, Body: 'wrong', IfMatch: '"0123456789abcdef0123456789abcdef"' })))).toBe('412 PreconditionFailed');
    expect(await fresh.get(k)).toBeUndefined();
    await s3.send(new PutObjectCommand({ Bucket, Key: k, Body: 'v2', IfMatch: md5('v1') }));
    expect((await fresh.get(k))?.body.toString()).toBe('v2');
    expect(await read(k)).toBe('v2');
    // Moved now: the new provider's object decides, the old one's stale copy no longer does.
    expect(await code(s3.send(new PutObjectCommand({ Bucket, Key: k, Body: 'v3', IfMatch: md5('v1') })))).toBe('412 PreconditionFailed');
    await s3.send(new PutObjectCommand({ Bucket, Key: k, Body: 'v3', IfMatch: md5('v2') }));
    expect(await read(k)).toBe('v3');
    // Neither holds the key: S3's answer to If-Match on a missing key.
    expect(await code(s3.send(new PutObjectCommand({ Bucket, Key: key('im-none'), Body: 'x', IfMatch: md5('v1') })))).toBe('404 NoSuchKey');
  });

  it('CopyObject and CompleteMultipartUpload hold If-None-Match: * against the old provider too', async () => {
    const src = key('src');
    await s3.send(new PutObjectCommand({ Bucket, Key: src, Body: 'source' }));
    const k = key('dst');
    await old.put(k, Buffer.from('at the old one'));
    expect(await code(s3.send(new CopyObjectCommand({ Bucket, Key: k, CopySource: `${Bucket}/${src}`, IfNoneMatch: '*' })))).toBe('412 PreconditionFailed');
    const u = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: k }));
    const p = await s3.send(new UploadPartCommand({ Bucket, Key: k, UploadId: u.UploadId, PartNumber: 1, Body: 'part' }));
    const complete = new CompleteMultipartUploadCommand({ Bucket, Key: k, UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag! }] }, IfNoneMatch: '*' });
    expect(await code(s3.send(complete))).toBe('412 PreconditionFailed');
    expect(await fresh.get(k)).toBeUndefined();
    expect(await read(k)).toBe('at the old one');
  });

  it('a conditional delete is refused (501) and deletes at neither provider', async () => {
    const k = key('del');
    await old.put(k, Buffer.from('old copy'));
    await fresh.put(k, Buffer.from('new copy'));
    expect(await code(s3.send(new DeleteObjectCommand({ Bucket, Key: k, IfMatch: md5('new copy') })))).toBe('501 NotImplemented');
    expect(await code(s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: k, ETag: md5('new copy') }] } })))).toBe('501 NotImplemented');
    expect((await old.get(k))?.body.toString()).toBe('old copy');
    expect((await fresh.get(k))?.body.toString()).toBe('new copy');
    // Unconditional, it deletes at both, as before.
    await s3.send(new DeleteObjectCommand({ Bucket, Key: k }));
    expect([await old.get(k), await fresh.get(k)]).toEqual([undefined, undefined]);
  });
});
