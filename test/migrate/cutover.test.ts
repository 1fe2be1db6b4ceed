// The documented cut-over, with clients writing through the gateway the whole time: the bucket
// is in mode: migrate (writes land at the new provider only), and `s3gate migrate` copies the
// old provider across. A client's write, made between two runs or while a run copies that very
// key, is never replaced by the older source bytes; a client's delete during the copy is not
// undone. What the copier leaves alone it reports as newer at destination, and --verify does
// not count it as something to repair.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { bytesFor, MiB, report, runCli } from './helpers.js';
import { startFaultProxy, type FaultProxy } from './proxy.js';
import { JournalWriter } from '../../src/migrate/journal.js';

const OLD_KEY = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const env = { OLD_SECRET: OLD_KEY.secretAccessKey, NEW_SECRET: UP_KEY.secretAccessKey };

let oldUp: StrictUpstream;
let newUp: StrictUpstream;
let proxy: FaultProxy;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
let dir: string;
let config: string;

const handle = (up: StrictUpstream, method: string, bucket: string, key?: string, headers: Record<string, string> = {}, body?: Buffer) =>
  up.store.handle({ method, bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(), headers, body: Readable.from(body ? [body] : []) });

async function bodyOf(up: StrictUpstream, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const r = await handle(up, 'GET', bucket, key);
    const chunks: Buffer[] = [];
    for await (const c of r.body as Readable) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  }
}

const oldObject = (key: string, size = 2000) => handle(oldUp, 'PUT', 'media-old', key, { 'content-length': String(size) }, bytesFor(key, size));
const clientPut = (key: string, body: Buffer) => s3.send(new PutObjectCommand({ Bucket: 'media', Key: key, Body: body }));
const migrate = (extra: string[] = []) => runCli(['migrate', '--config', config, '--bucket', 'media', '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json', ...extra], dir, env);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What a client does through the gateway that keeps the object's bytes, and so its ETag: a new Content-Type and metadata. */
const clientReupload = (key: string, body: Buffer) => s3.send(new PutObjectCommand({ Bucket: 'media', Key: key, Body: body, ContentType: 'text/x-client', Metadata: { by: 'client' } }));
const clientReplace = (key: string) => s3.send(new CopyObjectCommand({ Bucket: 'media', Key: key, CopySource: `media/${encodeURIComponent(key)}`, MetadataDirective: 'REPLACE', ContentType: 'text/x-client', Metadata: { by: 'client' } }));
async function headOf(up: StrictUpstream, bucket: string, key: string): Promise<Record<string, string>> {
  return (await handle(up, 'HEAD', bucket, key)).headers as Record<string, string>;
}
const keyOf = (url: string) => decodeURIComponent(new URL(url, 'http://x').pathname.split('/').slice(2).join('/'));

