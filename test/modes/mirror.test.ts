// mode: mirror. The mirror commits a write only once the primary accepted it (#18 finding 3),
// and every bucket name sent to the mirror is the mirror's (#18 finding 4): the mirror provider
// here also has a bucket named like the primary's, holding decoys under the same keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectsCommand, DeleteObjectTaggingCommand,
  PutObjectCommand, PutObjectTaggingCommand, UploadPartCommand, UploadPartCopyCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, DOMAIN, failure, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { logLine, storeSide, type Side } from './helpers.js';

const MIRROR_KEY = { accessKeyId: 'MIRRORPROVIDERKEY', secretAccessKey: 'mirror-provider-secret-abcdefghijklmnopq' };

describe('mirror: the mirror follows what the primary accepted', () => {
  let primaryUp: StrictUpstream;
  let mirrorUp: StrictUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let s3: S3Client;
  let primary: Side;
  let mirror: Side;
  let decoys: Side;

  const metric = async (re: RegExp) => {
    const m = re.exec(await (await request(`${gw.adminUrl}/metrics`)).body.text());
    return m ? Number(m[1]) : 0;
  };

  beforeAll(async () => {
    primaryUp = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
    mirrorUp = await startStrictUpstream({ ...MIRROR_KEY, region: 'us-east-1' });
    const mk = (u: StrictUpstream, b: string) => u.store.handle({ method: 'PUT', bucket: b, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    await mk(primaryUp, 'trial');
    await mk(primaryUp, 'broken');
    await mk(mirrorUp, 'trial-mirror');
    // Someone else's bucket at the mirror provider, named like the primary's.
    await mk(mirrorUp, 'trial');
    gw = await startTestGateway({
      admin: { address: '127.0.0.1:0' },
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
      upstreams: {
        // The strict upstream's store checks conditional writes, as this override says.
        primary: { provider: 'minio', endpoint: primaryUp.url, credentials: UP_KEY, conditionalWrites: { ifNoneMatch: true, ifMatch: true } },
        mirror: { provider: 'minio', endpoint: mirrorUp.url, credentials: MIRROR_KEY },
      },
      buckets: {
        trial: { upstream: 'primary', mode: 'mirror', mirror: { upstream: 'mirror', bucket: 'trial-mirror' } },
        // The primary has no such bucket: every write is refused there.
        refused: { upstream: 'primary', bucket: 'no-such-bucket', mode: 'mirror', mirror: { upstream: 'mirror', bucket: 'trial-mirror' } },
        // The mirror has no such bucket: every mirror write fails.
        broken: { upstream: 'primary', mode: 'mirror', mirror: { upstream: 'mirror', bucket: 'no-such-mirror' } },
      },
    });
    s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
    primary = storeSide(primaryUp.store, 'trial');
    mirror = storeSide(mirrorUp.store, 'trial-mirror');
    decoys = storeSide(mirrorUp.store, 'trial');
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([primaryUp?.close(), mirrorUp?.close()]);
  });

  it('a PUT the primary answers 412 (If-None-Match: *, If-Match) leaves the mirror unchanged', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'cond.txt', Body: 'original' }));
    expect((await mirror.get('cond.txt'))?.body.toString()).toBe('original');
    const skippedBefore = await metric(/^s3gate_mirror_writes_total\{bucket="trial",result="skipped"\} (\d+)/m);
    for (const [body, cond] of [
      ['small sneaky write', { IfNoneMatch: '*' }],
      [randomBytes(3 * 1024 * 1024), { IfNoneMatch: '*' }],
      ['wrong etag', { IfMatch: '"0123456789abcdef0123456789abcdef"' }],
    ] as const) {
      const e = await failure(s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'cond.txt', Body: body, ...cond })));
      expect(e.$metadata.httpStatusCode).toBe(412);
      expect((await primary.get('cond.txt'))?.body.toString()).toBe('original');
      expect((await mirror.get('cond.txt'))?.body.toString()).toBe('original');
    }
    expect(await metric(/^s3gate_mirror_writes_total\{bucket="trial",result="skipped"\} (\d+)/m)).toBe(skippedBefore + 3);
  });

  it('a PUT the primary refuses leaves the mirror without it', async () => {
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: 'refused', Key: 'never.txt', Body: randomBytes(2 * 1024 * 1024) })));
    expect(e.$metadata.httpStatusCode).toBe(404);
    expect(await mirror.get('never.txt')).toBeUndefined();
    const e2 = await failure(s3.send(new PutObjectCommand({ Bucket: 'refused', Key: 'never-small.txt', Body: 'x' })));
    expect(e2.$metadata.httpStatusCode).toBe(404);
    expect(await mirror.get('never-small.txt')).toBeUndefined();
  });

  it('an accepted PUT lands on both, counted with the mirror\'s lag', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'both.bin', Body: data, ContentType: 'application/x-both' }));
    expect((await primary.get('both.bin'))?.body.equals(data)).toBe(true);
    const m = await mirror.get('both.bin');
    expect(m?.body.equals(data)).toBe(true);
    expect(m?.headers['content-type']).toBe('application/x-both');
    expect(await metric(/^s3gate_mirror_writes_total\{bucket="trial",result="ok"\} (\d+)/m)).toBeGreaterThan(0);
    expect(await metric(/^s3gate_mirror_lag_seconds_count\{bucket="trial"\} (\d+)/m)).toBeGreaterThan(0);
  });

  it('a mirror that fails does not fail the client; the failure is counted and logged with the key', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'broken', Key: 'behind.txt', Body: 'only at the primary' }));
    expect(await metric(/^s3gate_mirror_writes_total\{bucket="broken",result="failed"\} (\d+)/m)).toBe(1);
    const line = await logLine(gw.sink, (l) => l.bucket === 'broken' && l.key === 'behind.txt');
    expect(line).toMatchObject({ level: 40, msg: 'mirror write failed; the mirror is behind the primary for this key', status: 404 });
  });

  it('CopyObject within the bucket copies the mirror\'s own source, not the decoy in its namesake', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'src.txt', Body: 'the real bytes' }));
    await decoys.put('src.txt', Buffer.from('someone else\'s bytes'));
    await s3.send(new CopyObjectCommand({ Bucket: 'trial', Key: 'dst.txt', CopySource: 'trial/src.txt' }));
    expect((await primary.get('dst.txt'))?.body.toString()).toBe('the real bytes');
    expect((await mirror.get('dst.txt'))?.body.toString()).toBe('the real bytes');
    // What the mirror provider was asked: its own bucket as the source.
    const copy = mirrorUp.requests.filter((r) => r.method === 'PUT' && r.key === 'dst.txt').at(-1)!;
    expect(decodeURIComponent(copy.headers['x-amz-copy-source']!)).toBe('/trial-mirror/src.txt');
  });

  it('a CopyObject the primary refuses is not repeated on the mirror', async () => {
    await decoys.put('ghost.txt', Buffer.from('decoy'));
    const e = await failure(s3.send(new CopyObjectCommand({ Bucket: 'trial', Key: 'ghost-copy.txt', CopySource: 'trial/ghost.txt' })));
    expect(e.$metadata.httpStatusCode).toBe(404);
    expect(await mirror.get('ghost-copy.txt')).toBeUndefined();
  });

  it('UploadPartCopy names the primary\'s source; the completed upload is replicated to the mirror', async () => {
    const data = randomBytes(256 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'mp-src.bin', Body: data }));
    await decoys.put('mp-src.bin', Buffer.from('decoy'));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'trial', Key: 'mp-dst.bin' }));
    const part = await s3.send(new UploadPartCopyCommand({ Bucket: 'trial', Key: 'mp-dst.bin', UploadId, PartNumber: 1, CopySource: 'trial/mp-src.bin' }));
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: 'trial', Key: 'mp-dst.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag! }] },
    }));
    expect((await primary.get('mp-dst.bin'))?.body.equals(data)).toBe(true);
    expect((await mirror.get('mp-dst.bin'))?.body.equals(data)).toBe(true);
  });

  it('a completed multipart upload is replicated to the mirror with its tags', async () => {
    const data = randomBytes(64 * 1024);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'trial', Key: 'mp-tagged.bin', Tagging: 'stage=upload&note=a%20b%2Bc' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'trial', Key: 'mp-tagged.bin', UploadId, PartNumber: 1, Body: data }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'trial', Key: 'mp-tagged.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    expect((await mirror.get('mp-tagged.bin'))?.body.equals(data)).toBe(true);
    const r = await mirrorUp.store.handle({ method: 'GET', bucket: 'trial-mirror', key: 'mp-tagged.bin', query: new URLSearchParams('tagging'), headers: {}, body: Readable.from([]) });
    let xml = '';
    for await (const c of r.body as Readable) xml += c;
    expect([...xml.matchAll(/<Key>([^<]*)<\/Key><Value>([^<]*)<\/Value>/g)].map((m) => `${m[1]}=${m[2]}`).sort()).toEqual(['note=a b+c', 'stage=upload']);
  });

  it('PutObjectTagging and DeleteObjectTagging reach the mirror once the primary accepted them', async () => {
    const tagsAt = async (u: StrictUpstream, bucket: string, key: string) => {
      const r = await u.store.handle({ method: 'GET', bucket, key, query: new URLSearchParams('tagging'), headers: {}, body: Readable.from([]) });
      let xml = '';
      for await (const c of r.body as Readable) xml += c;
      return [...xml.matchAll(/<Key>([^<]*)<\/Key><Value>([^<]*)<\/Value>/g)].map((m) => `${m[1]}=${m[2]}`);
    };
    await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: 'tg', Body: 'tagged', Tagging: 'stage=put' }));
    expect(await tagsAt(mirrorUp, 'trial-mirror', 'tg')).toEqual(['stage=put']);
    const ok = () => metric(/^s3gate_mirror_writes_total\{bucket="trial",result="ok"\} (\d+)/m);
    const before = await ok();
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'trial', Key: 'tg', Tagging: { TagSet: [{ Key: 'stage', Value: 'retagged' }] } }));
    expect(await tagsAt(primaryUp, 'trial', 'tg')).toEqual(['stage=retagged']);
    expect(await tagsAt(mirrorUp, 'trial-mirror', 'tg')).toEqual(['stage=retagged']);
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'trial', Key: 'tg' }));
    expect(await tagsAt(mirrorUp, 'trial-mirror', 'tg')).toEqual([]);
    expect(await ok()).toBe(before + 2);
    // The primary refuses (no such key): nothing is sent to the mirror.
    const seen = mirrorUp.requests.length;
    expect(await failure(s3.send(new PutObjectTaggingCommand({ Bucket: 'trial', Key: 'tg-none', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } })))).toMatchObject({ $metadata: { httpStatusCode: 404 } });
    expect(mirrorUp.requests.length).toBe(seen);
  });

  it('DeleteObjects repeats on the mirror what the primary deleted', async () => {
    for (const k of ['d1', 'd2']) await s3.send(new PutObjectCommand({ Bucket: 'trial', Key: k, Body: k }));
    await decoys.put('d1', Buffer.from('decoy'));
    await s3.send(new DeleteObjectsCommand({ Bucket: 'trial', Delete: { Objects: [{ Key: 'd1' }, { Key: 'd2' }] } }));
    for (const k of ['d1', 'd2']) {
      expect(await primary.get(k)).toBeUndefined();
      expect(await mirror.get(k)).toBeUndefined();
    }
    expect((await decoys.get('d1'))?.body.toString()).toBe('decoy');
  });
});
