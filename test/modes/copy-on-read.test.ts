// Copy-on-read never overwrites or resurrects, and stores the object as the old provider holds
// it. The stalled reader of issue #18: a reader GETs a large object that exists only at the old
// provider, reads the first chunk and stalls (so the copy, fed from the same stream, stalls too);
// a writer PUTs a new version or DELETEs the key; the reader resumes; the copy must not land.
// Writers come through the reading gateway (same process) and through a second gateway (a stand-in
// for another replica, which only the copy's own checks and conditional write can see), against
// the local store and the real Ceph RGW 16, with and without conditional writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { LocalStore } from '../../src/local/store.js';
import { ensureCeph } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { copyLine, copyResults, exists, logLine, s3Side, settledCopies, storeSide, type Side } from './helpers.js';

const OLD_KEY = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
// Larger than every buffer between the gateway and a stalled client (socket buffers on loopback
// reach a few MiB), so a stalled reader stalls the copy before its end.
const BIG = 24 * 1024 * 1024;
type Gw = Awaited<ReturnType<typeof startTestGateway>>;

interface Setup {
  /** the gateway the reader uses */
  reader: Gw;
  /** the gateway each writer uses */
  writers: Record<'same process' | 'other process', S3Client>;
  readerS3: S3Client;
  old: Side;
  fresh: Side;
  /** the new side honours If-None-Match: * */
  conditional: boolean;
}

/** Reads the first chunk of the object through the gateway, then stops reading. */
async function stalledRead(s3: S3Client, bucket: string, key: string): Promise<{ rest: () => Promise<Buffer> }> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const it = (r.Body as Readable)[Symbol.asyncIterator]();
  const first = await it.next();
  const parts: Buffer[] = [first.value as Buffer];
  return {
    rest: async () => {
      for (let n = await it.next(); !n.done; n = await it.next()) parts.push(n.value as Buffer);
      return Buffer.concat(parts);
    },
  };
}

async function stalledReaderScenario(s: Setup, bucket: string, writer: 'same process' | 'other process', action: 'PUT' | 'DELETE'): Promise<void> {
  const key = `stalled/${action}-${writer.replace(' ', '-')}-${Math.random().toString(36).slice(2, 8)}`;
  const data = randomBytes(BIG);
  await s.old.put(key, data, { 'content-type': 'application/x-old' });
  const before = await copyResults(s.reader.adminUrl!, bucket);
  const reading = await stalledRead(s.readerS3, bucket, key);
  // Let the buffers fill: from here the copy waits on the reader.
  await new Promise((r) => setTimeout(r, 300));
  expect(await copyResults(s.reader.adminUrl!, bucket), 'the copy finished before the reader stalled: the object is too small').toEqual(before);
  expect(await s.fresh.get(key)).toBeUndefined();

  const w = s.writers[writer];
  if (action === 'PUT') {
    await w.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'the newer version' }));
    expect(await (await w.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString()).toBe('the newer version');
  } else {
    await w.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect(await exists(w, bucket, key)).toBe(false);
  }

  // The reader resumes and gets the version it started reading.
  expect((await reading.rest()).equals(data)).toBe(true);
  expect(await settledCopies(s.reader.adminUrl!, bucket, before)).toEqual({ superseded: 1 });
  const line = await logLine(s.reader.sink, copyLine(key));
  expect(line.msg).toBe('copy-on-read abandoned: the key was written or deleted meanwhile');
  // Which guard stopped it: this process's own bookkeeping, the conditional write, or the check
  // right before the commit.
  const reason = writer === 'same process' ? `${action === 'PUT' ? 'PutObject' : 'DeleteObject'} of the key`
    : action === 'DELETE' ? 'the old provider now answers 404'
      : s.conditional ? 'the new provider has the key now (412)' : 'the new provider now answers 200';
  expect(line.err).toBe(reason);

  if (action === 'PUT') {
    expect((await s.fresh.get(key))?.body.toString()).toBe('the newer version');
    expect(await (await s.readerS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString()).toBe('the newer version');
  } else {
    expect(await s.fresh.get(key)).toBeUndefined();
    expect(await s.old.get(key)).toBeUndefined();
    expect(await exists(s.readerS3, bucket, key)).toBe(false);
  }
}

/**
 * The remaining race window (from the check before the commit to the provider's answer), as each
 * copy logs it. Not a test of speed: run with S3GATE_MEASURE_WINDOW=1 to print the figures that
 * docs/migration.md quotes.
 */
