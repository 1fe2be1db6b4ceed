// A client that goes away while a small body (read whole before anything goes upstream) is still
// arriving: nothing reaches the provider, and the request is logged as the incomplete body it
// was (400 IncompleteBody), not as an internal error of the gateway. Node's IncomingMessage emits
// 'error' on such a hang-up only when it has an 'error' listener; the body's 'close' listener
// alone sees the request end short (src/listen/body.ts).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { signRaw } from '../helpers/signed-raw.js';

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
    buckets: { media: { upstream: 'strict', bucket: 'small-gone-prod' } },
  });
  port = portOf(gw.url);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
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
    const r = await signRaw(GW_KEY, 'v4-header', { method: 'PUT', host: `${DOMAIN}:${port}`, path: `/media/${key}`, body });
    const head = `PUT ${r.target} HTTP/1.1\r\n${r.lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write(head, 'latin1');
    if (sent) sock.write(body.slice(0, sent), 'latin1');
    // The request is in the gateway's hands (its headers parsed, the body being read) before the hang-up.
    await until(async () => (await inflight()) === 1, 'the request to start');
    sock.destroy();
    await until(() => gw.sink.lines.some((l) => l.msg === 'request' && l.op === 'PutObject' && l.bucket === 'media' && l.bytesIn === sent), 'its access line');
    const line = gw.sink.lines.find((l) => l.msg === 'request' && l.op === 'PutObject' && l.bytesIn === sent)!;
    expect(line).toMatchObject({ status: 400, error: 'IncompleteBody' });
    expect(gw.sink.lines.filter((l) => l.msg === 'internal error')).toEqual([]);
    expect(upstream.requests.filter((q) => q.key === key)).toHaveLength(0);
    await until(async () => (await inflight()) === 0, 'the request to end');
  });
});
