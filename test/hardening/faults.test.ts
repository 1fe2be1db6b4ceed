// Faults upstream: a provider that refuses, resets, stalls, errors or sends a short body. The
// client must see a retryable S3 error or a cut connection: never a truncated body passed off as
// complete, never a partial object stored, and a client that hangs up mid-upload must end the
// upstream request before its declared length.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { client, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { closedPort, startFaultyUpstream, type Fault, type FaultyUpstream } from '../upstream/faulty.js';

let faulty: FaultyUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
let port: number;

const OBJECT = randomBytes(1024 * 1024 + 17);
const RETRYABLE = new Set(['InternalError', 'SlowDown', 'ServiceUnavailable']);

type Outcome =
  | { kind: 'ok'; bytes: Buffer }
  | { kind: 's3'; status: number | undefined; code: string }
  | { kind: 'cut'; message: string };

function classifyError(e: unknown): Outcome {
  const err = e as { $metadata?: { httpStatusCode?: number }; name?: string; message?: string; code?: string };
  // An S3 error document parsed by the SDK carries the HTTP status; a cut connection does not.
  if (err.$metadata?.httpStatusCode !== undefined && err.$metadata.httpStatusCode >= 400) {
    return { kind: 's3', status: err.$metadata.httpStatusCode, code: err.name ?? '' };
  }
  return { kind: 'cut', message: `${err.code ?? ''} ${err.name ?? ''} ${err.message ?? ''}` };
}

async function getObject(key: string): Promise<Outcome> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: key }));
    return { kind: 'ok', bytes: Buffer.from(await r.Body!.transformToByteArray()) };
  } catch (e) {
    return classifyError(e);
  }
}

async function putObject(key: string, body: Buffer, bucket = 'media'): Promise<Outcome> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return { kind: 'ok', bytes: body };
  } catch (e) {
    return classifyError(e);
  }
}

/** A retryable S3 error or a cut connection; a success only with every byte. */
function expectSafe(o: Outcome, full?: Buffer): void {
  if (o.kind === 'ok') {
    expect(full, 'a faulty upstream answer must not pass as a success').toBeDefined();
    expect(o.bytes.length).toBe(full!.length);
    expect(o.bytes.equals(full!)).toBe(true);
  } else if (o.kind === 's3') {
    expect(RETRYABLE.has(o.code), `S3 error ${o.code} (${o.status}) should be retryable`).toBe(true);
    expect([500, 503]).toContain(o.status);
  }
}

beforeAll(async () => {
  faulty = await startFaultyUpstream();
  const dead = await closedPort();
  gw = await startTestGateway({
    region: 'us-east-1',
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }],
    upstreams: {
      faulty: {
        provider: 'linode', endpoint: faulty.url, region: 'us-east-1', credentials: UP_KEY,
        timeouts: { connect: 1000, headers: 400, body: 400 },
      },
      dead: { provider: 'linode', endpoint: `http://127.0.0.1:${dead}`, region: 'us-east-1', credentials: UP_KEY, timeouts: { connect: 1000, headers: 400, body: 400 } },
      // The same upstream with timeouts long enough that only the client can end a stalled request.
      patient: { provider: 'linode', endpoint: faulty.url, region: 'us-east-1', credentials: UP_KEY, timeouts: { connect: 1000, headers: 30_000, body: 30_000 } },
    },
    buckets: { media: { upstream: 'faulty' }, gone: { upstream: 'dead' }, patient: { upstream: 'patient', bucket: 'media' } },
  });
  port = portOf(gw.url);
  s3 = client(`http://127.0.0.1:${port}`, GW_KEY, { forcePathStyle: true });
});

afterAll(async () => {
  await gw?.close();
  await faulty?.close();
});

beforeEach(() => {
  faulty.fault = { kind: 'none' };
  faulty.stored.clear();
  faulty.stored.set('/media/object', OBJECT);
});

