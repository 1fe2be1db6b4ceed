// Running s3gate in production: metrics after a known series of requests, health and
// readiness, per-key limits, slowloris protection, CORS, and reloads and shutdowns of a real
// process with an upload in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, DOMAIN, GW_KEY, GW_KEY_LIMITED, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { startCli, waitFor } from '../helpers/cli.js';
import { testUndiciAgent } from '../upstream/resolve.js';

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
const agent = testUndiciAgent();
const SLOW = { accessKeyId: 'SLOWKEY', secretAccessKey: 'slow-key-secret-abcdefghijklmnopqrstuvwx' };

beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    admin: { address: '127.0.0.1:0' },
    domains: [DOMAIN],
    timeouts: { headers: 500 },
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] },
      { ...GW_KEY_LIMITED, allow: [{ bucket: '*', actions: ['read', 'write'] }], limits: { requestsPerSecond: 1, burst: 2 } },
      { ...SLOW, allow: [{ bucket: '*', actions: ['read', 'write'] }], limits: { concurrent: 1 } },
    ],
    upstreams: { strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: {
      ops: {
        upstream: 'strict',
        cors: [{ allowedOrigins: ['https://app.example.test'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['*'], exposeHeaders: ['ETag'], maxAgeSeconds: 600 }],
      },
    },
  });
  port = portOf(gw.url);
  await up.store.handle({ method: 'PUT', bucket: 'ops', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
});

const s3 = (creds = GW_KEY) => client(`http://${DOMAIN}:${port}`, creds, { forcePathStyle: true });

async function scrape(): Promise<string> {
  const r = await request(`${gw.adminUrl}/metrics`);
  return r.body.text();
}

