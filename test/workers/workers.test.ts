// `s3gate serve --workers 2` as a real process tree: a primary and two workers on one port (each
// its own SO_REUSEPORT socket; the kernel spreads connections). Every request goes on a fresh
// connection, and its x-amz-request-id names the worker that served it (each worker logs its
// request-id prefix when it starts), so each test can insist that *every* worker showed the
// behaviour, not just whichever took the connection.
import { afterEach, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand, S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startCli, waitFor, type CliProcess } from '../helpers/cli.js';
import { tmpDir } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls.js';

type Creds = { accessKeyId: string; secretAccessKey: string };
const A: Creds = { accessKeyId: 'WKEYA', secretAccessKey: 'worker-key-a-secret-abcdefghijklmnopqrstu' };
const B: Creds = { accessKeyId: 'WKEYB', secretAccessKey: 'worker-key-b-secret-abcdefghijklmnopqrstu' };
// One request at a time for the whole host.
const ONE: Creds = { accessKeyId: 'WKEYONE', secretAccessKey: 'worker-key-one-secret-abcdefghijklmnopqr' };
// Three requests for the whole host, then (at one token per 1000 s) no more during the test.
const THREE: Creds = { accessKeyId: 'WKEYTHREE', secretAccessKey: 'worker-key-three-secret-abcdefghijklmn' };

function writeConfig(dir: string, keys: Creds[], extra = '', listen = '{ address: 127.0.0.1:0 }'): string {
  const limits: Record<string, string> = { WKEYONE: ', limits: { concurrent: 1 }', WKEYTHREE: ', limits: { requestsPerSecond: 0.001, burst: 3 }' };
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, `
listen: [${listen}]
admin: { address: 127.0.0.1:0 }
domains: [localhost]
keys:
${keys.map((k) => `  - { accessKeyId: ${k.accessKeyId}, secretAccessKey: ${k.secretAccessKey}, allow: [{ bucket: "*", actions: [read, write, list, delete, admin] }]${limits[k.accessKeyId] ?? ''} }`).join('\n')}
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
timeouts: { shutdown: 20000 }
${extra}`);
  return file;
}

let running: CliProcess | undefined;
afterEach(async () => {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGTERM');
    await running.exited;
  }
  running = undefined;
});

async function startWorkers(file: string, n = 2): Promise<CliProcess> {
  // Workers start one after the other (the first resolves port 0): slow on a loaded machine.
  running = await startCli(['--config', file, '--workers', String(n)], { startMs: 60_000 });
  return running;
}

/** request-id prefix → worker index, from the workers' start lines (the latest per index) */
function workersByPrefix(gw: CliProcess): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of gw.lines()) if (l.msg === 'worker started') m.set(l.reqIdPrefix as string, l.worker as number);
  return m;
}
const workerOf = (gw: CliProcess, reqId: string | undefined) => workersByPrefix(gw).get((reqId ?? '').slice(0, 8));
const adminUrl = (gw: CliProcess) => gw.lines().find((l) => l.msg === 's3gate listening')!.admin as string;

/** An SDK client that opens a fresh connection per request, so the kernel picks a worker each time. */
const fresh = (port: number, creds: Creds) => new S3Client({
  endpoint: `http://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpAgent: new HttpAgent({ keepAlive: false }) }),
});

interface Outcome { worker: number | undefined; ok: boolean; code?: string; status?: number }

async function put(port: number, creds: Creds, key: string, gw: CliProcess): Promise<Outcome> {
  try {
    const r = await fresh(port, creds).send(new PutObjectCommand({ Bucket: 'wkb', Key: key, Body: 'x' }));
    return { worker: workerOf(gw, r.$metadata.requestId), ok: true };
  } catch (e) {
    const x = e as S3ServiceException;
    return { worker: workerOf(gw, x.$metadata?.requestId), ok: false, code: x.name, status: x.$metadata?.httpStatusCode };
  }
}

/** Sends on fresh connections until every worker has answered at least `each` times. */
async function untilEveryWorker(gw: CliProcess, n: number, send: (i: number) => Promise<Outcome>, each = 1): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < 400; i++) {
    out.push(await send(i));
    const seen = new Map<number, number>();
    for (const o of out) if (o.worker) seen.set(o.worker, (seen.get(o.worker) ?? 0) + 1);
    if (seen.size === n && [...seen.values()].every((c) => c >= each)) return out;
  }
  throw new Error(`not every worker answered: ${JSON.stringify(out.map((o) => o.worker))}`);
}

/** An SDK client on HTTPS that trusts only `ca`, a fresh connection (and handshake) per request. */
const freshTls = (port: number, creds: Creds, ca: Buffer) => new S3Client({
  endpoint: `https://localhost:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ keepAlive: false, ca }) }),
});

