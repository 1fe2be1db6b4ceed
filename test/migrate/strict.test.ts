// `s3gate migrate` as users run it (the built CLI, a child process) between two strict test
// upstreams with different keys: the old provider holds 2,000 objects; the copy is killed
// halfway and restarted, and each key still reaches the new provider once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, md5, MiB, report, runCli, seedSet, waitForProgress, type SeedObject } from './helpers.js';

const OLD = { accessKeyId: 'OLDPROVIDERKEY', secretAccessKey: 'old-provider-secret-abcdefghijklmnopqrst' };
const NEW = { accessKeyId: 'NEWPROVIDERKEY', secretAccessKey: 'new-provider-secret-abcdefghijklmnopqrst' };
const MP = ['--multipart-threshold', '5MiB', '--part-size', '5MiB'];

let oldUp: StrictUpstream;
let newUp: StrictUpstream;
let dir: string;
let config: string;
const objects: SeedObject[] = seedSet();

const q = () => new URLSearchParams();
async function store(up: StrictUpstream, method: string, bucket: string, key?: string, headers: Record<string, string> = {}, body?: Buffer) {
  return up.store.handle({ method, bucket, ...(key !== undefined ? { key } : {}), query: q(), headers, body: Readable.from(body ? [body] : []) });
}
async function bodyOf(up: StrictUpstream, bucket: string, key: string): Promise<Buffer> {
  const r = await store(up, 'GET', bucket, key);
  const chunks: Buffer[] = [];
  for await (const c of r.body as Readable) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Successful writes per key at the new provider, for one bucket. */
function writes(up: StrictUpstream, bucket: string) {
  const puts = new Map<string, number>();
  const parts = new Map<string, number>();
  const completes = new Map<string, number>();
  for (const r of up.requests) {
    if (r.bucket !== bucket || r.status !== 200 || !r.key) continue;
    const m = r.operation === 'PutObject' ? puts : r.operation === 'CompleteMultipartUpload' ? completes : r.operation === 'UploadPart' ? parts : undefined;
    const id = r.operation === 'UploadPart' ? `${r.key}#${new URL(r.url, 'http://x').searchParams.get('partNumber')}` : r.key;
    m?.set(id, (m.get(id) ?? 0) + 1);
  }
  return { puts, parts, completes };
}

beforeAll(async () => {
  oldUp = await startStrictUpstream({ ...OLD, region: 'us-east-1' });
  newUp = await startStrictUpstream({ ...NEW, region: 'eu-west-3' });
  await store(oldUp, 'PUT', 'old-media');
  for (const b of ['new-media', 'new-shards', 'new-dry']) await store(newUp, 'PUT', b);
  // Seeded straight into the old provider's store: the test is about the copy, not the upload.
  for (let i = 0; i < objects.length; i += 50) {
    await Promise.all(objects.slice(i, i + 50).map((o) => store(oldUp, 'PUT', 'old-media', o.key, { ...o.headers, 'content-length': String(o.size) }, bytesFor(o.key, o.size))));
  }
  dir = tmpDir('s3gate-migrate-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  old: { provider: linode, endpoint: ${oldUp.url}, region: us-east-1, credentials: { accessKeyId: ${OLD.accessKeyId}, secretAccessKey: \${OLD_SECRET} } }
  new: { provider: linode, endpoint: ${newUp.url}, region: eu-west-3, credentials: { accessKeyId: ${NEW.accessKeyId}, secretAccessKey: \${NEW_SECRET} } }
buckets:
  media:
    mode: migrate
    upstream: new
    bucket: new-media
    from: { upstream: old, bucket: old-media }
`);
}, 120_000);

afterAll(async () => {
  await oldUp?.close();
  await newUp?.close();
});

const env = { OLD_SECRET: OLD.secretAccessKey, NEW_SECRET: NEW.secretAccessKey };

describe('s3gate migrate between two strict upstreams', () => {
  it('killed halfway and restarted, copies 2,000 objects with each key written once; --verify finds nothing', async () => {
    const started = Date.now();
    const first = runCli(['migrate', '--config', config, '--bucket', 'media', '--concurrency', '8', ...MP, '--page-size', '250', '--progress-interval', '0.05'], dir, env);
    const seen = await waitForProgress(first, 700);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const afterKill = writes(newUp, 'new-media');
    const copiedBeforeKill = afterKill.puts.size + afterKill.completes.size;
    expect(seen).toBeLessThan(objects.length);
    expect(copiedBeforeKill).toBeLessThan(objects.length);

    const second = runCli(['migrate', '--config', config, '--bucket', 'media', '--concurrency', '8', ...MP, '--page-size', '250', '--json'], dir, env);
    expect(await second.exited, second.err()).toEqual({ code: 0, signal: null });
    const r = report(second);
    const seconds = (Date.now() - started) / 1000;
    console.log(`2,000-object run (strict upstreams): ${seconds.toFixed(1)} s in total; killed after ${seen} settled (${copiedBeforeKill} written), then ${r.copied} copied and ${r.skipped} skipped, resumed after ${JSON.stringify(r.resumedAfter)}`);
    expect(r).toMatchObject({ mode: 'copy', from: 'old/old-media', to: 'new/new-media', failed: 0, stopped: false });
    expect(typeof r.resumedAfter).toBe('string'); // listing resumed from the journal's cursor
    // Writes the new provider finished as the kill landed are found by the HEAD check, not redone.
    expect(Number(r.copied)).toBeLessThanOrEqual(objects.length - copiedBeforeKill);

    const w = writes(newUp, 'new-media');
    for (const [key, n] of [...w.puts, ...w.completes, ...w.parts]) expect(n, key).toBe(1);
    expect(w.puts.size + w.completes.size).toBe(objects.length);
    expect(w.completes.has('m/big ü+ file.bin')).toBe(true);
    expect(w.parts.size).toBe(3); // 12 MiB in 5 MiB parts
    // Nothing left half-uploaded at the new provider.
    const listUploads = await newUp.store.handle({ method: 'GET', bucket: 'new-media', query: new URLSearchParams('uploads='), headers: {}, body: Readable.from([]) });
    expect(String(listUploads.body)).not.toContain('<Upload>');

    // Content, metadata and content type on samples, including the multipart one.
    for (const o of [objects.at(-1)!, ...objects.filter((_, i) => i % 97 === 0 || i % 50 === 7).slice(0, 30)]) {
      const [a, b] = await Promise.all([store(oldUp, 'HEAD', 'old-media', o.key), store(newUp, 'HEAD', 'new-media', o.key)]);
      for (const h of ['content-type', 'content-length', 'cache-control', 'content-disposition', 'content-encoding', 'x-amz-meta-owner', 'x-amz-meta-kind']) {
        expect(b.headers[h], `${o.key} ${h}`).toBe(a.headers[h]);
      }
      expect(md5(await bodyOf(newUp, 'new-media', o.key)), o.key).toBe(md5(bytesFor(o.key, o.size)));
    }

    // The journal names each key copied at most once.
    const journal = readFileSync(join(dir, '.s3gate-migrate-media.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as { t: string; k?: string }; } catch { return { t: 'torn' }; } });
    const copiedKeys = journal.filter((x) => x.t === 'copied').map((x) => x.k);
    expect(new Set(copiedKeys).size).toBe(copiedKeys.length);

    const verify = runCli(['migrate', '--config', config, '--bucket', 'media', '--verify', '--json'], dir, env);
    expect(await verify.exited, verify.err()).toEqual({ code: 0, signal: null });
    expect(report(verify)).toMatchObject({ mode: 'verify', listed: objects.length, skipped: objects.length, failed: 0, differences: {} });

    // A new pass HEADs everything, finds it in place (the journal vouches for the multipart
    // copy) and writes nothing.
    const before = newUp.requests.length;
    const again = runCli(['migrate', '--config', config, '--bucket', 'media', ...MP, '--json'], dir, env);
    expect((await again.exited).code).toBe(0);
    expect(report(again)).toMatchObject({ copied: 0, skipped: objects.length });
    expect(newUp.requests.slice(before).filter((x) => x.method === 'PUT' || x.method === 'POST')).toEqual([]);
  }, 300_000);

  it('--verify reports what is missing and exits 1; an object written at the destination by someone else is newer, never repaired', async () => {
    const victim = objects[3]!;
    const other = objects[4]!;
    const theirs = Buffer.alloc(other.size + 3, 1);
    await store(newUp, 'DELETE', 'new-media', victim.key);
    // What a client's PUT through the gateway under mode: migrate does: only the new provider has it.
    await store(newUp, 'PUT', 'new-media', other.key, { 'content-length': String(theirs.length) }, theirs);
    const verify = runCli(['migrate', '--config', config, '--bucket', 'media', '--verify', '--json'], dir, env);
    expect((await verify.exited).code).toBe(1);
    const diffs = verify.events().filter((e) => e.event === 'difference');
    expect(diffs.map((d) => [d.key, d.kind])).toEqual([[victim.key, 'missing']]);
    expect(verify.events().filter((e) => e.event === 'newer-at-destination').map((e) => e.key)).toEqual([other.key]);
    expect(report(verify)).toMatchObject({ differences: { missing: 1 }, newerAtDestination: 1 });
    // A new pass HEADs every object again, copies the missing one back and leaves the newer one alone.
    const fix = runCli(['migrate', '--config', config, '--bucket', 'media', ...MP, '--json'], dir, env);
    expect((await fix.exited).code).toBe(0);
    expect(report(fix)).toMatchObject({ copied: 1, newerAtDestination: 1, failed: 0 });
    expect(fix.events().filter((e) => e.event === 'copied').map((e) => e.key)).toEqual([victim.key]);
    expect(await bodyOf(newUp, 'new-media', other.key)).toEqual(theirs);
    const after = runCli(['migrate', '--config', config, '--bucket', 'media', '--verify', '--json'], dir, env);
    expect((await after.exited).code).toBe(0);
    expect(report(after)).toMatchObject({ differences: {}, newerAtDestination: 1 });
    // Without the journal nothing proves the multipart copy of a single-part source is ours: it is
    // left alone too; reading the bytes (--verify=content) finds it equal.
    const bare = runCli(['migrate', '--config', config, '--bucket', 'media', '--verify', '--no-state', '--json'], dir, env);
    expect((await bare.exited).code).toBe(0);
    expect(report(bare)).toMatchObject({ differences: {}, newerAtDestination: 2 });
    const content = runCli(['migrate', '--config', config, '--bucket', 'media', '--verify=content', '--no-state', '--json'], dir, env);
    expect((await content.exited).code).toBe(0);
    expect(report(content)).toMatchObject({ differences: {}, newerAtDestination: 1, skipped: objects.length - 1 });
  }, 180_000);

  it('--shard 0/2 and 1/2 together copy everything exactly once', async () => {
    const args = (i: number) => ['migrate', '--config', config, '--from', 'old/old-media', '--to', 'new/new-shards', '--shard', `${i}/2`, ...MP, '--json'];
    const a = runCli(args(0), dir, env);
    const b = runCli(['migrate', '--config', config, '--from', 'old/old-media', '--to', 'new/new-shards', '--shard', 'auto/2', ...MP, '--json'], dir, { ...env, JOB_COMPLETION_INDEX: '1' });
    expect((await a.exited).code, a.err()).toBe(0);
    expect((await b.exited).code, b.err()).toBe(0);
    const ra = report(a);
    const rb = report(b);
    expect(ra.shard).toBe('0/2');
    expect(rb.shard).toBe('1/2');
    expect(Number(ra.copied) + Number(rb.copied)).toBe(objects.length);
    expect(Number(ra.copied)).toBeGreaterThan(800);
    const w = writes(newUp, 'new-shards');
    for (const [key, n] of [...w.puts, ...w.completes]) expect(n, key).toBe(1);
    expect(w.puts.size + w.completes.size).toBe(objects.length);
  }, 120_000);

  it('--dry-run lists what it would copy and copies nothing', async () => {
    const before = newUp.requests.length;
    const dry = runCli(['migrate', '--config', config, '--from', 'old/old-media', '--to', 'new/new-dry', '--dry-run', '--json'], dir, env);
    expect((await dry.exited).code).toBe(0);
    const would = dry.events().filter((e) => e.event === 'would-copy');
    expect(would).toHaveLength(objects.length);
    expect(would.find((e) => e.key === 'm/big ü+ file.bin')).toMatchObject({ size: 12 * MiB, reason: 'missing' });
    expect(report(dry)).toMatchObject({ mode: 'dry-run', copied: 0, wouldCopy: { objects: objects.length } });
    expect(newUp.requests.slice(before).filter((x) => x.method !== 'HEAD' && x.method !== 'GET')).toEqual([]);
  }, 120_000);

  it('refuses what it cannot do, naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--bucket', 'nope'], /--bucket: no bucket "nope"/],
      [['--from', 'old/old-media'], /--from and --to go together/],
      [['--from', 'gone/x', '--to', 'new/y'], /--from: no upstream "gone"/],
      [['--bucket', 'media', '--part-size', '1MiB'], /--part-size must be at least 5MiB/],
      [['--bucket', 'media', '--shard', 'auto/3'], /JOB_COMPLETION_INDEX/],
    ];
    for (const [args, msg] of cases) {
      const r = runCli(['migrate', '--config', config, ...args], dir, { ...env, JOB_COMPLETION_INDEX: '' });
      expect((await r.exited).code, args.join(' ')).toBe(2);
      expect(r.err()).toMatch(msg);
    }
  });

  it('a journal of another migration, with a torn begin line, or with a line duplicated is refused with exit 2', async () => {
    const journal = join(dir, '.s3gate-migrate-media.jsonl');
    const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    const other = runCli(['migrate', '--config', config, '--from', 'old/old-media', '--to', 'new/new-dry', '--state', journal, '--json'], dir, env);
    expect((await other.exited).code).toBe(2);
    expect(other.err()).toMatch(/belongs to another migration \(old\/old-media → new\/new-media, shard all\)/);
    const torn = join(dir, 'torn.jsonl');
    writeFileSync(torn, [lines[0]!.slice(0, 30), ...lines.slice(1)].join('\n') + '\n');
    const tornRun = runCli(['migrate', '--config', config, '--from', 'old/old-media', '--to', 'new/new-dry', '--state', torn, '--json'], dir, env);
    expect((await tornRun.exited).code).toBe(2);
    expect(tornRun.err()).toMatch(/does not start with a whole begin line/);
    const copiedLine = lines.findIndex((l) => l.includes('"t":"copied"'));
    const dup = join(dir, 'dup.jsonl');
    writeFileSync(dup, [...lines, lines[copiedLine]!].join('\n') + '\n');
    const dupRun = runCli(['migrate', '--config', config, '--bucket', 'media', '--state', dup, '--json'], dir, env);
    expect((await dupRun.exited).code).toBe(2);
    expect(dupRun.err()).toMatch(new RegExp(`line ${lines.length + 1} does not follow`));
  }, 120_000);
});