function metric(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && line.split(' ')[0] !== name) continue;
    if (want.every((w) => line.includes(w))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('metrics, health and readiness on the admin listener', () => {
  it('counts a known series of requests', async () => {
    await s3().send(new PutObjectCommand({ Bucket: 'ops', Key: 'm1', Body: 'hello' }));
    await s3().send(new PutObjectCommand({ Bucket: 'ops', Key: 'm2', Body: 'world!' }));
    await (await s3().send(new GetObjectCommand({ Bucket: 'ops', Key: 'm1' }))).Body!.transformToString();
    await s3().send(new GetObjectCommand({ Bucket: 'ops', Key: 'missing' })).catch(() => undefined);
    await s3({ ...GW_KEY, secretAccessKey: 'wrong' }).send(new GetObjectCommand({ Bucket: 'ops', Key: 'm1' })).catch(() => undefined);
    const m = await scrape();
    const base = { upstream: 'strict', key: GW_KEY.accessKeyId };
    expect(metric(m, 's3gate_requests_total', { operation: 'PutObject', status: '200', ...base })).toBe(2);
    expect(metric(m, 's3gate_requests_total', { operation: 'GetObject', status: '200', ...base })).toBe(1);
    expect(metric(m, 's3gate_requests_total', { operation: 'GetObject', status: '404', ...base })).toBe(1);
    expect(metric(m, 's3gate_auth_failures_total', { reason: 'SignatureDoesNotMatch' })).toBe(1);
    expect(metric(m, 's3gate_bytes_total', { direction: 'in', upstream: 'strict' })).toBeGreaterThanOrEqual(11);
    expect(metric(m, 's3gate_request_duration_seconds_count', { operation: 'PutObject' })).toBe(2);
    expect(metric(m, 's3gate_upstream_duration_seconds_count', { upstream: 'strict' })).toBeGreaterThanOrEqual(4);
    expect(metric(m, 's3gate_inflight_requests', {})).toBe(0);
  });

  it('/healthz answers; /readyz follows the upstreams', async () => {
    expect((await request(`${gw.adminUrl}/healthz`)).statusCode).toBe(200);
    const r = await request(`${gw.adminUrl}/readyz`);
    expect(r.statusCode).toBe(200);
    expect(await r.body.json()).toMatchObject({ ready: true, upstreams: { strict: 'ok' } });
  });
});

describe('limits', () => {
  it('a key over its rate gets SlowDown while other keys go on', async () => {
    const limited = s3(GW_KEY_LIMITED);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      limited.send(new PutObjectCommand({ Bucket: 'ops', Key: `rl-${i}`, Body: 'x' })).then(() => 'ok', (e: Error) => e.name)));
    expect(results.filter((r) => r === 'SlowDown').length).toBeGreaterThanOrEqual(3);
    expect(results.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(1);
    await s3().send(new PutObjectCommand({ Bucket: 'ops', Key: 'other-key', Body: 'x' }));
    expect(metric(await scrape(), 's3gate_throttled_total', { limit: 'rate', key: GW_KEY_LIMITED.accessKeyId })).toBeGreaterThanOrEqual(3);
  });

  it('a key at its concurrency limit gets SlowDown for a second request', async () => {
    const signer = new SignatureV4({ credentials: SLOW, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: DOMAIN, port, path: '/ops/slow', query: {},
      headers: { host: `${DOMAIN}:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '2' } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const body = Readable.from((async function* () {
      yield Buffer.from('a');
      await gate;
      yield Buffer.from('b');
    })());
    const first = request(`http://${DOMAIN}:${port}/ops/slow`, { method: 'PUT', headers: signed.headers as Record<string, string>, body, dispatcher: agent });
    await new Promise((r) => setTimeout(r, 200));
    const e = await s3(SLOW).send(new GetObjectCommand({ Bucket: 'ops', Key: 'm1' })).catch((x: Error) => x);
    expect((e as Error).name).toBe('SlowDown');
    release();
    expect((await first).statusCode).toBe(200);
  });

  it('a slowloris client (headers trickled) is cut off, and others are unaffected', async () => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    const closed = new Promise<number>((r) => sock.on('close', () => r(Date.now())));
    const start = Date.now();
    const trickle = setInterval(() => sock.write('X'), 100);
    sock.write('GET /ops/m1 HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    await s3().send(new PutObjectCommand({ Bucket: 'ops', Key: 'during-slowloris', Body: 'fine' }));
    const at = await closed;
    clearInterval(trickle);
    expect(at - start).toBeLessThan(5000);
  });
});

describe('CORS answered by s3gate', () => {
  it('preflight needs no signature; the actual response carries the headers', async () => {
    const pre = await request(`http://${DOMAIN}:${port}/ops/upload.bin`, {
      method: 'OPTIONS', dispatcher: agent,
      headers: { origin: 'https://app.example.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.statusCode).toBe(200);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.test');
    expect(pre.headers['access-control-allow-methods']).toBe('GET, PUT');
    expect(pre.headers['access-control-max-age']).toBe('600');
    const denied = await request(`http://${DOMAIN}:${port}/ops/upload.bin`, {
      method: 'OPTIONS', dispatcher: agent, headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'PUT' },
    });
    expect(denied.statusCode).toBe(403);
    await denied.body.dump();
    const anon = await request(`http://${DOMAIN}:${port}/ops/m1`, { headers: { origin: 'https://app.example.test' }, dispatcher: agent });
    expect(anon.statusCode).toBe(403);
    expect(anon.headers['access-control-allow-origin']).toBe('https://app.example.test');
    await anon.body.dump();
    expect(up.requests.some((r) => r.method === 'OPTIONS')).toBe(false);
  });
});

describe('a real process: reload and shutdown', () => {
  function config(dir: string, p: number | string, keys: { accessKeyId: string; secretAccessKey: string }[], extra = '') {
    writeFileSync(join(dir, 'proxy.yaml'), `
listen: [{ address: 127.0.0.1:${p} }]
domains: [localhost]
keys:
${keys.map((k) => `  - { accessKeyId: ${k.accessKeyId}, secretAccessKey: ${k.secretAccessKey}, allow: [{ bucket: "*", actions: [read, write, list, delete, admin] }] }`).join('\n')}
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
${extra}`);
  }
  const A = { accessKeyId: 'KEYA', secretAccessKey: 'key-a-secret-abcdefghijklmnopqrstuvwxyz01' };
  const B = { accessKeyId: 'KEYB', secretAccessKey: 'key-b-secret-abcdefghijklmnopqrstuvwxyz01' };

  async function slowPut(p: number, creds: typeof A, key: string, gate: Promise<void>) {
    const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: 'localhost', port: p, path: `/bkt/${key}`, query: {},
      headers: { host: `localhost:${p}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(2 * 1024 * 1024) } });
    const body = Readable.from((async function* () {
      yield Buffer.alloc(1024 * 1024, 1);
      await gate;
      yield Buffer.alloc(1024 * 1024, 2);
    })());
    return request(`http://localhost:${p}/bkt/${key}`, { method: 'PUT', headers: signed.headers as Record<string, string>, body });
  }
  const sdk = (p: number, creds: typeof A) => new S3Client({ endpoint: `http://localhost:${p}`, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });

  it('SIGHUP with a changed key list: new keys work, removed keys are refused, an in-flight upload continues', async () => {
    const dir = tmpDir('s3gate-reload-');
    config(dir, 0, [A]);
    const gwp = await startCli(['--config', join(dir, 'proxy.yaml')]);
    const p = gwp.port;
    try {
      await sdk(p, A).send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'bkt' }));
      let release!: () => void;
      const pending = slowPut(p, A, 'inflight.bin', new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 200));
      config(dir, p, [B]);
      gwp.child.kill('SIGHUP');
      await waitFor(() => gwp.out().includes('config reloaded'));
      release();
      expect((await pending).statusCode).toBe(200);
      await sdk(p, B).send(new PutObjectCommand({ Bucket: 'bkt', Key: 'by-b', Body: 'new key works' }));
      const e = await sdk(p, A).send(new PutObjectCommand({ Bucket: 'bkt', Key: 'by-a', Body: 'x' })).catch((x: Error) => x);
      expect((e as Error).name).toBe('InvalidAccessKeyId');
      const got = await sdk(p, B).send(new GetObjectCommand({ Bucket: 'bkt', Key: 'inflight.bin' }));
      expect((await got.Body!.transformToByteArray()).length).toBe(2 * 1024 * 1024);

      // An invalid config is refused and the one in force stays.
      writeFileSync(join(dir, 'proxy.yaml'), 'keys: [ {accessKeyId: broken');
      gwp.child.kill('SIGHUP');
      await waitFor(() => gwp.out().includes('config reload refused'));
      await sdk(p, B).send(new PutObjectCommand({ Bucket: 'bkt', Key: 'still-b', Body: 'x' }));
    } finally {
      gwp.child.kill('SIGTERM');
      await gwp.exited;
    }
  });

  it('a changed file is picked up without a signal', async () => {
    const dir = tmpDir('s3gate-watch-');
    config(dir, 0, [A]);
    const gwp = await startCli(['--config', join(dir, 'proxy.yaml')]);
    const p = gwp.port;
    try {
      config(dir, p, [A, B]);
      await waitFor(() => gwp.out().includes('config reloaded'));
      await sdk(p, B).send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'wbk' }));
    } finally {
      gwp.child.kill('SIGTERM');
      await gwp.exited;
    }
  });

  it('a Kubernetes ConfigMap update (its ..data symlink swapped) and an editor\'s save by rename are picked up', async () => {
    const dir = tmpDir('s3gate-cm-');
    // A ConfigMap volume: proxy.yaml -> ..data/proxy.yaml, ..data -> the current version's directory.
    const version = (name: string, keys: (typeof A)[]) => {
      mkdirSync(join(dir, name));
      config(join(dir, name), 0, keys);
    };
    version('..v1', [A]);
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/proxy.yaml', join(dir, 'proxy.yaml'));
    const gwp = await startCli(['--config', join(dir, 'proxy.yaml')]);
    const p = gwp.port;
    try {
      version('..v2', [A, B]);
      writeFileSync(join(dir, '..v2', 'proxy.yaml'), readFileSync(join(dir, '..v2', 'proxy.yaml'), 'utf8').replace('127.0.0.1:0', `127.0.0.1:${p}`));
      symlinkSync('..v2', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      await waitFor(() => gwp.out().includes('config reloaded'));
      await sdk(p, B).send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'cmb' }));
      // An editor writes a new file and renames it over the old name.
      const reloads = () => gwp.out().split('config reloaded').length - 1;
      const before = reloads();
      config(join(dir, '..v2'), p, [B]);
      renameSync(join(dir, '..v2', 'proxy.yaml'), join(dir, 'proxy.yaml.new'));
      renameSync(join(dir, 'proxy.yaml.new'), join(dir, 'proxy.yaml'));
      await waitFor(() => reloads() > before);
      const e = await sdk(p, A).send(new PutObjectCommand({ Bucket: 'cmb', Key: 'by-a', Body: 'x' })).catch((x: Error) => x);
      expect((e as Error).name).toBe('InvalidAccessKeyId');
    } finally {
      gwp.child.kill('SIGTERM');
      await gwp.exited;
    }
  });

  it('SIGTERM during an upload: the upload completes, then the process exits 0', async () => {
    const dir = tmpDir('s3gate-term-');
    config(dir, 0, [A]);
    const gwp = await startCli(['--config', join(dir, 'proxy.yaml')]);
    const p = gwp.port;
    await sdk(p, A).send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'bkt' }));
    let release!: () => void;
    const pending = slowPut(p, A, 'during-term.bin', new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 200));
    gwp.child.kill('SIGTERM');
    await waitFor(() => gwp.out().includes('shutting down'));
    // New connections are refused while the old upload drains.
    const refused = await request(`http://localhost:${p}/`).then(() => false, () => true);
    expect(refused).toBe(true);
    release();
    expect((await pending).statusCode).toBe(200);
    expect(await gwp.exited).toBe(0);
  });

  it('a download still going at the shutdown deadline is cut, and its access line says so, not a plain 200', async () => {
    const dir = tmpDir('s3gate-term-cut-');
    config(dir, 0, [A], 'timeouts: { shutdown: 500 }');
    const gwp = await startCli(['--config', join(dir, 'proxy.yaml')]);
    const p = gwp.port;
    const s3 = sdk(p, A);
    await s3.send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'bkt' }));
    const size = 64 * 1024 * 1024;
    await s3.send(new (await import('@aws-sdk/client-s3')).PutObjectCommand({ Bucket: 'bkt', Key: 'big.bin', Body: Buffer.alloc(size, 7) }));
    // A reader that takes the headers and then reads nothing: the body waits in the socket.
    const get = await s3.send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: 'bkt', Key: 'big.bin' }));
    expect(get.$metadata.httpStatusCode).toBe(200);
    gwp.child.kill('SIGTERM');
    expect(await gwp.exited).toBe(0);
    (get.Body as Readable).destroy();
    const line = gwp.lines().find((l) => l.msg === 'request' && l.op === 'GetObject')!;
    expect(line).toMatchObject({ status: 200, cut: 'shutdown' });
    expect(line.bytesOut as number).toBeLessThan(size);
    // The answers that ended whole carry no such field.
    expect(gwp.lines().filter((l) => l.msg === 'request' && l.op !== 'GetObject').map((l) => l.cut)).toEqual([undefined, undefined]);
  });
});
