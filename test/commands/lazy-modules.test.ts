// A gateway loads at start only what serving needs (docs/performance.md, "idle": each of these
// cost megabytes of RSS in every gateway): not the local store without a local upstream, not
// jose before a web identity is verified, not busboy before the first form upload, not undici's
// index (its Agent alone), not the primary's module nor node:cluster's workers side with one
// process, and not Node's own bundled undici (an ES import of node:http loads it); a primary of
// workers does not load the request pipeline it never runs. Each gateway here is a real
// `node dist/cli.js` process; test/helpers/loaded-modules.mjs, preloaded into it, lists what it
// has loaded. It still serves: a signed PUT and GET through it reach the strict
// upstream, and a form upload works once busboy is loaded at its first use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startCli, waitFor, type CliProcess } from '../helpers/cli.js';
import { client, GW_KEY, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';

const PRELOAD = join(import.meta.dirname, '../helpers/loaded-modules.mjs');
const root = tmpDir('s3gate-lazy-');
let up: StrictUpstream;
const procs: CliProcess[] = [];

async function start(name: string, yaml: string): Promise<{ gw: CliProcess; loaded: () => Promise<string[]> }> {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, yaml);
  const list = join(root, `${name}.loaded`);
  const gw = await startCli(['--config', file], { env: { NODE_OPTIONS: `--import=${PRELOAD}`, LOADED_MODULES: list } });
  procs.push(gw);
  const loaded = async () => {
    rmSync(list, { force: true });
    gw.child.kill('SIGUSR2');
    await waitFor(() => existsSync(list));
    return readFileSync(list, 'utf8').split('\n').filter(Boolean);
  };
  return { gw, loaded };
}

const keys = `keys:
  - { accessKeyId: ${GW_KEY.accessKeyId}, secretAccessKey: ${GW_KEY.secretAccessKey}, allow: [{ bucket: '*', actions: [read, write, list, admin] }] }`;

/** What must not be loaded before it is used, as the URLs (or builtin names) would show it. */
const LAZY: Record<string, RegExp> = {
  'the local store': /\/dist\/local\//,
  jose: /\/node_modules\/jose\//,
  busboy: /\/node_modules\/busboy\//,
  "undici's index": /\/node_modules\/undici\/index\.js$/,
  "undici's fetch": /\/node_modules\/undici\/lib\/web\//,
  "the workers' primary": /\/dist\/workers\/primary\.js$/,
  "Node's bundled undici": /^node:internal\/deps\/undici\/undici$/,
};
const loadedOf = (mods: string[]) => Object.keys(LAZY).filter((name) => mods.some((m) => LAZY[name]!.test(m)));

beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  await up.store.handle({ method: 'PUT', bucket: 'lazy', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  for (const p of procs) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  await up?.close();
});

/** A gateway in front of the strict upstream, with no STS and no local store; `extra` is more top-level YAML. */
const providerConfig = (extra = ''): string => `listen: [{ address: '127.0.0.1:0' }]
${extra}${keys}
upstreams:
  strict: { provider: minio, endpoint: ${up.url}, region: us-east-1, credentials: { accessKeyId: ${UP_KEY.accessKeyId}, secretAccessKey: ${UP_KEY.secretAccessKey} } }
buckets:
  lazy: { upstream: strict }
`;

describe('a gateway in front of a provider, without STS', () => {
  it('serves signed requests and a form upload, loading the store, jose and busboy not at all or at first use', async () => {
    const { gw, loaded } = await start('provider', providerConfig());
    const atStart = await loaded();
    // The list is real: it holds what serving runs.
    expect(atStart.some((m) => m.endsWith('/dist/listen/pipeline.js'))).toBe(true);
    expect(atStart.some((m) => m.endsWith('/node_modules/undici/lib/dispatcher/agent.js'))).toBe(true);
    expect(loadedOf(atStart)).toEqual([]);

    const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
    await s3.send(new PutObjectCommand({ Bucket: 'lazy', Key: 'a.txt', Body: 'served' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'lazy', Key: 'a.txt' }));
    expect(await got.Body!.transformToString()).toBe('served');
    expect(up.requests.some((r) => r.method === 'PUT' && r.key === 'a.txt')).toBe(true);
    expect(loadedOf(await loaded())).toEqual([]);

    // A browser form upload: busboy comes in with it, and nothing else does.
    const post = await createPresignedPost(s3, { Bucket: 'lazy', Key: 'form.txt', Expires: 600 });
    const fd = new FormData();
    for (const [k, v] of Object.entries(post.fields)) fd.append(k, v);
    fd.append('file', new Blob(['from a form']), 'form.txt');
    const r = await fetch(post.url, { method: 'POST', body: fd });
    expect(r.status).toBe(204);
    const read = await s3.send(new GetObjectCommand({ Bucket: 'lazy', Key: 'form.txt' }));
    expect(await read.Body!.transformToString()).toBe('from a form');
    expect(loadedOf(await loaded())).toEqual(['busboy']);
    s3.destroy();
  });
});

describe('a gateway with a local upstream', () => {
  it('loads the store at start, before its first request, and serves from it', async () => {
    const { gw, loaded } = await start('local', `listen: [{ address: '127.0.0.1:0' }]
${keys}
upstreams:
  disk: { provider: local, path: ${join(root, 'store')} }
buckets:
  '*': { upstream: disk }
`);
    // Its import starts with the gateway and may finish just after the listeners open.
    let atStart = await loaded();
    for (let i = 0; i < 50 && !loadedOf(atStart).length; i++) atStart = await loaded();
    expect(loadedOf(atStart)).toEqual(['the local store']);
    const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'made-here' }));
    await s3.send(new PutObjectCommand({ Bucket: 'made-here', Key: 'k', Body: 'local' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'made-here', Key: 'k' }));
    expect(await got.Body!.transformToString()).toBe('local');
    s3.destroy();
  });
});

describe('a gateway with two workers', () => {
  it('the primary, which serves no request, loads neither the pipeline nor undici; its workers serve', async () => {
    const { gw, loaded } = await start('workers', providerConfig('workers: 2\n'));
    const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
    await s3.send(new PutObjectCommand({ Bucket: 'lazy', Key: 'w.txt', Body: 'by a worker' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'lazy', Key: 'w.txt' }));
    expect(await got.Body!.transformToString()).toBe('by a worker');
    const primary = await loaded();
    expect(primary.some((m) => m.endsWith('/dist/workers/primary.js'))).toBe(true);
    expect(primary.filter((m) => /\/dist\/listen\/pipeline\.js$|\/node_modules\/undici\//.test(m))).toEqual([]);
    s3.destroy();
  });
});