async function measureWindow(label: string, gw: Gw, s3: S3Client, bucket: string, old: Side, n = 40): Promise<void> {
  const windows: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = `window/${label.replace(/\W+/g, '-')}-${i}-${Math.random().toString(36).slice(2, 6)}`;
    await old.put(key, randomBytes(1024 * 1024));
    await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
    windows.push(Number((await logLine(gw.sink, copyLine(key))).windowMs));
  }
  windows.sort((a, b) => a - b);
  const at = (q: number) => windows[Math.min(windows.length - 1, Math.floor(q * windows.length))]!;
  console.log(`race window ${label}: n=${n} median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${windows[windows.length - 1]} ms`);
}
const measuring = process.env.S3GATE_MEASURE_WINDOW === '1';

function migrateBuckets(newUpstream: string, extra: Record<string, unknown> = {}) {
  return { upstream: newUpstream, mode: 'migrate', copyOnRead: true, ...extra };
}

describe('copy-on-read against the local store', () => {
  let oldUp: StrictUpstream;
  let gwA: Gw;
  let gwB: Gw;
  let setup: Setup;
  let freshStore: LocalStore;

  beforeAll(async () => {
    oldUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
    for (const b of ['cor-old', 'cor-old-nc', 'pub-old']) {
      await oldUp.store.handle({ method: 'PUT', bucket: b, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    }
    const disk = tmpDir('s3gate-cor-');
    freshStore = new LocalStore(disk);
    for (const b of ['cor-new', 'cor-new-nc', 'pub-new']) {
      await freshStore.handle({ method: 'PUT', bucket: b, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    }
    const doc = {
      admin: { address: '127.0.0.1:0' },
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
      upstreams: {
        old: { provider: 'minio', endpoint: oldUp.url, credentials: OLD_KEY },
        disk: { provider: 'local', path: disk },
        // The same store, as a provider without conditional writes: the copy's own check decides.
        'disk-nc': { provider: 'local', path: disk, conditionalWrites: { ifNoneMatch: false } },
      },
      buckets: {
        cor: migrateBuckets('disk', { bucket: 'cor-new', from: { upstream: 'old', bucket: 'cor-old' } }),
        cornc: migrateBuckets('disk-nc', { bucket: 'cor-new-nc', from: { upstream: 'old', bucket: 'cor-old-nc' } }),
        pub: migrateBuckets('disk', { bucket: 'pub-new', public: 'read', from: { upstream: 'old', bucket: 'pub-old' } }),
      },
    };
    gwA = await startTestGateway(doc);
    gwB = await startTestGateway(doc);
    const a = client(`http://${DOMAIN}:${portOf(gwA.url)}`, GW_KEY, { forcePathStyle: true });
    const b = client(`http://${DOMAIN}:${portOf(gwB.url)}`, GW_KEY, { forcePathStyle: true });
    setup = { reader: gwA, readerS3: a, writers: { 'same process': a, 'other process': b }, old: storeSide(oldUp.store, 'cor-old'), fresh: storeSide(freshStore, 'cor-new'), conditional: true };
  });

  afterAll(async () => {
    await gwA?.close();
    await gwB?.close();
    await oldUp?.close();
  });

  for (const writer of ['same process', 'other process'] as const) {
    for (const action of ['PUT', 'DELETE'] as const) {
      it(`a ${action} during a stalled copy wins (writer in the ${writer}, conditional writes)`, async () => {
        await stalledReaderScenario(setup, 'cor', writer, action);
      });
      it(`a ${action} during a stalled copy wins (writer in the ${writer}, no conditional writes)`, async () => {
        await stalledReaderScenario({ ...setup, old: storeSide(oldUp.store, 'cor-old-nc'), fresh: storeSide(freshStore, 'cor-new-nc'), conditional: false }, 'cornc', writer, action);
      });
    }
  }

  it('a plain read still copies, with the old provider\'s metadata', async () => {
    const old = storeSide(oldUp.store, 'cor-old');
    await old.put('plain.txt', Buffer.from('as stored'), { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    const before = await copyResults(gwA.adminUrl!, 'cor');
    expect(await (await setup.readerS3.send(new GetObjectCommand({ Bucket: 'cor', Key: 'plain.txt' }))).Body!.transformToString()).toBe('as stored');
    expect(await settledCopies(gwA.adminUrl!, 'cor', before)).toEqual({ ok: 1 });
    expect((await setup.fresh.get('plain.txt'))?.headers).toMatchObject({ 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
  });

  it.runIf(measuring)('measures the remaining race window (local store)', async () => {
    await measureWindow('local store, If-None-Match', gwA, setup.readerS3, 'cor', storeSide(oldUp.store, 'cor-old'));
    await measureWindow('local store, check before commit', gwA, setup.readerS3, 'cornc', storeSide(oldUp.store, 'cor-old-nc'));
  });

  describe('response-* overrides, Range, conditions and partNumber shape the answer, never the copy', () => {
    const overrides = '?response-content-type=text%2Fhtml&response-cache-control=public%2C%20max-age%3D31536000';
    const oldPub = () => storeSide(oldUp.store, 'pub-old');
    const newPub = () => storeSide(freshStore, 'pub-new');

    it('anonymous read with overrides: the client sees them; nothing is copied; a later plain read copies the stored metadata', async () => {
      await oldPub().put('page.txt', Buffer.from('<script>alert(1)</script>'), { 'content-type': 'text/plain' });
      const before = await copyResults(gwA.adminUrl!, 'pub');
      const r = await request(`http://${DOMAIN}:${portOf(gwA.url)}/pub/page.txt${overrides}`, { dispatcher: testUndiciAgent() });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/html');
      expect(r.headers['cache-control']).toBe('public, max-age=31536000');
      await r.body.text();
      // A plain read of another key copies it; the read above copied nothing.
      await oldPub().put('sentinel.txt', Buffer.from('plain'), { 'content-type': 'text/plain' });
      await (await request(`http://${DOMAIN}:${portOf(gwA.url)}/pub/sentinel.txt`, { dispatcher: testUndiciAgent() })).body.text();
      expect(await settledCopies(gwA.adminUrl!, 'pub', before)).toEqual({ ok: 1 });
      expect(await newPub().get('sentinel.txt')).toBeDefined();
      expect(await newPub().get('page.txt')).toBeUndefined();
      // Read plainly, it is copied as stored.
      await (await request(`http://${DOMAIN}:${portOf(gwA.url)}/pub/page.txt`, { dispatcher: testUndiciAgent() })).body.text();
      expect(await settledCopies(gwA.adminUrl!, 'pub', before, 2)).toEqual({ ok: 2 });
      const stored = await newPub().get('page.txt');
      expect(stored?.headers['content-type']).toBe('text/plain');
      expect(stored?.headers['cache-control']).toBeUndefined();
    });

    it('signed reads with overrides, a Range, a condition or partNumber copy nothing', async () => {
      const old = storeSide(oldUp.store, 'cor-old');
      const s3 = setup.readerS3;
      const cases: [string, Partial<ConstructorParameters<typeof GetObjectCommand>[0]>][] = [
        ['ov-type', { ResponseContentType: 'text/html', ResponseCacheControl: 'public, max-age=31536000' }],
        ['ov-encoding', { ResponseContentEncoding: 'gzip', ResponseContentDisposition: 'attachment' }],
        ['range', { Range: 'bytes=0-3' }],
        ['cond', { IfModifiedSince: new Date(0) }],
        ['part', { PartNumber: 1 }],
      ];
      const before = await copyResults(gwA.adminUrl!, 'cor');
      for (const [key, extra] of cases) {
        await old.put(key, Buffer.from('stored bytes'), { 'content-type': 'text/plain' });
        const r = await s3.send(new GetObjectCommand({ Bucket: 'cor', Key: key, ...extra }));
        await r.Body!.transformToByteArray();
        if (extra.ResponseContentType) expect(r.ContentType).toBe('text/html');
      }
      // A plain read of the last one copies, and it is the only copy.
      await (await s3.send(new GetObjectCommand({ Bucket: 'cor', Key: 'part' }))).Body!.transformToByteArray();
      expect(await settledCopies(gwA.adminUrl!, 'cor', before)).toEqual({ ok: 1 });
      for (const [key] of cases.slice(0, -1)) expect(await setup.fresh.get(key), key).toBeUndefined();
      expect((await setup.fresh.get('part'))?.headers['content-type']).toBe('text/plain');
    });
  });
});

describe('copy-on-read against the real Ceph RGW 16', () => {
  // RGW is the new provider, where the copy would land and where conditional writes matter. The
  // large objects live at the old provider (a local store): the shared RGW keeps its data in
  // 2 GiB of memory, and only sees the copies, cut short, and the writers' small objects. Its
  // buckets are emptied and removed afterwards.
  let oldUp: StrictUpstream;
  let gwA: Gw;
  let gwB: Gw;
  let newC: S3Client;
  const run = Math.random().toString(36).slice(2, 8);
  const rgwBuckets = [`cor-new-c-${run}`, `cor-new-nc-${run}`];

  beforeAll(async () => {
    const ceph = await ensureCeph();
    const b = { accessKeyId: ceph.users.b.accessKeyId, secretAccessKey: ceph.users.b.secretAccessKey };
    newC = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...b }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    for (const bucket of rgwBuckets) await newC.send(new CreateBucketCommand({ Bucket: bucket }));
    oldUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
    for (const n of ['c', 'nc']) {
      await oldUp.store.handle({ method: 'PUT', bucket: `cor-old-${n}`, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    }
    const doc = {
      admin: { address: '127.0.0.1:0' },
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
      upstreams: {
        old: { provider: 'minio', endpoint: oldUp.url, credentials: OLD_KEY },
        // RGW 16 honours If-None-Match: * on PUT (the ceph preset says so); the same RGW as a
        // provider without conditional writes exercises the check before the commit.
        fresh: { provider: 'ceph', endpoint: ceph.endpoint, credentials: b },
        'fresh-nc': { provider: 'ceph', endpoint: ceph.endpoint, credentials: b, conditionalWrites: { ifNoneMatch: false } },
      },
      buckets: {
        rgwc: migrateBuckets('fresh', { bucket: rgwBuckets[0], from: { upstream: 'old', bucket: 'cor-old-c' } }),
        rgwnc: migrateBuckets('fresh-nc', { bucket: rgwBuckets[1], from: { upstream: 'old', bucket: 'cor-old-nc' } }),
      },
    };
    gwA = await startTestGateway(doc);
    gwB = await startTestGateway(doc);
  });

  afterAll(async () => {
    await gwA?.close();
    await gwB?.close();
    await oldUp?.close();
    newC?.destroy();
    await removeCephBuckets(await ensureCeph(), (name) => rgwBuckets.includes(name));
  }, 60_000);

  for (const [bucket, n, label] of [['rgwc', 'c', 'If-None-Match'], ['rgwnc', 'nc', 'no conditional writes']] as const) {
    for (const writer of ['same process', 'other process'] as const) {
      for (const action of ['PUT', 'DELETE'] as const) {
        it(`a ${action} during a stalled copy wins (writer in the ${writer}, ${label})`, async () => {
          const a = client(`http://${DOMAIN}:${portOf(gwA.url)}`, GW_KEY, { forcePathStyle: true });
          const b = client(`http://${DOMAIN}:${portOf(gwB.url)}`, GW_KEY, { forcePathStyle: true });
          await stalledReaderScenario({
            reader: gwA, readerS3: a, writers: { 'same process': a, 'other process': b },
            old: storeSide(oldUp.store, `cor-old-${n}`), fresh: s3Side(newC, `cor-new-${n}-${run}`), conditional: n === 'c',
          }, bucket, writer, action);
        });
      }
    }
  }

  it.runIf(measuring)('measures the remaining race window (RGW 16)', async () => {
    const a = client(`http://${DOMAIN}:${portOf(gwA.url)}`, GW_KEY, { forcePathStyle: true });
    await measureWindow('RGW 16, If-None-Match', gwA, a, 'rgwc', storeSide(oldUp.store, 'cor-old-c'));
    await measureWindow('RGW 16, check before commit', gwA, a, 'rgwnc', storeSide(oldUp.store, 'cor-old-nc'));
  }, 300_000);

  it('RGW 16 itself: a PUT with If-None-Match: * whose body is still arriving when another PUT lands answers 412', async () => {
    // What the ceph preset's conditionalWrites.ifNoneMatch rests on: the condition is checked
    // when the upload commits, not when it starts.
    const bucket = `cor-new-c-${run}`;
    const body = new Readable({ read() {} });
    const slow = newC.send(new PutObjectCommand({ Bucket: bucket, Key: 'inm-race', Body: body, ContentLength: 6, IfNoneMatch: '*' }));
    body.push('abc');
    await new Promise((r) => setTimeout(r, 300));
    await newC.send(new PutObjectCommand({ Bucket: bucket, Key: 'inm-race', Body: 'landed first' }));
    body.push('def');
    body.push(null);
    const status = await slow.then(() => 200, (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
    expect(status).toBe(412);
    expect(await (await newC.send(new GetObjectCommand({ Bucket: bucket, Key: 'inm-race' }))).Body!.transformToString()).toBe('landed first');
  });
});