describe('upstream refuses the connection (closed port)', () => {
  it('GET and PUT answer 503 ServiceUnavailable', async () => {
    let o: Outcome;
    try {
      await s3.send(new GetObjectCommand({ Bucket: 'gone', Key: 'x' }));
      o = { kind: 'ok', bytes: Buffer.alloc(0) };
    } catch (e) {
      o = classifyError(e);
    }
    expect(o).toMatchObject({ kind: 's3', status: 503, code: 'ServiceUnavailable' });
    expect(await putObject('x', randomBytes(1000), 'gone')).toMatchObject({ kind: 's3', status: 503, code: 'ServiceUnavailable' });
  });
});

describe('upstream S3 errors pass through as retryable errors', () => {
  const cases: [Fault & { kind: 'error' }, string][] = [
    [{ kind: 'error', status: 500, code: 'InternalError' }, 'InternalError'],
    [{ kind: 'error', status: 503, code: 'SlowDown' }, 'SlowDown'],
    [{ kind: 'error', status: 503, code: 'ServiceUnavailable' }, 'ServiceUnavailable'],
  ];
  it.each(cases)('%o on GET and PUT', async (fault, code) => {
    faulty.fault = fault;
    expect(await getObject('object')).toMatchObject({ kind: 's3', status: fault.status, code });
    expect(await putObject('new', randomBytes(5000))).toMatchObject({ kind: 's3', status: fault.status, code });
    expect(faulty.stored.has('/media/new')).toBe(false);
  });
});

describe('retries of idempotent requests', () => {
  it('a GET answered 503 once is retried and succeeds; a PUT is not retried', async () => {
    faulty.fault = { kind: 'error', status: 503, code: 'SlowDown', times: 1 };
    const before = faulty.requests.length;
    const got = await getObject('object');
    expect(got).toMatchObject({ kind: 'ok' });
    expect((got as { bytes: Buffer }).bytes.equals(OBJECT)).toBe(true);
    expect(faulty.requests.length - before).toBe(2);
    faulty.fault = { kind: 'error', status: 503, code: 'ServiceUnavailable', times: 1 };
    const beforePut = faulty.requests.length;
    expect(await putObject('once', randomBytes(1000))).toMatchObject({ kind: 's3', status: 503, code: 'ServiceUnavailable' });
    expect(faulty.requests.length - beforePut).toBe(1);
    const m = await gw.metrics.registry.getSingleMetricAsString('s3gate_upstream_retries_total');
    expect(m).toMatch(/s3gate_upstream_retries_total\{upstream="faulty"\} [1-9]/);
  });
});

describe('informational answers before the real one', () => {
  it.each([['small', 10_000], ['streamed', 1024 * 1024 + 17]])('a 103 Early Hints before a %s GET answer: the client gets the real answer, every byte', async (_kind, size) => {
    const obj = randomBytes(size);
    faulty.stored.set('/media/hinted', obj);
    faulty.fault = { kind: 'early-hints' };
    const got = await getObject('hinted');
    expect(got).toMatchObject({ kind: 'ok' });
    expect((got as { bytes: Buffer }).bytes.equals(obj)).toBe(true);
  });
});

describe('upstream resets the connection', () => {
  it('GET of a small object (read whole before answering): a reset mid-body is retried and the client gets every byte', async () => {
    const small = randomBytes(10_000);
    faulty.stored.set('/media/small', small);
    faulty.fault = { kind: 'reset-response', afterBytes: 1000, times: 1 };
    const before = faulty.requests.length;
    const got = await getObject('small');
    expect(got).toMatchObject({ kind: 'ok' });
    expect((got as { bytes: Buffer }).bytes.equals(small)).toBe(true);
    expect(faulty.requests.length - before).toBe(2);
  });


  it.each([0, 1, 64 * 1024])('PUT: reset after %i request-body bytes stores nothing and answers retryably', async (n) => {
    faulty.fault = { kind: 'reset-request', afterBytes: n };
    const o = await putObject('reset-put', randomBytes(512 * 1024));
    expect(o.kind).not.toBe('ok');
    expectSafe(o);
    expect(faulty.stored.has('/media/reset-put')).toBe(false);
  });

  it.each([0, 1, 300_000])('GET: reset after %i response-body bytes is never a complete-looking body', async (n) => {
    faulty.fault = { kind: 'reset-response', afterBytes: n };
    const o = await getObject('object');
    expect(o.kind).not.toBe('ok');
    expectSafe(o, OBJECT);
  });
});

