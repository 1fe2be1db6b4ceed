// `timeouts.idle` closes a client connection that moves no bytes, between requests as during one
// (Node's own keep-alive timer is off: it replaced the idle timeout between requests). A request
// sent whole that waits on the provider is not idle: the provider's own timeouts end that wait.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { client, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { startFaultyUpstream, type FaultyUpstream } from '../upstream/faulty.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let slow: Awaited<ReturnType<typeof startTestGateway>>;
let faulty: FaultyUpstream;

beforeAll(async () => {
  // The request is refused (anonymous) before anything is forwarded: the upstream is never dialled.
  gw = await startTestGateway({
    region: 'us-east-1', keys: [], timeouts: { idle: 300 },
    upstreams: { none: { provider: 'linode', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'none' } },
  });
});

beforeAll(async () => {
  faulty = await startFaultyUpstream();
  slow = await startTestGateway({
    region: 'us-east-1', timeouts: { idle: 300 },
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write'] }] }],
    upstreams: { slow: { provider: 'linode', endpoint: faulty.url, region: 'us-east-1', credentials: UP_KEY, timeouts: { connect: 1000, headers: 1500, body: 1500 } } },
    buckets: { '*': { upstream: 'slow' } },
  });
});

afterAll(async () => {
  await gw?.close();
  await slow?.close();
  await faulty?.close();
});

describe('idle client connections', () => {
  it('a keep-alive connection that goes quiet after an answer is closed by the idle timeout', async () => {
    const socket = net.connect(portOf(gw.url), '127.0.0.1');
    let answer = '';
    let answered!: () => void;
    const gotAnswer = new Promise<void>((r) => (answered = r));
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now())));
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (answer.includes('</Error>')) answered();
    });
    socket.write('GET /some-bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await gotAnswer;
    const at = Date.now();
    expect(answer).toMatch(/^HTTP\/1\.1 \d{3}/);
    expect(answer.toLowerCase()).not.toContain('connection: close');
    expect(socket.destroyed).toBe(false);
    // Closed by the server, having sent nothing more; not before the idle time has passed.
    expect(await closed - at).toBeGreaterThanOrEqual(250);
    expect(answer.indexOf('HTTP/1.1', 1)).toBe(-1);
  });
});

describe('a request sent whole, waiting on the provider (idle 300 ms)', () => {
  it('a PUT the provider answers after 900 ms: 200, and the provider stored it', async () => {
    faulty.fault = { kind: 'trickle', bytes: 1 << 20, ms: 900 };
    const s3 = client(`http://127.0.0.1:${portOf(slow.url)}`, GW_KEY, { forcePathStyle: true });
    const started = Date.now();
    const out = await s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'waited', Body: 'kept' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(faulty.stored.get('/media/waited')?.toString()).toBe('kept');
    s3.destroy();
  });

  it('a GET whose provider says nothing: the provider timeout (1.5 s) answers 503 ServiceUnavailable, not a cut connection', async () => {
    faulty.fault = { kind: 'stall', ms: 5000 };
    const s3 = client(`http://127.0.0.1:${portOf(slow.url)}`, GW_KEY, { forcePathStyle: true });
    const e = await s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'anything' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(S3ServiceException);
    expect([(e as S3ServiceException).name, (e as S3ServiceException).$metadata.httpStatusCode]).toEqual(['ServiceUnavailable', 503]);
    s3.destroy();
  });

  it('a client that goes quiet halfway through its body is still closed by the idle timeout, and nothing is stored', async () => {
    faulty.fault = { kind: 'none' };
    const port = portOf(slow.url);
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: GW_KEY, sha256: Sha256 });
    const signed = await signer.sign({
      method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port, path: '/media/half',
      headers: { host: `127.0.0.1:${port}`, 'content-length': '100', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now())));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const head = Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`PUT /media/half HTTP/1.1\r\n${head}\r\n0123456789`);
    const at = Date.now();
    const end = await closed;
    expect(end - at).toBeGreaterThanOrEqual(250);
    expect(end - at).toBeLessThan(5000);
    expect(answer).toBe('');
    expect(faulty.requests.filter((r) => r.url === '/media/half' && r.complete)).toEqual([]);
    expect(faulty.stored.has('/media/half')).toBe(false);
  });
});
