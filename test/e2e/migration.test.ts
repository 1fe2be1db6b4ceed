// Transparent migration between providers: clients keep endpoint, keys and bucket names while
// the data moves. Two strict upstreams play old and new provider; then the same against two
// users' buckets on the real Ceph RGW 16.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, DeleteObjectTaggingCommand, GetObjectCommand, GetObjectTaggingCommand,
  HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, PutObjectTaggingCommand, S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ensureCeph } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';

const OLD_KEY = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const agent = testUndiciAgent();
const empty = () => Readable.from([]);

async function storeGet(up: StrictUpstream, bucket: string, key: string): Promise<{ body: Buffer; headers: Record<string, string> } | undefined> {
  try {
    const r = await up.store.handle({ method: 'GET', bucket, key, query: new URLSearchParams(), headers: {}, body: empty() });
    const parts: Buffer[] = [];
    for await (const c of r.body as Readable) parts.push(c as Buffer);
    return { body: Buffer.concat(parts), headers: r.headers };
  } catch {
    return undefined;
  }
}

async function storePut(up: StrictUpstream, bucket: string, key: string, body: Buffer, headers: Record<string, string> = {}) {
  await up.store.handle({ method: 'PUT', bucket, key, query: new URLSearchParams(), headers: { 'content-length': String(body.length), ...headers }, body: Readable.from([body]) });
}

