// Bounded memory before trust (#17, finding 8): bodies s3gate holds whole (CompleteMultipartUpload,
// DeleteObjects) have S3-sized limits, and their memory is admitted per key and per process before
// a byte is read. Raw signed requests that stall mid-body hold their reservation; past the key's
// share the next one is refused at once with 503 SlowDown, and nothing reaches the upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import net from 'node:net';
import { Readable } from 'node:stream';
import { DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { DEFAULT_BODY_BUDGET, processBodyBudget } from '../../src/limits/body-budget.js';
import { WHOLE_BODY_LIMITS } from '../../src/listen/body.js';

const K_PUB = { accessKeyId: 'PUBWRITERKEY', secretAccessKey: 'pub-writer-secret-abcdefghijklmnopqrstuvw' };
const K_OTHER = { accessKeyId: 'OTHERWRITERKEY', secretAccessKey: 'other-writer-secret-abcdefghijklmnopqrst' };
const LIMIT = WHOLE_BODY_LIMITS.CompleteMultipartUpload!;

let upstream: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;

beforeAll(async () => {
  upstream = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    region: 'us-east-1',
    keys: [
      { ...K_PUB, allow: [{ bucket: 'mem', prefix: 'pub/', actions: ['read', 'write', 'list', 'delete'] }] },
      { ...K_OTHER, allow: [{ bucket: 'mem', actions: ['read', 'write', 'list', 'delete'] }] },
    ],
    upstreams: { strict: { provider: 'minio', endpoint: upstream.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'strict' } },
  });
  port = portOf(gw.url);
  await upstream.store.handle({ method: 'PUT', bucket: 'mem', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

async function signedHead(creds: typeof K_PUB, method: string, path: string, query: Record<string, string>, length: number): Promise<string> {
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: creds, sha256: Sha256, uriEscapePath: false });
  const host = `${DOMAIN}:${port}`;
  const signed = await signer.sign({
    method, protocol: 'http:', hostname: DOMAIN, port, path, query,
    headers: { host, 'content-length': String(length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'application/xml' },
  });
  const qs = Object.entries(query).map(([n, v]) => (v === '' ? encodeURIComponent(n) : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)).join('&');
  const lines = [`${method} ${path}?${qs} HTTP/1.1`, ...Object.entries(signed.headers).map(([n, v]) => `${n}: ${v}`)];
  return lines.join('\r\n') + '\r\n\r\n';
}

interface Open {
  socket: net.Socket;
  answer: Promise<string>;
}

/** Sends the head and `sent` bytes of a `length`-byte body, then stalls. */
async function stalled(creds: typeof K_PUB, length: number, sent: number): Promise<Open> {
  const head = await signedHead(creds, 'POST', '/mem/pub/big.bin', { uploadId: 'no-such-upload' }, length);
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (c) => (data += c.toString('latin1')));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  socket.write(head);
  if (sent > 0) socket.write(Buffer.alloc(sent, 0x20));
  return { socket, answer };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never: ${what}`);
}

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}

describe('bodies held whole are bounded and admitted before they are read', () => {
  it('a CompleteMultipartUpload body declared over S3\'s size is refused before it is read', async () => {
    const before = upstream.requests.length;
    const big = await stalled(K_PUB, LIMIT + 1, 0);
    const raw = await big.answer;
    expect(statusOf(raw)).toBe(400);
    expect(raw).toContain('<Code>MaxMessageLengthExceeded</Code>');
    expect(upstream.requests.length).toBe(before);
  });

  it('past the key\'s share the next request is refused at once with SlowDown; another key still gets in; closing gives the memory back', async () => {
    const before = upstream.requests.length;
    const share = Math.floor(DEFAULT_BODY_BUDGET.perKey / LIMIT);
    const held: Open[] = [];
    for (let i = 0; i < share; i++) {
      held.push(await stalled(K_PUB, LIMIT, 1024));
      await until(() => processBodyBudget.held >= (i + 1) * LIMIT, `reservation ${i + 1}`);
    }
    const refused = await stalled(K_PUB, LIMIT, 0);
    const raw = await refused.answer;
    expect(statusOf(raw)).toBe(503);
    expect(raw).toContain('<Code>SlowDown</Code>');

    // Another key has its own share.
    const other = await stalled(K_OTHER, LIMIT, 1024);
    await until(() => processBodyBudget.held >= (share + 1) * LIMIT, 'the other key\'s reservation');

    for (const h of held) h.socket.destroy();
    other.socket.destroy();
    await until(() => processBodyBudget.held === 0, 'every reservation given back');
    const again = await stalled(K_PUB, LIMIT, 1024);
    await until(() => processBodyBudget.held === LIMIT, 'admitted again');
    again.socket.destroy();
    await until(() => processBodyBudget.held === 0, 'given back again');
    // None of it reached the provider: the bodies never completed.
    expect(upstream.requests.slice(before).filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('a whole body that arrives is read and forwarded as before (NoSuchUpload from the provider)', async () => {
    const body = '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>';
    const head = await signedHead(K_PUB, 'POST', '/mem/pub/big.bin', { uploadId: 'no-such-upload' }, Buffer.byteLength(body));
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (c) => (data += c.toString('latin1')));
    socket.write(head + body);
    await until(() => data.includes('</Error>'), 'an answer');
    socket.destroy();
    expect(statusOf(data)).toBe(404);
    expect(data).toContain('NoSuchUpload');
    await until(() => processBodyBudget.held === 0, 'given back after the answer');
  });
});
