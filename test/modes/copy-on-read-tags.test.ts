// Copy-on-read keeps an object's tags. A GET answers only how many tags the object has
// (x-amz-tagging-count); the gateway reads the tags themselves at the old provider
// (GetObjectTagging) before the copy's PUT starts, and the copy carries them as x-amz-tagging.
// While they are read the client's bytes wait (backpressure), none are lost and the body is not
// buffered; tags that cannot be read make the read copy nothing. The old provider is the strict
// test upstream behind a proxy that can hold or fail GetObjectTagging; the new one the local store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { LocalStore } from '../../src/local/store.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { startFaultProxy, type FaultProxy } from '../migrate/proxy.js';
import { copyLine, logLine, settledCopies, copyResults, storeSide } from './helpers.js';

const OLD_KEY = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const BIG = 24 * 1024 * 1024;
// Characters the x-amz-tagging header must carry URL-encoded: a space, '+', '=', '/', non-ASCII.
const TAGS = [['t', '0'], ['a b', 'c+d=e/f'], ['größe', '日本']] as const;
const TAGGING = TAGS.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

let oldUp: StrictUpstream;
let proxy: FaultProxy;
let fresh: LocalStore;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;

const isTagging = (url: string) => new URL(url, 'http://x').searchParams.has('tagging');
const keyOf = (url: string) => decodeURIComponent(new URL(url, 'http://x').pathname.split('/').slice(2).join('/'));
const old = () => storeSide(oldUp.store, 'tags-old');
const neu = () => storeSide(fresh, 'tags-new');

async function tagSet(store: LocalStore, bucket: string, key: string): Promise<[string, string][]> {
  const r = await store.handle({ method: 'GET', bucket, key, query: new URLSearchParams('tagging='), headers: {}, body: Readable.from([]) });
  const doc = String(r.body);
  return [...doc.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)].map((m) => [m[1]!, m[2]!]);
}

beforeAll(async () => {
  oldUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
  await oldUp.store.handle({ method: 'PUT', bucket: 'tags-old', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  proxy = await startFaultProxy(oldUp.url);
  const disk = tmpDir('s3gate-cor-tags-');
  fresh = new LocalStore(disk);
  await fresh.handle({ method: 'PUT', bucket: 'tags-new', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  gw = await startTestGateway({
    admin: { address: '127.0.0.1:0' },
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
    upstreams: {
      old: { provider: 'minio', endpoint: proxy.url, credentials: OLD_KEY },
      disk: { provider: 'local', path: disk },
    },
    buckets: { tags: { upstream: 'disk', bucket: 'tags-new', mode: 'migrate', copyOnRead: true, from: { upstream: 'old', bucket: 'tags-old' } } },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
});

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await proxy?.close();
  await oldUp?.close();
});

describe('copy-on-read carries tags', () => {
  it('a plain GET copies the object with its tags; an untagged object costs no GetObjectTagging', async () => {
    await old().put('tagged.txt', Buffer.from('tagged bytes'), { 'content-type': 'text/plain', 'x-amz-tagging': TAGGING });
    await old().put('untagged.txt', Buffer.from('no tags'));
    const before = await copyResults(gw.adminUrl!, 'tags');
    const r = await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'tagged.txt' }));
    expect(r.TagCount).toBe(3);
    expect(await r.Body!.transformToString()).toBe('tagged bytes');
    await (await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'untagged.txt' }))).Body!.transformToString();
    expect(await settledCopies(gw.adminUrl!, 'tags', before, 2)).toEqual({ ok: 2 });
    expect((await neu().get('tagged.txt'))?.body.toString()).toBe('tagged bytes');
    expect(await tagSet(fresh, 'tags-new', 'tagged.txt')).toEqual(TAGS.map(([k, v]) => [k, v]));
    expect(await tagSet(fresh, 'tags-new', 'untagged.txt')).toEqual([]);
    expect(proxy.seen.filter((q) => isTagging(q.url)).map((q) => keyOf(q.url))).toEqual(['tagged.txt']);
  });

  it('tags that cannot be read: the client gets every byte, and nothing is copied (skipped, logged)', async () => {
    await old().put('fails.txt', Buffer.from('tags unreadable'), { 'x-amz-tagging': 't=1' });
    proxy.decide = (q) => (isTagging(q.url) ? { do: 'error', status: 500 } : { do: 'pass' });
    try {
      const before = await copyResults(gw.adminUrl!, 'tags');
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'fails.txt' }))).Body!.transformToString()).toBe('tags unreadable');
      expect(await settledCopies(gw.adminUrl!, 'tags', before)).toEqual({ skipped: 1 });
      const line = await logLine(gw.sink, copyLine('fails.txt'));
      expect(line.msg).toBe('copy-on-read skipped: the copy would not keep the object\'s tags');
      expect(line.why).toMatch(/GetObjectTagging answered 500/);
      expect(await neu().get('fails.txt')).toBeUndefined();
    } finally {
      proxy.decide = () => ({ do: 'pass' });
    }
  });

  it('while the tags are read the client\'s read waits (backpressure), then gets every byte; the copy has them', async () => {
    const data = randomBytes(BIG);
    await old().put('big.bin', data, { 'x-amz-tagging': TAGGING });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let asked!: () => void;
    const tagsAsked = new Promise<void>((r) => (asked = r));
    proxy.decide = async (q) => {
      if (isTagging(q.url)) {
        asked();
        await held;
      }
      return { do: 'pass' };
    };
    try {
      const before = await copyResults(gw.adminUrl!, 'tags');
      const r = await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'big.bin' }));
      const parts: Buffer[] = [];
      let received = 0;
      const reading = (async () => {
        for await (const c of r.Body as Readable) {
          parts.push(c as Buffer);
          received += (c as Buffer).length;
        }
      })();
      await tagsAsked;
      await new Promise((res) => setTimeout(res, 500));
      // Held back with the copy: no more than the buffers between the old provider and the client.
      expect(received).toBeLessThan(BIG / 2);
      expect(await copyResults(gw.adminUrl!, 'tags')).toEqual(before);
      release();
      await reading;
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      expect(await settledCopies(gw.adminUrl!, 'tags', before)).toEqual({ ok: 1 });
      expect((await neu().get('big.bin'))?.body.equals(data)).toBe(true);
      expect(await tagSet(fresh, 'tags-new', 'big.bin')).toEqual(TAGS.map(([k, v]) => [k, v]));
    } finally {
      proxy.decide = () => ({ do: 'pass' });
    }
  }, 60_000);
});