async function putTls(port: number, creds: Creds, key: string, gw: CliProcess, ca: Buffer): Promise<Outcome> {
  try {
    const r = await freshTls(port, creds, ca).send(new PutObjectCommand({ Bucket: 'wkb', Key: key, Body: 'x' }));
    return { worker: workerOf(gw, r.$metadata.requestId), ok: true };
  } catch (e) {
    const x = e as S3ServiceException & { code?: string };
    return { worker: workerOf(gw, x.$metadata?.requestId), ok: false, code: x.$metadata ? x.name : x.code ?? x.message, status: x.$metadata?.httpStatusCode };
  }
}

const workerPid = (gw: CliProcess, index: number) => gw.lines().filter((l) => l.msg === 'worker started' && l.worker === index).at(-1)!.pid as number;

async function scrape(gw: CliProcess): Promise<string> {
  return (await fetch(`${adminUrl(gw)}/metrics`)).text();
}
/** The sum of a metric's samples whose labels include every given pair. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

function slowPut(port: number, creds: Creds, key: string, gate: Promise<void>): Promise<{ status: number; reqId: string }> {
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  return signer.sign({
    method: 'PUT', protocol: 'http:', hostname: 'localhost', port, path: `/wkb/${key}`, query: {},
    headers: { host: `localhost:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(2 * 1024 * 1024) },
  }).then((signed) => new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: `/wkb/${key}`, headers: signed.headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, reqId: String(res.headers['x-amz-request-id']) }));
    });
    req.on('error', reject);
    Readable.from((async function* () {
      yield Buffer.alloc(1024 * 1024, 1);
      await gate;
      yield Buffer.alloc(1024 * 1024, 2);
    })()).pipe(req);
  }));
}

describe('s3gate serve --workers 2', { timeout: 180_000 }, () => {
  it('/metrics answers for the whole gateway: every worker\'s requests summed, histograms merged, a per-worker up series', async () => {
    const gw = await startWorkers(writeConfig(tmpDir('s3gate-wk-metrics-'), [A]));
    await fresh(gw.port, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    const sent = await untilEveryWorker(gw, 2, (i) => put(gw.port, A, `m${i}`, gw), 3);
    expect(sent.every((o) => o.ok)).toBe(true);
    const text = await scrape(gw);
    // CreateBucket, then every PutObject: whichever worker served each.
    expect(sample(text, 's3gate_requests_total', { key: A.accessKeyId })).toBe(sent.length + 1);
    expect(sample(text, 's3gate_requests_total', { operation: 'PutObject', status: '200' })).toBe(sent.length);
    expect(sample(text, 's3gate_request_duration_seconds_count', { operation: 'PutObject' })).toBe(sent.length);
    expect(sample(text, 's3gate_request_duration_seconds_bucket', { operation: 'PutObject', le: '+Inf' })).toBe(sent.length);
    expect(sample(text, 's3gate_inflight_requests')).toBe(0);
    expect(sample(text, 's3gate_worker_up', { worker: '1' })).toBe(1);
    expect(sample(text, 's3gate_worker_up', { worker: '2' })).toBe(1);
    // And what each worker served, which the sums above cannot say.
    const own = (w: number) => sent.filter((o) => o.worker === w).length;
    expect(sample(text, 's3gate_worker_requests_total', { worker: '1' })).toBeGreaterThanOrEqual(own(1));
    expect(sample(text, 's3gate_worker_requests_total', { worker: '2' })).toBeGreaterThanOrEqual(own(2));
    expect(sample(text, 's3gate_worker_requests_total')).toBe(sent.length + 1);
    // One HELP/TYPE block per metric, however many workers fed it.
    expect(text.match(/^# TYPE s3gate_requests_total /gm)).toHaveLength(1);
    // Each access line names the worker that served it, as that worker's other lines do.
    const access = () => gw.lines().filter((l) => l.msg === 'request' && l.op === 'PutObject');
    await waitFor(() => access().length === sent.length);
    for (const l of access()) expect(l.worker).toBe(workerOf(gw, l.reqId as string));
    expect(new Set(access().map((l) => l.worker))).toEqual(new Set([1, 2]));
  });

  it('a worker that dies is logged, counted and replaced, and the other keeps serving', async () => {
    const gw = await startWorkers(writeConfig(tmpDir('s3gate-wk-crash-'), [A]));
    await fresh(gw.port, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    const first = gw.lines().find((l) => l.msg === 'worker started' && l.worker === 1)!;
    process.kill(first.pid as number, 'SIGKILL');
    await waitFor(() => gw.lines().some((l) => l.msg === 'worker died; starting a replacement'), 60_000);
    const died = gw.lines().find((l) => l.msg === 'worker died; starting a replacement')!;
    expect(died).toMatchObject({ level: 50, worker: 1, pid: first.pid, signal: 'SIGKILL' });
    // Worker 2 serves while worker 1 is being replaced.
    const meanwhile = await put(gw.port, A, 'meanwhile', gw);
    expect(meanwhile).toMatchObject({ ok: true });
    await waitFor(() => gw.lines().filter((l) => l.msg === 'worker started' && l.worker === 1).length === 2, 60_000);
    const replacement = gw.lines().filter((l) => l.msg === 'worker started' && l.worker === 1)[1]!;
    expect(replacement.pid).not.toBe(first.pid);
    const after = await untilEveryWorker(gw, 2, (i) => put(gw.port, A, `after${i}`, gw));
    expect(after.every((o) => o.ok)).toBe(true);
    const text = await scrape(gw);
    expect(sample(text, 's3gate_worker_restarts_total', { worker: '1' })).toBe(1);
    expect(sample(text, 's3gate_worker_restarts_total', { worker: '2' })).toBe(0);
    expect(sample(text, 's3gate_worker_up', { worker: '1' })).toBe(1);
  });

  it('SIGHUP reaches every worker; an invalid file is refused once and the old config stays everywhere', async () => {
    const dir = tmpDir('s3gate-wk-reload-');
    const file = writeConfig(dir, [A]);
    const gw = await startWorkers(file);
    await fresh(gw.port, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    writeConfig(dir, [B]);
    gw.child.kill('SIGHUP');
    await waitFor(() => gw.out().includes('config reloaded'), 60_000);
    // Every worker takes B and refuses A.
    const withB = await untilEveryWorker(gw, 2, (i) => put(gw.port, B, `b${i}`, gw));
    expect(withB.every((o) => o.ok)).toBe(true);
    const withA = await untilEveryWorker(gw, 2, (i) => put(gw.port, A, `a${i}`, gw));
    expect(withA.every((o) => o.code === 'InvalidAccessKeyId')).toBe(true);

    // No signal this time: the file watcher alone, so one trigger.
    writeFileSync(file, 'keys: [ {accessKeyId: broken');
    await waitFor(() => gw.out().includes('config reload refused'), 60_000);
    const stillB = await untilEveryWorker(gw, 2, (i) => put(gw.port, B, `still${i}`, gw));
    expect(stillB.every((o) => o.ok)).toBe(true);
    // Refused by the primary alone, once: no worker saw it.
    expect(gw.lines().filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('refused'))).toHaveLength(1);
    const text = await scrape(gw);
    expect(sample(text, 's3gate_config_reloads_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 's3gate_config_reloads_total', { result: 'refused' })).toBe(1);
  });

  it('serve --listen HOST:PORT (repeatable) with two workers: each worker listens on every address, before and after a reload', async () => {
    const dir = tmpDir('s3gate-wk-listen-');
    const file = writeConfig(dir, [A]);
    running = await startCli(['serve', '--config', file, '--workers', '2', '--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0'], { startMs: 60_000 });
    const gw = running;
    const urls = gw.lines().find((l) => l.msg === 's3gate listening')!.listen as string[];
    expect(urls).toHaveLength(2);
    const ports = urls.map((u) => Number(new URL(u).port));
    expect(new Set(ports).size).toBe(2);
    await fresh(ports[0]!, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    for (const port of ports) {
      const sent = await untilEveryWorker(gw, 2, (i) => put(port, A, `l${port}-${i}`, gw));
      expect(sent.every((o) => o.ok)).toBe(true);
    }
    // A reload keeps the flags' addresses in every worker (the file says port 0 elsewhere).
    writeConfig(dir, [B]);
    gw.child.kill('SIGHUP');
    await waitFor(() => gw.out().includes('config reloaded'), 60_000);
    for (const port of ports) {
      const sent = await untilEveryWorker(gw, 2, (i) => put(port, B, `r${port}-${i}`, gw));
      expect(sent.every((o) => o.ok)).toBe(true);
    }
    expect(gw.lines().filter((l) => l.msg === 'worker started')).toHaveLength(2);
  });

  it('SIGTERM drains every worker: uploads in flight on each complete, then the primary exits 0', async () => {
    const gw = await startWorkers(writeConfig(tmpDir('s3gate-wk-drain-'), [A]));
    await fresh(gw.port, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Eight uploads on eight connections: all on one worker would be a 1 in 128 chance.
    const uploads = Array.from({ length: 8 }, (_, i) => slowPut(gw.port, A, `drain${i}.bin`, gate));
    await new Promise((r) => setTimeout(r, 500));
    gw.child.kill('SIGTERM');
    await waitFor(() => gw.out().includes('shutting down'), 60_000);
    release();
    const done = await Promise.all(uploads);
    expect(done.map((d) => d.status)).toEqual(Array(8).fill(200));
    expect(new Set(done.map((d) => workerOf(gw, d.reqId))).size).toBe(2);
    expect(await gw.exited).toBe(0);
  });

  it('per-key limits hold for the host: concurrency 1 and a burst of 3 across both workers', async () => {
    const gw = await startWorkers(writeConfig(tmpDir('s3gate-wk-limits-'), [A, ONE, THREE]));
    await fresh(gw.port, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    // ONE's single slot held by an upload on one worker: every worker refuses ONE's next requests.
    let release!: () => void;
    const holding = slowPut(gw.port, ONE, 'held.bin', new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 500));
    const refused = await untilEveryWorker(gw, 2, (i) => put(gw.port, ONE, `one${i}`, gw));
    expect(refused.every((o) => o.code === 'SlowDown' && o.status === 503)).toBe(true);
    release();
    expect((await holding).status).toBe(200);
    // The slot came back: ONE is served again.
    expect(await put(gw.port, ONE, 'after', gw)).toMatchObject({ ok: true });

    // THREE: three requests for the whole host, however the kernel spread them.
    const burst = await untilEveryWorker(gw, 2, (i) => put(gw.port, THREE, `three${i}`, gw), 4);
    expect(burst.filter((o) => o.ok)).toHaveLength(3);
    expect(burst.filter((o) => !o.ok).every((o) => o.code === 'SlowDown')).toBe(true);
    const text = await scrape(gw);
    expect(sample(text, 's3gate_throttled_total', { key: THREE.accessKeyId, limit: 'rate' })).toBe(burst.length - 3);
  });

  it('a TLS certificate reload reaches every worker', async () => {
    const { one, two, cert, key, file } = tlsGateway();
    const gw = await startWorkers(file);
    // An unsigned GET / is refused with S3's XML, which carries the request id.
    const get = (ca: Buffer) => (): Promise<Outcome> => new Promise((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/', ca, agent: false, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => resolve({ worker: workerOf(gw, res.headers['x-amz-request-id'] as string), ok: true }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ worker: undefined, ok: false, code: e.code ?? e.message }));
      req.end();
    });
    expect((await untilEveryWorker(gw, 2, get(one.pem))).every((o) => o.ok)).toBe(true);
    copyFileSync(two.cert, cert);
    copyFileSync(two.key, key);
    gw.child.kill('SIGHUP');
    await waitFor(() => gw.out().includes('config reloaded'), 60_000);
    // Twenty fresh handshakes, each must present the new certificate, on both workers.
    const after: Outcome[] = [];
    for (let i = 0; i < 20; i++) after.push(await get(two.pem)());
    expect(after.filter((o) => !o.ok)).toEqual([]);
    expect(new Set(after.map((o) => o.worker)).size).toBe(2);
  });
});

/** A TLS listener on a copy of `one`'s pair, with key A; the copies are what the test replaces. */
function tlsGateway() {
  const dir = tmpDir('s3gate-wk-tlsreload-');
  const one = selfSignedCert(['localhost', '127.0.0.1']);
  const two = selfSignedCert(['localhost', '127.0.0.1']);
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  copyFileSync(one.cert, cert);
  copyFileSync(one.key, key);
  const listen = `{ address: 127.0.0.1:0, tls: { cert: ${cert}, key: ${key} } }`;
  return { dir, one, two, cert, key, listen, file: writeConfig(dir, [A], '', listen) };
}