describe('migrate and mirror between two strict upstreams', () => {
  let oldUp: StrictUpstream;
  let newUp: StrictUpstream;
  let mirrorUp: StrictUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let s3: S3Client;

  beforeAll(async () => {
    oldUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
    newUp = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
    mirrorUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
    for (const [u, b] of [[oldUp, 'media-old'], [newUp, 'media-new'], [newUp, 'nocopy-new'], [oldUp, 'nocopy-old'], [newUp, 'trial'], [mirrorUp, 'trial-mirror']] as const) {
      await u.store.handle({ method: 'PUT', bucket: b, query: new URLSearchParams(), headers: {}, body: empty() });
    }
    gw = await startTestGateway({
      admin: { address: '127.0.0.1:0' },
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
      upstreams: {
        old: { provider: 'minio', endpoint: oldUp.url, credentials: OLD_KEY },
        new: { provider: 'linode', endpoint: newUp.url, credentials: UP_KEY },
        mirror: { provider: 'minio', endpoint: mirrorUp.url, credentials: OLD_KEY },
        // The old provider with credentials it refuses (SignatureDoesNotMatch): a failing old side.
        oldrefusing: { provider: 'minio', endpoint: oldUp.url, credentials: { ...OLD_KEY, secretAccessKey: 'not-the-old-providers-secret-abcdefghij' } },
        disk: { provider: 'local', path: tmpDir('s3gate-mig-local-') },
      },
      buckets: {
        media: { upstream: 'new', bucket: 'media-new', mode: 'migrate', from: { upstream: 'old', bucket: 'media-old' }, copyOnRead: true },
        nocopy: { upstream: 'new', bucket: 'nocopy-new', mode: 'migrate', from: { upstream: 'old', bucket: 'nocopy-old' } },
        trial: { upstream: 'new', mode: 'mirror', mirror: { upstream: 'mirror', bucket: 'trial-mirror' } },
        tolocal: { upstream: 'disk', mode: 'migrate', from: { upstream: 'old', bucket: 'nocopy-old' }, copyOnRead: true },
        refused: { upstream: 'new', bucket: 'nocopy-new', mode: 'migrate', from: { upstream: 'oldrefusing', bucket: 'nocopy-old' } },
        nosource: { upstream: 'new', bucket: 'nocopy-new', mode: 'migrate', from: { upstream: 'old', bucket: 'no-such-old-bucket' } },
      },
    });
    s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([oldUp?.close(), newUp?.close(), mirrorUp?.close()]);
  });

  it('an object only at the old provider is read through, and copied to the new one with its metadata', async () => {
    const data = randomBytes(300_000);
    await storePut(oldUp, 'media-old', 'photos/cat.jpg', data, { 'content-type': 'image/jpeg', 'x-amz-meta-owner': 'alice', 'cache-control': 'max-age=60' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'media', Key: 'photos/cat.jpg' }));
    expect(head.ContentLength).toBe(300_000);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'photos/cat.jpg' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(got.ContentType).toBe('image/jpeg');
    expect(got.Metadata).toEqual({ owner: 'alice' });
    // The copy completes alongside the client's read; give its last bytes a moment to land.
    let copied = await storeGet(newUp, 'media-new', 'photos/cat.jpg');
    for (let i = 0; i < 50 && !copied; i++) {
      await new Promise((r) => setTimeout(r, 20));
      copied = await storeGet(newUp, 'media-new', 'photos/cat.jpg');
    }
    expect(copied?.body.equals(data)).toBe(true);
    expect(copied?.headers).toMatchObject({ 'content-type': 'image/jpeg', 'x-amz-meta-owner': 'alice', 'cache-control': 'max-age=60' });
    // The next read is served by the new provider.
    const before = oldUp.requests.length;
    await (await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'photos/cat.jpg' }))).Body!.transformToByteArray();
    expect(oldUp.requests.length).toBe(before);
    const m = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    expect(m).toMatch(/s3gate_migration_copies_total\{bucket="media",result="ok"\} 1/);
    expect(m).toMatch(/s3gate_migration_fallback_reads_total\{bucket="media"\} 2/);
    expect(m).toMatch(/s3gate_migration_bytes_total\{bucket="media"\} 300000/);
  });

  it('without copyOnRead the object is read through but not copied; a Range read never copies', async () => {
    await storePut(oldUp, 'nocopy-old', 'a.txt', Buffer.from('only old'));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'nocopy', Key: 'a.txt' }));
    expect(await got.Body!.transformToString()).toBe('only old');
    expect(await storeGet(newUp, 'nocopy-new', 'a.txt')).toBeUndefined();
    await storePut(oldUp, 'media-old', 'ranged.bin', randomBytes(1000));
    const r = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'ranged.bin', Range: 'bytes=0-9' }));
    expect((await r.Body!.transformToByteArray()).length).toBe(10);
    expect(await storeGet(newUp, 'media-new', 'ranged.bin')).toBeUndefined();
  });

  it('a client killed halfway through a copy-on-read read leaves no partial object at the new provider', async () => {
    await storePut(oldUp, 'media-old', 'big.bin', randomBytes(16 * 1024 * 1024));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'big.bin' }), { expiresIn: 300 });
    const r = await request(url, { dispatcher: agent });
    let seen = 0;
    for await (const c of r.body) {
      seen += (c as Buffer).length;
      if (seen > 1024 * 1024) break;
    }
    r.body.destroy();
    await new Promise((res) => setTimeout(res, 500));
    expect(await storeGet(newUp, 'media-new', 'big.bin')).toBeUndefined();
  });

  it('writes go to the new provider; a delete during migration is not undone by a later read', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'new-write.txt', Body: 'fresh' }));
    expect((await storeGet(newUp, 'media-new', 'new-write.txt'))?.body.toString()).toBe('fresh');
    expect(await storeGet(oldUp, 'media-old', 'new-write.txt')).toBeUndefined();

    await storePut(oldUp, 'media-old', 'doomed.txt', Buffer.from('old copy'));
    await s3.send(new DeleteObjectCommand({ Bucket: 'media', Key: 'doomed.txt' }));
    const e = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'doomed.txt' })).catch((x: { $metadata: { httpStatusCode: number } }) => x.$metadata.httpStatusCode);
    expect(e).toBe(404);
    await storePut(oldUp, 'media-old', 'doomed2.txt', Buffer.from('old copy'));
    await storePut(newUp, 'media-new', 'doomed3.txt', Buffer.from('new copy'));
    await s3.send(new DeleteObjectsCommand({ Bucket: 'media', Delete: { Objects: [{ Key: 'doomed2.txt' }, { Key: 'doomed3.txt' }] } }));
    for (const k of ['doomed2.txt', 'doomed3.txt']) {
      expect(await s3.send(new HeadObjectCommand({ Bucket: 'media', Key: k })).then(() => 200, () => 404)).toBe(404);
    }
  });

  it('a key of DeleteObjects the old provider could not delete is an error for that key, and is not deleted at the new one', async () => {
    // The old provider answers a version id it does not know with an <Error> in a 200 DeleteResult.
    for (const quiet of [false, true]) {
      const run = quiet ? 'q' : 'v';
      await storePut(oldUp, 'media-old', `dx/${run}-kept`, Buffer.from('at the old provider'));
      await storePut(oldUp, 'media-old', `dx/${run}-old`, Buffer.from('old only'));
      await storePut(newUp, 'media-new', `dx/${run}-new`, Buffer.from('new only'));
      const before = newUp.requests.length;
      const r = await s3.send(new DeleteObjectsCommand({
        Bucket: 'media',
        Delete: { Quiet: quiet, Objects: [{ Key: `dx/${run}-kept`, VersionId: 'no-such-version' }, { Key: `dx/${run}-old` }, { Key: `dx/${run}-new` }] },
      }));
      expect(r.Errors?.map((e) => [e.Key, e.VersionId, e.Code])).toEqual([[`dx/${run}-kept`, 'no-such-version', 'InternalError']]);
      expect(r.Errors![0]!.Message).toContain('old provider');
      expect((r.Deleted ?? []).map((d) => d.Key).sort()).toEqual(quiet ? [] : [`dx/${run}-new`, `dx/${run}-old`]);
      // What the client was told holds: the failed key is still readable, the others are gone.
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'media', Key: `dx/${run}-kept` }))).Body!.transformToString()).toBe('at the old provider');
      for (const k of [`dx/${run}-old`, `dx/${run}-new`]) expect(await s3.send(new HeadObjectCommand({ Bucket: 'media', Key: k })).then(() => 200, () => 404)).toBe(404);
      // One DeleteObjects went on to the new provider (which would have answered for the failed
      // key too, had it been sent: the single error above is s3gate's).
      expect(newUp.requests.slice(before).filter((q) => q.method === 'POST' && /[?&]delete(=|&|$)/.test(q.url))).toHaveLength(1);
    }
    // Every key failed at the old provider: nothing goes to the new one.
    await storePut(oldUp, 'media-old', 'dx/all', Buffer.from('x'));
    const before = newUp.requests.length;
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: 'media', Delete: { Objects: [{ Key: 'dx/all', VersionId: 'no-such-version' }] } }));
    expect(r.Errors?.map((e) => e.Key)).toEqual(['dx/all']);
    expect(r.Deleted ?? []).toEqual([]);
    expect(newUp.requests.slice(before).filter((q) => q.method === 'POST')).toEqual([]);
  });

  it('a listing fails when the old provider fails it, and lists the new side alone only when the old bucket does not exist', async () => {
    await storePut(oldUp, 'nocopy-old', 'lf/only-old', Buffer.from('old'));
    await storePut(newUp, 'nocopy-new', 'lf/only-new', Buffer.from('new'));
    const status = (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode;
    // The old provider refuses s3gate's signature: an answer without its keys would say they are gone.
    expect(await s3.send(new ListObjectsV2Command({ Bucket: 'refused', Prefix: 'lf/' })).then(() => 200, status)).toBe(403);
    expect(await s3.send(new ListObjectsCommand({ Bucket: 'refused', Prefix: 'lf/' })).then(() => 200, status)).toBe(403);
    expect(gw.sink.lines.some((l) => l.msg === 'listing at the old provider failed during a migration' && l.status === 403)).toBe(true);
    // The old provider has no such bucket (the migration's destination made first): the new side's keys.
    const r = await s3.send(new ListObjectsV2Command({ Bucket: 'nosource', Prefix: 'lf/' }));
    expect(r.Contents?.map((c) => c.Key)).toEqual(['lf/only-new']);
    // And with both sides answering, both.
    const both = await s3.send(new ListObjectsV2Command({ Bucket: 'nocopy', Prefix: 'lf/' }));
    expect(both.Contents?.map((c) => c.Key)).toEqual(['lf/only-new', 'lf/only-old']);
  });

  it('tags are read and written where the object is: at the old provider until it moves', async () => {
    await storePut(oldUp, 'nocopy-old', 'tg/old', Buffer.from('tagged, not moved'), { 'x-amz-tagging': 'stage=old' });
    await storePut(newUp, 'nocopy-new', 'tg/new', Buffer.from('tagged, moved'), { 'x-amz-tagging': 'stage=new' });
    const tags = async (Key: string) => (await s3.send(new GetObjectTaggingCommand({ Bucket: 'nocopy', Key }))).TagSet?.map((t) => `${t.Key}=${t.Value}`);
    expect(await tags('tg/old')).toEqual(['stage=old']);
    expect(await tags('tg/new')).toEqual(['stage=new']);
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'nocopy', Key: 'tg/old', Tagging: { TagSet: [{ Key: 'stage', Value: 'retagged' }] } }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'nocopy', Key: 'tg/new', Tagging: { TagSet: [{ Key: 'stage', Value: 'retagged-new' }] } }));
    expect(await tags('tg/old')).toEqual(['stage=retagged']);
    expect(await tags('tg/new')).toEqual(['stage=retagged-new']);
    // Each at its own provider: the old object was not copied or created at the new one.
    expect(await storeGet(newUp, 'nocopy-new', 'tg/old')).toBeUndefined();
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'nocopy', Key: 'tg/old' }));
    expect(await tags('tg/old')).toEqual([]);
    // A key at neither: NoSuchKey, as S3 answers.
    const e = await s3.send(new GetObjectTaggingCommand({ Bucket: 'nocopy', Key: 'tg/none' })).catch((x: { name: string }) => x.name);
    expect(e).toBe('NoSuchKey');
  });

  it('listing equals the union of both sides, page by page, with small pages (v2 and v1, with and without a delimiter)', async () => {
    const oldKeys = ['l/a', 'l/b', 'l/c/1', 'l/c/2', 'l/d', 'l/ü', 'l/x y', 'l/z+'];
    const newKeys = ['l/b', 'l/c/3', 'l/e', 'l/f/1', 'l/ü', 'l/zz'];
    for (const k of oldKeys) await storePut(oldUp, 'media-old', k, Buffer.from('old:' + k));
    for (const k of newKeys) await storePut(newUp, 'media-new', k, Buffer.from('new-' + k));
    const union = [...new Set([...oldKeys, ...newKeys])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const pageSize of [1, 2, 3, 1000]) {
      const keys: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'l/', MaxKeys: pageSize, ContinuationToken: token }));
        expect(r.Name).toBe('media');
        expect((r.Contents ?? []).length).toBeLessThanOrEqual(pageSize);
        keys.push(...(r.Contents ?? []).map((c) => c.Key!));
        token = r.NextContinuationToken;
        pages++;
      } while (token && pages < 50);
      expect(keys).toEqual(union);
    }
    // The new provider's copy wins: its size.
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'l/b' }));
    expect(all.Contents?.[0]?.Size).toBe('new-l/b'.length);
    // With a delimiter, pages of 1 and 2.
    for (const pageSize of [1, 2]) {
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'l/', Delimiter: '/', MaxKeys: pageSize, ContinuationToken: token }));
        seen.push(...(r.Contents ?? []).map((c) => c.Key!), ...(r.CommonPrefixes ?? []).map((p) => p.Prefix!));
        token = r.NextContinuationToken;
      } while (token);
      expect(seen.sort()).toEqual(['l/a', 'l/b', 'l/c/', 'l/d', 'l/e', 'l/f/', 'l/x y', 'l/z+', 'l/zz', 'l/ü'].sort());
    }
    // ListObjects (v1) with markers.
    const v1: string[] = [];
    let marker: string | undefined;
    do {
      const r = await s3.send(new ListObjectsCommand({ Bucket: 'media', Prefix: 'l/', MaxKeys: 2, Marker: marker }));
      v1.push(...(r.Contents ?? []).map((c) => c.Key!));
      // No delimiter, so no NextMarker (as S3): the next page starts after the last key.
      expect(r.NextMarker).toBeUndefined();
      marker = r.IsTruncated ? r.Contents!.at(-1)!.Key : undefined;
    } while (marker);
    expect(v1).toEqual(union);
    // encoding-type=url byte for byte as S3 writes it (space '+', '+' %2B, '/' kept, UTF-8 %XX).
    const encoded = await s3.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'l/', EncodingType: 'url' }));
    expect(encoded.Contents!.map((c) => c.Key).filter((k) => /[+%]/.test(k!))).toEqual(['l/x+y', 'l/z%2B', 'l/%C3%BC']);
  });

  it('the local store as the new side: misses fall back and are copied in', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'tolocal' }));
    await storePut(oldUp, 'nocopy-old', 'to-local.txt', Buffer.from('moving home'));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'tolocal', Key: 'to-local.txt' }))).Body!.transformToString()).toBe('moving home');
    await new Promise((r) => setTimeout(r, 200));
    const before = oldUp.requests.length;
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'tolocal', Key: 'to-local.txt' }))).Body!.transformToString()).toBe('moving home');
    expect(gw.sink.lines.filter((l) => l.bucket === 'tolocal' && String(l.msg).includes('copy-on-read')).map((l) => l.msg)).toEqual(['copy-on-read copied']);
    expect(oldUp.requests.length).toBe(before);
  });

  it('mirror: writes go to both, reads come from the primary', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'm.txt', Body: 'to both', ContentType: 'text/plain' }));
    expect((await storeGet(newUp, 'trial', 'm.txt'))?.body.toString()).toBe('to both');
    expect((await storeGet(mirrorUp, 'trial-mirror', 'm.txt'))?.body.toString()).toBe('to both');
    const before = mirrorUp.requests.length;
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'trial', Key: 'm.txt' }))).Body!.transformToString()).toBe('to both');
    expect(mirrorUp.requests.length).toBe(before);
    await s3.send(new DeleteObjectCommand({ Bucket: 'trial', Key: 'm.txt' }));
    expect(await storeGet(mirrorUp, 'trial-mirror', 'm.txt')).toBeUndefined();
    expect(await storeGet(newUp, 'trial', 'm.txt')).toBeUndefined();
  });
});

