// Every failure is a failure, and every copy is checked end to end. `s3gate migrate` (the built
// CLI) copies through a proxy that answers 500 or 503 at one kind of request (list, HEAD, GET,
// PUT, create, upload part, complete), once or every time, or flips one byte in each ranged
// read from the source. A single error is retried and the copy completes; errors that persist
// end the run with exit 1 and a report naming each object not copied, the destination holds
// nothing partial and no upload is left open; a damaged read is never committed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { tmpDir } from '../helpers/gateway.js';
import { bytesFor, MiB, report, runCli } from './helpers.js';
import { startFaultProxy, type FaultProxy, type OpKind } from './proxy.js';

const KEY = { accessKeyId: 'PROVIDERKEY', secretAccessKey: 'provider-secret-abcdefghijklmnopqrstuvw' };
const env = { UP_SECRET: KEY.secretAccessKey };
const SMALL = { key: 'docs/small ü.txt', size: 1000 };
const BIG = { key: 'videos/big+1.bin', size: 6 * MiB }; // two 5 MiB parts
const KINDS: OpKind[] = ['list', 'head', 'get', 'put', 'create', 'part', 'complete'];

let up: StrictUpstream;
let proxy: FaultProxy;
let dir: string;
let config: string;

const handle = (method: string, bucket: string, key?: string, query = '', headers: Record<string, string> = {}, body?: Buffer) =>
  up.store.handle({ method, bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(query), headers, body: Readable.from(body ? [body] : []) });

async function bodyOf(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const r = await handle('GET', bucket, key);
    const chunks: Buffer[] = [];
    for await (const c of r.body as Readable) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  }
}

const openUploads = async (bucket: string) => String((await handle('GET', bucket, undefined, 'uploads=')).body);

/** An object stored at the source as a multipart upload of `partSize` parts: a `-N` ETag. */
async function putMultipart(bucket: string, key: string, data: Buffer, partSize: number) {
  const created = String((await handle('POST', bucket, key, 'uploads=')).body);
  const id = /<UploadId>([^<]+)</.exec(created)![1]!;
  const parts: string[] = [];
  for (let off = 0, n = 1; off < data.length; off += partSize, n++) {
    const chunk = data.subarray(off, off + partSize);
    const r = await handle('PUT', bucket, key, `partNumber=${n}&uploadId=${encodeURIComponent(id)}`, { 'content-length': String(chunk.length) }, chunk);
    parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${r.headers.etag}</ETag></Part>`);
  }
  const doc = Buffer.from(`<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`);
  await handle('POST', bucket, key, `uploadId=${encodeURIComponent(id)}`, { 'content-length': String(doc.length) }, doc);
}

async function seed(bucket: string) {
  await handle('PUT', bucket);
  for (const o of [SMALL, BIG]) await handle('PUT', bucket, o.key, '', { 'content-length': String(o.size) }, bytesFor(o.key, o.size));
}

beforeAll(async () => {
  up = await startStrictUpstream({ ...KEY, region: 'us-east-1' });
  proxy = await startFaultProxy(up.url);
  dir = tmpDir('s3gate-migrate-faults-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  p: { provider: linode, endpoint: ${proxy.url}, credentials: { accessKeyId: ${KEY.accessKeyId}, secretAccessKey: \${UP_SECRET} } }
buckets:
  unused: { upstream: p }
`);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await up?.close();
});

const migrate = (scenario: string, extra: string[] = []) =>
  runCli(['migrate', '--config', config, '--from', `p/s-${scenario}`, '--to', `p/d-${scenario}`, '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--no-state', '--json', ...extra], dir, env);

/** The scenario a request belongs to: its bucket is s-NAME or d-NAME. */
const scenarioOf = (url: string) => new URL(url, 'http://x').pathname.split('/')[1]!.slice(2);