beforeAll(async () => {
  oldUp = await startStrictUpstream({ ...OLD_KEY, region: 'us-east-1' });
  newUp = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  await handle(oldUp, 'PUT', 'media-old');
  await handle(newUp, 'PUT', 'media-new');
  // The copier reaches the new provider through a proxy that can hold a request while a client
  // writes; the gateway talks to it directly.
  proxy = await startFaultProxy(newUp.url);
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
    domains: [DOMAIN],
    upstreams: {
      old: { provider: 'linode', endpoint: oldUp.url, credentials: OLD_KEY },
      new: { provider: 'linode', endpoint: newUp.url, credentials: UP_KEY },
    },
    buckets: { media: { upstream: 'new', bucket: 'media-new', mode: 'migrate', from: { upstream: 'old', bucket: 'media-old' } } },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
  dir = tmpDir('s3gate-cutover-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  old: { provider: linode, endpoint: ${oldUp.url}, credentials: { accessKeyId: ${OLD_KEY.accessKeyId}, secretAccessKey: \${OLD_SECRET} } }
  new: { provider: linode, endpoint: ${proxy.url}, credentials: { accessKeyId: ${UP_KEY.accessKeyId}, secretAccessKey: \${NEW_SECRET} } }
buckets:
  media: { mode: migrate, upstream: new, bucket: media-new, from: { upstream: old, bucket: media-old } }
`);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await proxy?.close();
  await Promise.all([oldUp?.close(), newUp?.close()]);
});

describe('cut-over with clients writing through the gateway (mode: migrate)', () => {
  it('writes between runs are never overwritten; a source change to our own copy still is copied', async () => {
    for (const k of ['a.txt', 'b.txt', 'c.txt']) await oldObject(k);
    await oldObject('big.bin', 6 * MiB);
    const mine = Buffer.from('written by a client through the gateway');
    await clientPut('a.txt', mine);

    const first = migrate();
    expect((await first.exited).code, first.err()).toBe(0);
    expect(report(first)).toMatchObject({ copied: 3, newerAtDestination: 1, failed: 0 });
    expect(first.events().find((e) => e.event === 'newer-at-destination')).toMatchObject({ key: 'a.txt' });
    expect(await bodyOf(newUp, 'media-new', 'a.txt')).toEqual(mine);
    // Single PUTs went with If-None-Match: * (nothing unguarded); the multipart copy, whose
    // completion RGW 16 does not make conditional, says how long its window was.
    const copies = first.events().filter((e) => e.event === 'copied');
    expect(copies.filter((e) => e.windowMs !== undefined).map((e) => [e.key, typeof e.windowMs])).toEqual([['big.bin', 'number']]);

    // Between runs: a client writes over a copied object; a straggler changes another at the old provider.
    const mine2 = Buffer.from('a newer b');
    await clientPut('b.txt', mine2);
    await clientPut('big.bin', mine2);
    const changed = Buffer.from('changed at the old provider after the first run');
    await handle(oldUp, 'PUT', 'media-old', 'c.txt', { 'content-length': String(changed.length) }, changed);

    const second = migrate();
    expect((await second.exited).code, second.err()).toBe(0);
    expect(report(second)).toMatchObject({ copied: 1, newerAtDestination: 3, failed: 0 });
    expect(second.events().filter((e) => e.event === 'copied').map((e) => e.key)).toEqual(['c.txt']);
    expect(await bodyOf(newUp, 'media-new', 'a.txt')).toEqual(mine);
    expect(await bodyOf(newUp, 'media-new', 'b.txt')).toEqual(mine2);
    expect(await bodyOf(newUp, 'media-new', 'big.bin')).toEqual(mine2);
    expect(await bodyOf(newUp, 'media-new', 'c.txt')).toEqual(changed);

    // --verify lists them and repairs nothing: the cut-over's step 3 passes.
    const verify = migrate(['--verify']);
    expect((await verify.exited).code, verify.out()).toBe(0);
    expect(report(verify)).toMatchObject({ differences: {}, newerAtDestination: 3 });
  }, 120_000);

  it('writes and deletes during the run win over the copy in flight', async () => {
    for (const k of ['d-put.txt', 'd-delete.txt']) await oldObject(k);
    await oldObject('d-big.bin', 11 * MiB);
    const theirs = Buffer.from('the client wrote this while the copier was copying the key');
    const bigTheirs = Buffer.from('the client wrote this while the multipart copy was under way');
    // Each client action lands after the copier decided to copy the key and before it commits.
    proxy.decide = async (r) => {
      const key = keyOf(r.url);
      if (r.kind === 'put' && key === 'd-put.txt') await clientPut(key, theirs);
      if (r.kind === 'put' && key === 'd-delete.txt') await s3.send(new DeleteObjectCommand({ Bucket: 'media', Key: key }));
      if (r.kind === 'part' && key === 'd-big.bin' && new URL(r.url, 'http://x').searchParams.get('partNumber') === '3') await clientPut(key, bigTheirs);
      return { do: 'pass' };
    };
    const run = migrate();
    expect((await run.exited).code, run.err()).toBe(0);
    proxy.decide = () => ({ do: 'pass' });
    const events = run.events();
    // The PUT went with If-None-Match: * (the preset says RGW 16 honours it) and got 412; the
    // multipart copy looked again just before completing (RGW 16 ignores it there).
    expect(events.filter((e) => e.event === 'newer-at-destination' && String(e.key).startsWith('d-')).map((e) => e.key).sort()).toEqual(['d-big.bin', 'd-put.txt']);
    expect(await bodyOf(newUp, 'media-new', 'd-put.txt')).toEqual(theirs);
    expect(await bodyOf(newUp, 'media-new', 'd-big.bin')).toEqual(bigTheirs);
    // Deleted at both providers while its copy streamed: the copy is taken back.
    expect(await bodyOf(oldUp, 'media-old', 'd-delete.txt')).toBeUndefined();
    expect(await bodyOf(newUp, 'media-new', 'd-delete.txt')).toBeUndefined();
    const puts = proxy.seen.filter((r) => r.kind === 'put' && keyOf(r.url) === 'd-put.txt');
    expect(puts.map((r) => [r.headers['if-none-match'], r.status])).toEqual([['*', 412]]);
    expect(String((await newUp.store.handle({ method: 'GET', bucket: 'media-new', query: new URLSearchParams('uploads='), headers: {}, body: Readable.from([]) })).body)).not.toContain('<Upload>');
  }, 120_000);

  // Last-Modified is what tells our copy from a client's write of the same bytes. HTTP dates carry
  // whole seconds: each client write here lands at least a second after the copy it replaces.
  it('a client\'s write of the same bytes over our copy is newer, though it keeps the ETag (re-upload, CopyObject onto itself)', async () => {
    const keys = ['same-put.txt', 'same-copy.txt'];
    for (const k of keys) await oldObject(k);
    const first = migrate();
    expect((await first.exited).code, first.err()).toBe(0);
    expect(first.events().filter((e) => e.event === 'copied' && keys.includes(String(e.key))).map((e) => e.key).sort()).toEqual([...keys].sort());
    const etags = await Promise.all(keys.map(async (k) => (await headOf(newUp, 'media-new', k)).etag));

    await sleep(1100);
    // A legacy app still writing at the old provider, then a client's writes through the gateway.
    const legacy = Buffer.from('written at the old provider by a legacy app');
    for (const k of keys) await handle(oldUp, 'PUT', 'media-old', k, { 'content-length': String(legacy.length), 'x-amz-meta-by': 'legacy' }, legacy);
    await clientReupload('same-put.txt', bytesFor('same-put.txt', 2000));
    await clientReplace('same-copy.txt');
    expect(await Promise.all(keys.map(async (k) => (await headOf(newUp, 'media-new', k)).etag))).toEqual(etags);

    const second = migrate();
    expect((await second.exited).code, second.err()).toBe(0);
    expect(second.events().filter((e) => e.event === 'copied' && keys.includes(String(e.key)))).toEqual([]);
    expect(second.events().filter((e) => e.event === 'newer-at-destination' && keys.includes(String(e.key))).map((e) => e.key).sort()).toEqual([...keys].sort());
    for (const k of keys) {
      expect(await bodyOf(newUp, 'media-new', k), k).toEqual(bytesFor(k, 2000));
      expect(await headOf(newUp, 'media-new', k), k).toMatchObject({ 'content-type': 'text/x-client', 'x-amz-meta-by': 'client' });
    }
    // The journal knows each copy by its ETag and its Last-Modified.
    const journal = readFileSync(join(dir, '.s3gate-migrate-media.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const k of keys) expect(journal.filter((r) => r.t === 'copied' && r.k === k).at(-1)).toMatchObject({ de: expect.any(String), dm: expect.any(String) });
  }, 120_000);

  it('a journal from before the copy\'s Last-Modified was kept proves nothing: the object is newer at destination', async () => {
    const key = 'old-journal.txt';
    const ours = bytesFor(key, 2000);
    await oldObject(key);
    await handle(newUp, 'PUT', 'media-new', key, { 'content-length': String(ours.length) }, ours);
    const dest = await headOf(newUp, 'media-new', key);
    const src = await headOf(oldUp, 'media-old', key);
    // What an s3gate before this change wrote: a copied line with the destination's ETag only.
    const state = join(dir, 'old-format.jsonl');
    const w = new JournalWriter(state);
    w.append({ t: 'begin', v: 2, from: 'old/media-old', to: 'new/media-new', shard: 'all', at: new Date().toISOString() }, true);
    w.append({ t: 'copied', k: key, s: 2000, e: src.etag!.replace(/"/g, ''), m: src['last-modified']!, de: dest.etag!.replace(/"/g, '') });
    w.close();
    const changed = Buffer.from('changed at the old provider');
    await handle(oldUp, 'PUT', 'media-old', key, { 'content-length': String(changed.length) }, changed);
    const run = migrate(['--state', state]);
    expect((await run.exited).code, run.err()).toBe(0);
    expect(run.events().filter((e) => e.key === key).map((e) => e.event)).toEqual(['newer-at-destination']);
    expect(await bodyOf(newUp, 'media-new', key)).toEqual(ours);
  }, 120_000);

  it('a client\'s write of the same bytes while the copy over our own copy streams wins: the check before the commit compares Last-Modified', async () => {
    // A single PUT larger than the buffers on the way, so its last bytes are still held back when
    // the client's write lands.
    const key = 'race-same.bin';
    const size = 24 * MiB;
    const big = ['--multipart-threshold', '64MiB'];
    await oldObject(key, size);
    const first = migrate(big);
    expect((await first.exited).code, first.err()).toBe(0);
    expect(first.events().find((e) => e.event === 'copied' && e.key === key)).toMatchObject({ multipart: false });
    await sleep(1100);
    const legacy = bytesFor(`${key} (legacy)`, size);
    await handle(oldUp, 'PUT', 'media-old', key, { 'content-length': String(size) }, legacy);
    proxy.decide = async (r) => {
      if (r.kind === 'put' && keyOf(r.url) === key) await clientReplace(key);
      return { do: 'pass' };
    };
    const run = migrate(big);
    expect((await run.exited).code, run.err()).toBe(0);
    proxy.decide = () => ({ do: 'pass' });
    expect(run.events().filter((e) => e.key === key).map((e) => [e.event, e.detail])).toEqual([
      ['newer-at-destination', expect.stringMatching(/^the destination was written during the copy \(same ETag, Last-Modified /)],
    ]);
    // The copy went If-Match on our ETag, which the client's write kept; the check stopped it.
    expect(proxy.seen.filter((r) => r.kind === 'put' && keyOf(r.url) === key).at(-1)?.headers['if-match']).toBeDefined();
    expect((await bodyOf(newUp, 'media-new', key))?.equals(bytesFor(key, size))).toBe(true);
    expect(await headOf(newUp, 'media-new', key)).toMatchObject({ 'content-type': 'text/x-client', 'x-amz-meta-by': 'client' });
  }, 120_000);

  // The figure in docs/migration.md: S3GATE_MEASURE_WINDOW=1 npx vitest run test/migrate/cutover.test.ts -t measures
  it.runIf(process.env.S3GATE_MEASURE_WINDOW)('measures the unguarded window of multipart copies (HEAD before the completion to its answer)', async () => {
    await handle(newUp, 'PUT', 'window-new');
    for (let i = 0; i < 40; i++) await handle(oldUp, 'PUT', 'media-old', `w/${i}.bin`, { 'content-length': String(6 * MiB) }, bytesFor(`w/${i}`, 6 * MiB));
    const run = runCli(['migrate', '--config', config, '--from', 'old/media-old', '--to', 'new/window-new', '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--concurrency', '4', '--no-state', '--json'], dir, env);
    expect((await run.exited).code, run.err()).toBe(0);
    const ms = run.events().filter((e) => e.event === 'copied' && String(e.key).startsWith('w/')).map((e) => Number(e.windowMs)).sort((x, y) => x - y);
    expect(ms).toHaveLength(40);
    const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
    console.log(`multipart copy window, local store behind the strict upstream, 6 MiB objects, 40 copies, --concurrency 4: median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${ms.at(-1)} ms`);
  }, 300_000);
});