describe('upstream sends a short body under a longer Content-Length', () => {
  it.each([0, 1000, OBJECT.length - 1])('GET: %i bytes then a clean FIN: the SDK read fails', async (n) => {
    faulty.fault = { kind: 'short-body', sendBytes: n };
    const o = await getObject('object');
    expect(o.kind).not.toBe('ok');
    expectSafe(o, OBJECT);
  });

  it('GET through plain HTTP: fewer bytes than Content-Length arrive, and the connection is cut', async () => {
    faulty.fault = { kind: 'short-body', sendBytes: 4096 };
    const url = await presignedGet('object');
    const res = await new Promise<{ status: number; length: number; got: number; error?: string }>((resolve) => {
      const req = http.get(url, (r) => {
        let got = 0;
        r.on('data', (c: Buffer) => (got += c.length));
        r.on('end', () => resolve({ status: r.statusCode!, length: Number(r.headers['content-length']), got }));
        r.on('error', (e) => resolve({ status: r.statusCode!, length: Number(r.headers['content-length']), got, error: e.message }));
      });
      req.on('error', (e) => resolve({ status: 0, length: NaN, got: 0, error: e.message }));
    });
    expect(res.got).toBeLessThan(OBJECT.length);
    // Either the headers never came, or they promised the full length and the body was cut.
    if (res.status === 200) {
      expect(res.length).toBe(OBJECT.length);
      expect(res.error).toBeDefined();
    }
  });
});

describe('upstream stalls (gateway upstream timeouts: headers 400 ms, body 400 ms)', () => {
  it('GET: no response headers → 503 ServiceUnavailable', async () => {
    faulty.fault = { kind: 'stall', ms: 3000 };
    expect(await getObject('object')).toMatchObject({ kind: 's3', status: 503, code: 'ServiceUnavailable' });
  });

  it('PUT: no response → 503 ServiceUnavailable, nothing stored that the client did not see succeed', async () => {
    faulty.fault = { kind: 'stall', ms: 3000 };
    const o = await putObject('stalled-put', randomBytes(100_000));
    expect(o).toMatchObject({ kind: 's3', status: 503, code: 'ServiceUnavailable' });
  });

  it('GET: body stalls mid-way → the client connection is cut, not ended', async () => {
    faulty.fault = { kind: 'stall-body', afterBytes: 100_000, ms: 3000 };
    const o = await getObject('object');
    expect(o.kind).not.toBe('ok');
    expectSafe(o, OBJECT);
  });

  it('PUT of a small body, sent whole: no response → 503 ServiceUnavailable, nothing stored', async () => {
    // A stall far longer than the test's own time limit: only the gateway's timeout can end it.
    faulty.fault = { kind: 'stall', ms: 60_000 };
    const o = await putObject('stalled-small-put', randomBytes(1000));
    expect(o).toMatchObject({ kind: 's3', status: 503, code: 'ServiceUnavailable' });
    expect(faulty.stored.has('/media/stalled-small-put')).toBe(false);
  });

  it('GET that is slow but never idle as long as a timeout (headers after 250 ms, then 256 KiB every 250 ms): arrives whole', async () => {
    faulty.fault = { kind: 'trickle', bytes: 256 * 1024, ms: 250 };
    const t0 = performance.now();
    const o = await getObject('object');
    // Longer in all than either 400 ms timeout: they time the waits, not the whole exchange.
    expect(performance.now() - t0).toBeGreaterThan(1000);
    expect(o.kind).toBe('ok');
    expectSafe(o, OBJECT);
  });
});