describe('s3gate serve --workers 2: reloads apply whole or not at all', { timeout: 180_000 }, () => {

  /** Every worker still serves the whole previous config: A on the old certificate, and not B. */
  async function previousEverywhere(gw: CliProcess, ca: Buffer) {
    const withA = await untilEveryWorker(gw, 2, (i) => putTls(gw.port, A, `a${i}`, gw, ca));
    expect(withA.filter((o) => !o.ok)).toEqual([]);
    const withB = await untilEveryWorker(gw, 2, (i) => putTls(gw.port, B, `b${i}`, gw, ca));
    expect(withB.every((o) => o.code === 'InvalidAccessKeyId')).toBe(true);
  }

  it('a certificate that does not match its key is refused by the primary, naming the field: no worker takes any of that config', async () => {
    const t = tlsGateway();
    const gw = await startWorkers(t.file);
    await freshTls(gw.port, A, t.one.pem).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    // The operator's trial: the new certificate without its key, and a new key id in proxy.yaml.
    copyFileSync(t.two.cert, t.cert);
    writeConfig(t.dir, [A, B], '', t.listen);
    gw.child.kill('SIGHUP');
    await waitFor(() => gw.out().includes('config reload refused'), 60_000);
    const refused = gw.lines().filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('refused'));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ msg: 'config reload refused; the previous config stays in force' });
    expect(refused[0]!.error).toContain(`listen[0].tls.cert: the certificate in ${t.cert} does not match the private key in `);
    await previousEverywhere(gw, t.one.pem);
    expect(gw.out()).not.toContain('config reloaded');
    const text = await scrape(gw);
    expect(sample(text, 's3gate_config_reloads_total', { result: 'ok' })).toBe(0);
    expect(sample(text, 's3gate_config_reloads_total', { result: 'refused' })).toBe(1);
  });

  it('a worker that refuses a config the primary accepted applies none of it, and the reload is counted refused, not ok', async () => {
    const t = tlsGateway();
    const gw = await startWorkers(t.file);
    await freshTls(gw.port, A, t.one.pem).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    // The primary validates a good pair and sends the text; the workers, stopped, read the files
    // only once the certificate has been replaced by one that is not the key's pair.
    const pids = [workerPid(gw, 1), workerPid(gw, 2)];
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      writeConfig(t.dir, [A, B], '', t.listen);
      gw.child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 1500));
      copyFileSync(t.two.cert, t.cert);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => gw.out().includes('config reload refused by a worker'), 60_000);
    // The primary had accepted it: the refusals are the workers' own, each naming the field.
    expect(gw.out()).not.toContain('the previous config stays in force');
    // Each worker's own line goes out through its own stdout: it may come after the primary's.
    const own = () => gw.lines().filter((l) => l.msg === 'config reload refused by this worker; its previous config stays');
    await waitFor(() => own().length === 2, 10_000);
    expect(own().map((l) => l.worker).sort()).toEqual([1, 2]);
    for (const l of own()) expect(l.error).toContain('listen[0].tls.cert: the certificate in ');
    expect(gw.lines().find((l) => l.msg === 'config reload refused by a worker; it keeps its previous config (the others, if any, serve the new one): SIGHUP to send it again')).toMatchObject({ level: 50, refusedBy: expect.arrayContaining([1, 2]) });
    await previousEverywhere(gw, t.one.pem);
    expect(gw.out()).not.toContain('config reloaded');
    const text = await scrape(gw);
    expect(sample(text, 's3gate_config_reloads_total', { result: 'ok' })).toBe(0);
    expect(sample(text, 's3gate_config_reloads_total', { result: 'refused' })).toBe(1);
  });
});