describe('s3gate migrate when the providers fail', () => {
  it('a 500 or a 503 once at any request kind is retried: exit 0, both objects copied whole', async () => {
    // Each kind gets a 503 here and a 500 below, or the other way round.
    const scenarios = KINDS.map((kind, i) => ({ kind, status: i % 2 ? 500 as const : 503 as const, name: `once-${kind}` }));
    for (const s of scenarios) {
      await seed(`s-${s.name}`);
      await handle('PUT', `d-${s.name}`);
    }
    const hit = new Map<string, number>();
    proxy.decide = (r) => {
      const s = scenarios.find((x) => x.name === scenarioOf(r.url));
      if (!s || s.kind !== r.kind || hit.has(s.name)) return { do: 'pass' };
      hit.set(s.name, 1);
      return { do: 'error', status: s.status };
    };
    await Promise.all(scenarios.map(async (s) => {
      const run = migrate(s.name);
      const exit = await run.exited;
      expect(exit, `${s.name}: ${run.err()}`).toEqual({ code: 0, signal: null });
      expect(report(run), s.name).toMatchObject({ copied: 2, failed: 0, bytes: SMALL.size + BIG.size });
      for (const o of [SMALL, BIG]) expect((await bodyOf(`d-${s.name}`, o.key))?.equals(bytesFor(o.key, o.size)), `${s.name} ${o.key}`).toBe(true);
    }));
    expect([...hit.keys()].sort()).toEqual(scenarios.map((s) => s.name).sort());
  }, 300_000);

  it('errors that persist: exit 1, a report naming what was not copied, nothing partial left', async () => {
    const expected: Partial<Record<OpKind, { failed: string[]; copied: string[] }>> = {
      list: { failed: [''], copied: [] },
      head: { failed: [SMALL.key, BIG.key], copied: [] },
      get: { failed: [SMALL.key, BIG.key], copied: [] },
      put: { failed: [SMALL.key], copied: [BIG.key] },
      create: { failed: [BIG.key], copied: [SMALL.key] },
      part: { failed: [BIG.key], copied: [SMALL.key] },
      complete: { failed: [BIG.key], copied: [SMALL.key] },
    };
    const scenarios = KINDS.map((kind, i) => ({ kind, status: i % 2 ? 503 as const : 500 as const, name: `always-${kind}` }));
    for (const s of scenarios) {
      await seed(`s-${s.name}`);
      await handle('PUT', `d-${s.name}`);
    }
    proxy.decide = (r) => {
      const s = scenarios.find((x) => x.name === scenarioOf(r.url));
      return s && s.kind === r.kind ? { do: 'error', status: s.status } : { do: 'pass' };
    };
    await Promise.all(scenarios.map(async (s) => {
      const run = migrate(s.name);
      expect((await run.exited).code, `${s.name}: ${run.err()}`).toBe(1);
      const r = report(run) as { failures: { key: string; reason: string }[]; copied: number; failed: number; bytes: number };
      const want = expected[s.kind]!;
      expect(r.failures.map((f) => f.key).sort(), s.name).toEqual(want.failed);
      for (const f of r.failures) expect(f.reason, s.name).toMatch(new RegExp(`: ${s.status} `));
      expect(r.copied, s.name).toBe(want.copied.length);
      // Only the bytes of what was copied: not the parts of a failed upload.
      expect(r.bytes, s.name).toBe(want.copied.reduce((n, k) => n + (k === BIG.key ? BIG.size : SMALL.size), 0));
      for (const o of [SMALL, BIG]) {
        const got = await bodyOf(`d-${s.name}`, o.key);
        if (want.copied.includes(o.key)) expect(got?.equals(bytesFor(o.key, o.size)), `${s.name} ${o.key}`).toBe(true);
        else expect(got, `${s.name} ${o.key}`).toBeUndefined();
      }
      expect(await openUploads(`d-${s.name}`), s.name).not.toContain('<Upload>');
    }));
  }, 300_000);

  it('a byte flipped in each ranged read from the source: nothing damaged is committed, exit 1; clean, it copies', async () => {
    const name = 'corrupt';
    await seed(`s-${name}`);
    await handle('PUT', `d-${name}`);
    // Sources held as multipart uploads: a 2-part one, and a 1-part one small enough for a single PUT.
    const mp = { key: 'mp/two parts.bin', size: 7 * MiB };
    const one = { key: 'mp/one part.txt', size: 3000 };
    await putMultipart(`s-${name}`, mp.key, bytesFor(mp.key, mp.size), 5 * MiB);
    await putMultipart(`s-${name}`, one.key, bytesFor(one.key, one.size), 5 * MiB);
    proxy.decide = (r) => (scenarioOf(r.url) === name && r.kind === 'get' && r.headers.range ? { do: 'corrupt' } : { do: 'pass' });
    const bad = migrate(name);
    expect((await bad.exited).code, bad.err()).toBe(1);
    const r = report(bad) as { failures: { key: string; reason: string }[]; copied: number };
    expect(r.failures.map((f) => f.key).sort()).toEqual([BIG.key, one.key, mp.key].sort());
    for (const f of r.failures) expect(f.reason, f.key).toMatch(/IntegrityError: the bytes read from the source/);
    expect(r.copied).toBe(1); // the small single-part one, whole GET, Content-MD5
    for (const o of [BIG, mp, one]) expect(await bodyOf(`d-${name}`, o.key), o.key).toBeUndefined();
    expect(await openUploads(`d-${name}`)).not.toContain('<Upload>');

    proxy.decide = () => ({ do: 'pass' });
    const good = migrate(name);
    expect((await good.exited).code, good.err()).toBe(0);
    expect(report(good)).toMatchObject({ copied: 3, failed: 0, unverified: 0 });
    for (const o of [BIG, mp, one, SMALL]) expect((await bodyOf(`d-${name}`, o.key))?.equals(bytesFor(o.key, o.size)), o.key).toBe(true);
    // Copied in the source's own layout, the multipart ETags are the source's.
    const verify = migrate(name, ['--verify=content']);
    expect((await verify.exited).code, verify.out()).toBe(0);
    expect(report(verify)).toMatchObject({ skipped: 4, differences: {}, newerAtDestination: 0 });
  }, 300_000);
});
