// A small body (up to 64 KiB) is read whole off the socket and verified before anything goes
// upstream. It may arrive in one read or in several, or be empty: each way the provider gets
// exactly the bytes the client signed, and a body that does not match them reaches no provider.
// A client that goes away while its small body is still arriving gets nothing to the provider,
// and the request is logged as the incomplete body it was (400 IncompleteBody), not as an
// internal error of the gateway: Node's IncomingMessage emits 'error' on such a hang-up only
// when it has an 'error' listener; the body's 'close' listener alone sees the request end short
// (src/listen/body.ts).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { signRaw, type RawSpec } from '../helpers/signed-raw.js';

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'eu-test-1', dnsName: 's3.upstream.test' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { strict: { provider: 'linode', endpoint: upstream.url, region: 'eu-test-1', credentials: UP_KEY } },
    buckets: { media: { upstream: 'strict', bucket: 'small-body-prod' }, gone: { upstream: 'strict', bucket: 'small-gone-prod' } },
  });
  port = portOf(gw.url);
  await upstream.store.handle({ method: 'PUT', bucket: 'small-body-prod', query: new URLSearchParams(), headers: {}, body: (await import('node:stream')).Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

/** Sends the signed request with its body in `pieces` writes, each after the last was taken. */
async function sendInPieces(spec: RawSpec, wire: Buffer, pieces: number): Promise<number> {
  const r = await signRaw(GW_KEY, 'v4-header', spec);
  const head = Buffer.from(`${spec.method} ${r.target} HTTP/1.1\r\n${r.lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`, 'latin1');
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let answer = '';
    sock.on('data', (c) => (answer += c.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    const size = Math.ceil(wire.length / pieces);
    let at = 0;
    const next = () => {
      if (at >= wire.length) return;
      const piece = wire.subarray(at, at + size);
      at += size;
      // Each piece is written once the one before has left, with a pause, so the gateway reads it apart.
      sock.write(piece, () => setTimeout(next, 20));
    };
    sock.write(head, () => (wire.length ? setTimeout(next, 20) : undefined));
  });
}

const stored = (key: string) => upstream.requests.filter((r) => r.key === key && r.operation === 'PutObject' && r.status === 200);

describe('small bodies read whole', () => {
  it.each([1, 3, 7])('a 40 KB body in %i pieces reaches the provider whole', async (pieces) => {
    const body = 'abcdefghij'.repeat(4000);
    const key = `pieces-${pieces}`;
    const status = await sendInPieces({ method: 'PUT', host: `${DOMAIN}:${port}`, path: `/media/${key}`, body }, Buffer.from(body), pieces);
    expect(status).toBe(200);
    expect(stored(key)).toHaveLength(1);
    expect(stored(key)[0]!.bodyBytes).toBe(body.length);
  });

  it('an empty body reaches the provider as one', async () => {
    const status = await sendInPieces({ method: 'PUT', host: `${DOMAIN}:${port}`, path: '/media/empty', body: '' }, Buffer.alloc(0), 1);
    expect(status).toBe(200);
    expect(stored('empty')).toHaveLength(1);
    expect(stored('empty')[0]!.bodyBytes).toBe(0);
  });

  it('a body in pieces that differs from what was signed reaches no provider', async () => {
    const body = 'abcdefghij'.repeat(4000);
    const sent = Buffer.from(body);
    sent[sent.length - 1] = 0x5a;
    const status = await sendInPieces({ method: 'PUT', host: `${DOMAIN}:${port}`, path: '/media/differs', body }, sent, 4);
    expect(status).toBe(400);
    expect(upstream.requests.filter((r) => r.key === 'differs')).toHaveLength(0);
  });
});

const inflight = async () => Number(/^s3gate_inflight_requests (\d+)/m.exec(await gw.metrics.registry.metrics())?.[1] ?? NaN);

async function until(f: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`waited in vain for ${what}`);
}

describe('a client gone mid-way through a small body', () => {
  it.each([['after part of the body', 1000], ['before any of it', 0]])('%s: nothing upstream, logged as IncompleteBody', async (_what, sent) => {
    const key = `gone-${sent}`;
    const body = 'abcdefghij'.repeat(4000);
    const r = await signRaw(GW_KEY, 'v4-header', { method: 'PUT', host: `${DOMAIN}:${port}`, path: `/gone/${key}`, body });
    const head = `PUT ${r.target} HTTP/1.1\r\n${r.lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write(head, 'latin1');
    if (sent) sock.write(body.slice(0, sent), 'latin1');
    // The request is in the gateway's hands (its headers parsed, the body being read) before the hang-up.
    await until(async () => (await inflight()) === 1, 'the request to start');
    sock.destroy();
    await until(() => gw.sink.lines.some((l) => l.msg === 'request' && l.op === 'PutObject' && l.bucket === 'gone' && l.bytesIn === sent), 'its access line');
    const line = gw.sink.lines.find((l) => l.msg === 'request' && l.op === 'PutObject' && l.bucket === 'gone' && l.bytesIn === sent)!;
    expect(line).toMatchObject({ status: 400, error: 'IncompleteBody' });
    expect(gw.sink.lines.filter((l) => l.msg === 'internal error')).toEqual([]);
    expect(upstream.requests.filter((q) => q.key === key)).toHaveLength(0);
    await until(async () => (await inflight()) === 0, 'the request to end');
  });
});