describe('s3gate serve --workers 2: /metrics over a worker\'s death', { timeout: 180_000 }, () => {
  it('restarts and reloads are exported at 0 from the start; counters and histograms never go down when a worker misses a scrape or dies', async () => {
    const gw = await startWorkers(writeConfig(tmpDir('s3gate-wk-monotonic-'), [A]));
    // Before anything happened: every worker slot and every reload result, at 0.
    const first = await scrape(gw);
    for (const line of ['s3gate_worker_restarts_total{worker="1"} 0', 's3gate_worker_restarts_total{worker="2"} 0',
      's3gate_config_reloads_total{result="ok"} 0', 's3gate_config_reloads_total{result="refused"} 0']) {
      expect(first.split('\n')).toContain(line);
    }
    await fresh(gw.port, A).send(new CreateBucketCommand({ Bucket: 'wkb' }));
    const sent = await untilEveryWorker(gw, 2, (i) => put(gw.port, A, `m${i}`, gw), 3);
    const totals = (text: string) => ({
      requests: sample(text, 's3gate_requests_total'),
      puts: sample(text, 's3gate_request_duration_seconds_count', { operation: 'PutObject' }),
      inf: sample(text, 's3gate_request_duration_seconds_bucket', { operation: 'PutObject', le: '+Inf' }),
      bytesIn: sample(text, 's3gate_bytes_total', { direction: 'in' }),
    });
    const before = totals(await scrape(gw));
    expect(before).toEqual({ requests: sent.length + 1, puts: sent.length, inf: sent.length, bytesIn: sent.length });

    // Worker 2 misses the scrape's deadline: its last snapshot stands in.
    process.kill(workerPid(gw, 2), 'SIGSTOP');
    let missed: string;
    try {
      missed = await scrape(gw);
    } finally {
      process.kill(workerPid(gw, 2), 'SIGCONT');
    }
    expect(totals(missed)).toEqual(before);

    // Worker 1 dies: what it served stays in the totals; its replacement adds to them.
    const pid1 = workerPid(gw, 1);
    process.kill(pid1, 'SIGKILL');
    await waitFor(() => gw.lines().some((l) => l.msg === 'worker died; starting a replacement'), 60_000);
    const dead = await scrape(gw);
    expect(totals(dead)).toEqual(before);
    expect(sample(dead, 's3gate_worker_up', { worker: '1' })).toBe(0);
    await waitFor(() => gw.lines().filter((l) => l.msg === 'worker started' && l.worker === 1).length === 2, 60_000);
    const more = await untilEveryWorker(gw, 2, (i) => put(gw.port, A, `n${i}`, gw));
    const after = await scrape(gw);
    expect(totals(after)).toEqual({ requests: before.requests + more.length, puts: before.puts + more.length, inf: before.inf + more.length, bytesIn: before.bytesIn + more.length });
    expect(sample(after, 's3gate_worker_restarts_total', { worker: '1' })).toBe(1);
    expect(sample(after, 's3gate_worker_restarts_total', { worker: '2' })).toBe(0);
    // In flight: the live workers' own, nothing left over from the dead one.
    expect(sample(after, 's3gate_inflight_requests')).toBe(0);
    // Per worker: since that worker started (the replacement counts from 0).
    expect(sample(after, 's3gate_worker_requests_total', { worker: '1' })).toBe(more.filter((o) => o.worker === 1).length);
  });
});
