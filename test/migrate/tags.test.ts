// `s3gate migrate` copies object tags: the source GET's x-amz-tagging-count says when to read them
// (GetObjectTagging), and they go with the PUT or CreateMultipartUpload as x-amz-tagging. An object
// whose tags cannot be read fails and is not copied. --verify reports a tag difference where the
// destination's HEAD shows tags; --verify=content, which GETs both sides, sees every one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, MiB, report, runCli } from './helpers.js';
import { startFaultProxy, type FaultProxy } from './proxy.js';

const OLD = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const NEW = { accessKeyId: 'NEWPROVIDERKEY', secretAccessKey: 'new-provider-secret-abcdefghijklmnopqrst' };
const env = { OLD_SECRET: OLD.secretAccessKey, NEW_SECRET: NEW.secretAccessKey };
const TAGS = [['t', '0'], ['a b', 'c+d=e/f'], ['größe', '日本']] as const;
const TAGGING = TAGS.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

let oldUp: StrictUpstream;
let newUp: StrictUpstream;
let proxy: FaultProxy;
let dir: string;
let config: string;

const store = (up: StrictUpstream, method: string, bucket: string, key?: string, headers: Record<string, string> = {}, body?: Buffer, query = '') =>
  up.store.handle({ method, bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(query), headers, body: Readable.from(body ? [body] : []) });
const put = (key: string, size: number, headers: Record<string, string> = {}) =>
  store(oldUp, 'PUT', 'old-b', key, { 'content-length': String(size), ...headers }, bytesFor(key, size));
async function tagSet(up: StrictUpstream, bucket: string, key: string): Promise<[string, string][]> {
  const doc = String((await store(up, 'GET', bucket, key, {}, undefined, 'tagging=')).body);
  return [...doc.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)].map((m) => [m[1]!, m[2]!]);
}
const migrate = (extra: string[] = []) => runCli(['migrate', '--config', config, '--from', 'old/old-b', '--to', 'new/new-b', '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json', ...extra], dir, env);
const isTagging = (url: string) => new URL(url, 'http://x').searchParams.has('tagging');
const keyOf = (url: string) => decodeURIComponent(new URL(url, 'http://x').pathname.split('/').slice(2).join('/'));

beforeAll(async () => {
  oldUp = await startStrictUpstream({ ...OLD, region: 'us-east-1' });
  newUp = await startStrictUpstream({ ...NEW, region: 'us-east-1' });
  await store(oldUp, 'PUT', 'old-b');
  await store(newUp, 'PUT', 'new-b');
  // The copier reads the old provider through a proxy that can fail GetObjectTagging.
  proxy = await startFaultProxy(oldUp.url);
  dir = tmpDir('s3gate-migrate-tags-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  old: { provider: linode, endpoint: ${proxy.url}, credentials: { accessKeyId: ${OLD.accessKeyId}, secretAccessKey: \${OLD_SECRET} } }
  new: { provider: linode, endpoint: ${newUp.url}, credentials: { accessKeyId: ${NEW.accessKeyId}, secretAccessKey: \${NEW_SECRET} } }
buckets:
  tagged: { mode: migrate, upstream: new, bucket: new-b, from: { upstream: old, bucket: old-b } }
`);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await Promise.all([oldUp?.close(), newUp?.close()]);
});

describe('s3gate migrate carries tags', () => {
  it('copies tags with single and multipart copies, asks only for tagged objects, and --verify finds nothing', async () => {
    await put('small.txt', 2000, { 'x-amz-tagging': TAGGING });
    await put('big.bin', 6 * MiB, { 'x-amz-tagging': 'kind=big' });
    await put('plain.txt', 100);
    const run = migrate();
    expect((await run.exited).code, run.err()).toBe(0);
    expect(report(run)).toMatchObject({ copied: 3, failed: 0 });
    expect(await tagSet(newUp, 'new-b', 'small.txt')).toEqual(TAGS.map(([k, v]) => [k, v]));
    expect(await tagSet(newUp, 'new-b', 'big.bin')).toEqual([['kind', 'big']]);
    expect(await tagSet(newUp, 'new-b', 'plain.txt')).toEqual([]);
    // One GetObjectTagging per tagged object, none for the untagged one.
    expect(proxy.seen.filter((q) => isTagging(q.url)).map((q) => keyOf(q.url)).sort()).toEqual(['big.bin', 'small.txt']);
    for (const mode of ['--verify', '--verify=content']) {
      const verify = migrate([mode]);
      expect((await verify.exited).code, verify.out()).toBe(0);
      expect(report(verify)).toMatchObject({ differences: {} });
    }
  }, 120_000);

  it('--verify reports tags that differ where the destination shows some; --verify=content also tags that are missing', async () => {
    // Other tags at the destination: its HEAD counts them, so plain --verify compares.
    await store(newUp, 'PUT', 'new-b', 'big.bin', {}, Buffer.from('<Tagging><TagSet><Tag><Key>kind</Key><Value>other</Value></Tag></TagSet></Tagging>'), 'tagging=');
    // Tags gone at the destination: only a GET of the source would say it has some.
    await store(newUp, 'DELETE', 'new-b', 'small.txt', {}, undefined, 'tagging=');
    const verify = migrate(['--verify']);
    expect((await verify.exited).code).toBe(1);
    expect(verify.events().filter((e) => e.event === 'difference').map((e) => [e.key, e.kind, e.detail])).toEqual([
      ['big.bin', 'tags', 'the source has kind=big, the destination kind=other'],
    ]);
    const content = migrate(['--verify=content']);
    expect((await content.exited).code).toBe(1);
    expect(content.events().filter((e) => e.event === 'difference').map((e) => [e.key, e.kind]).sort()).toEqual([['big.bin', 'tags'], ['small.txt', 'tags']]);
    expect(report(content)).toMatchObject({ differences: { tags: 2 } });
  }, 120_000);

  it('an object whose tags cannot be read fails and is not copied', async () => {
    await put('unreadable.txt', 300, { 'x-amz-tagging': 't=1' });
    proxy.decide = (q) => (isTagging(q.url) && keyOf(q.url) === 'unreadable.txt' ? { do: 'error', status: 503 } : { do: 'pass' });
    try {
      const run = migrate();
      expect((await run.exited).code).toBe(1);
      expect(run.events().find((e) => e.event === 'failed')).toMatchObject({ key: 'unreadable.txt', reason: expect.stringMatching(/^GetObjectTagging: 503 SlowDown/) });
      await expect(store(newUp, 'HEAD', 'new-b', 'unreadable.txt')).rejects.toMatchObject({ code: 'NoSuchKey' });
    } finally {
      proxy.decide = () => ({ do: 'pass' });
    }
    const again = migrate();
    expect((await again.exited).code, again.err()).toBe(0);
    expect(await tagSet(newUp, 'new-b', 'unreadable.txt')).toEqual([['t', '1']]);
  }, 120_000);
});