describe('client disconnects mid-upload', () => {
  it('the upstream request is aborted short of its Content-Length and nothing is stored', async () => {
    const declared = 4 * 1024 * 1024;
    const path = '/media/abandoned';
    const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    const host = `127.0.0.1:${port}`;
    const signed = await signer.sign({
      method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port, path, query: {},
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(declared) },
    });
    const before = faulty.requests.length;
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path, headers: signed.headers });
    req.on('error', () => {});
    req.write(randomBytes(256 * 1024));
    // Wait (bounded) until the upload is flowing upstream, then hang up.
    for (let i = 0; i < 200 && !(faulty.requests.length > before && faulty.requests.at(-1)!.bodyBytes > 0); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const rec = faulty.requests.at(-1)!;
    expect(faulty.requests.length).toBe(before + 1);
    expect(rec.bodyBytes).toBeGreaterThan(0);
    req.destroy();
    await Promise.race([rec.settled, new Promise((r) => setTimeout(r, 5000))]);
    expect(rec.declaredLength).toBe(declared);
    expect(rec.cutShort).toBe(true);
    expect(rec.complete).toBe(false);
    expect(rec.bodyBytes).toBeLessThan(declared);
    expect(faulty.stored.has(path)).toBe(false);
  });
});

describe('client hangs up before the provider answered', () => {
  /** A GET the provider stalls on, which the client gives up on once the provider has it: the provider's record of it. */
  async function hangUpWhileStalled(key: string) {
    faulty.fault = { kind: 'stall', ms: 20_000 };
    const url = await presignedGet(key, 'patient');
    const before = faulty.requests.length;
    const req = http.get(url);
    req.on('error', () => {});
    for (let i = 0; i < 200 && faulty.requests.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(faulty.requests.length).toBe(before + 1);
    req.destroy();
    return faulty.requests.at(-1)!;
  }

  it('the provider request is ended too, not left waiting for an answer nobody will read', async () => {
    const upstreamReq = await hangUpWhileStalled('object');
    // Bounded wait, far below the stall and the gateway's 30 s timeouts: only the hang-up ends it.
    const ended = await Promise.race([upstreamReq.hungUp.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    expect(ended).toBe(true);
  });

  // The provider's answer (or its failure) reaches the request from undici's own callbacks: an
  // abort is told to the request once, inside the answer's 'close' (docs/performance.md, "Session
  // 11: tail"). A request never told would keep its in-flight count and write no access line.
  it('the request ends once, as the client ended it: one access line, 499 ClientClosed, no internal error', async () => {
    const mine = () => gw.sink.lines.filter((l) => l.msg === 'request' && l.bucket === 'patient' && l.op === 'GetObject' && l.status === 499);
    const earlier = mine().length;
    const upstreamReq = await hangUpWhileStalled('gone-client');
    await Promise.race([upstreamReq.hungUp, new Promise((r) => setTimeout(r, 5000))]);
    for (let i = 0; i < 200 && mine().length === earlier; i++) await new Promise((r) => setTimeout(r, 10));
    // A moment more: a second line for the same request would come now.
    await new Promise((r) => setTimeout(r, 100));
    expect(mine()).toHaveLength(earlier + 1);
    expect(mine().at(-1)).toMatchObject({ error: 'ClientClosed', bytesOut: 0 });
    expect(gw.sink.lines.filter((l) => l.msg === 'internal error')).toEqual([]);
  });
});

describe('after all that', () => {
  it('the gateway still serves a whole object', async () => {
    const o = await getObject('object');
    expect(o.kind).toBe('ok');
    expectSafe(o, OBJECT);
    const body = randomBytes(300_000);
    expect((await putObject('fine', body)).kind).toBe('ok');
    expect(faulty.stored.get('/media/fine')!.equals(body)).toBe(true);
  });
});

async function presignedGet(key: string, bucket = 'media'): Promise<string> {
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
}