describe('migrate between two buckets on the real Ceph RGW 16', () => {
  const run = Math.random().toString(36).slice(2, 8);
  afterAll(async () => {
    await removeCephBuckets(await ensureCeph(), (name) => name.endsWith(run));
  }, 60_000);

  it('reads through with copy-on-read, merged listing, deletes to both', async () => {
    const ceph = await ensureCeph();
    const a = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
    const b = { accessKeyId: ceph.users.b.accessKeyId, secretAccessKey: ceph.users.b.secretAccessKey };
    const oldC = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...a }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const newC = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...b }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await oldC.send(new CreateBucketCommand({ Bucket: `old-${run}` }));
    await newC.send(new CreateBucketCommand({ Bucket: `new-${run}` }));
    await oldC.send(new PutObjectCommand({ Bucket: `old-${run}`, Key: 'only-old.txt', Body: 'from the old provider', ContentType: 'text/x-old', Metadata: { k: 'v' } }));
    await oldC.send(new PutObjectCommand({ Bucket: `old-${run}`, Key: 'both.txt', Body: 'old version' }));
    await newC.send(new PutObjectCommand({ Bucket: `new-${run}`, Key: 'both.txt', Body: 'new version' }));
    const gw = await startTestGateway({
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
      upstreams: {
        old: { provider: 'linode', endpoint: ceph.endpoint, credentials: a },
        new: { provider: 'ceph', endpoint: ceph.endpoint, credentials: b },
      },
      buckets: { media: { upstream: 'new', bucket: `new-${run}`, mode: 'migrate', from: { upstream: 'old', bucket: `old-${run}` }, copyOnRead: true } },
    });
    try {
      const s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'only-old.txt' }))).Body!.transformToString()).toBe('from the old provider');
      await new Promise((r) => setTimeout(r, 200));
      const copied = await newC.send(new GetObjectCommand({ Bucket: `new-${run}`, Key: 'only-old.txt' }));
      expect(await copied.Body!.transformToString()).toBe('from the old provider');
      expect(copied.ContentType).toBe('text/x-old');
      expect(copied.Metadata).toEqual({ k: 'v' });
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'both.txt' }))).Body!.transformToString()).toBe('new version');
      const l = await s3.send(new ListObjectsV2Command({ Bucket: 'media', MaxKeys: 1 }));
      const l2 = await s3.send(new ListObjectsV2Command({ Bucket: 'media', MaxKeys: 1, ContinuationToken: l.NextContinuationToken }));
      expect([...(l.Contents ?? []), ...(l2.Contents ?? [])].map((c) => c.Key)).toEqual(['both.txt', 'only-old.txt']);
      expect(l2.IsTruncated).toBe(false);
      await s3.send(new DeleteObjectCommand({ Bucket: 'media', Key: 'both.txt' }));
      expect(await s3.send(new HeadObjectCommand({ Bucket: 'media', Key: 'both.txt' })).then(() => 200, () => 404)).toBe(404);
    } finally {
      await gw.close();
    }
  });
});
