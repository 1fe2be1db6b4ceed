// `timeouts.idle` closes a client connection that moves no bytes, between requests as during one
// (Node's own keep-alive timer is off: it replaced the idle timeout between requests).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  // The request is refused (anonymous) before anything is forwarded: the upstream is never dialled.
  gw = await startTestGateway({
    region: 'us-east-1', keys: [], timeouts: { idle: 300 },
    upstreams: { none: { provider: 'linode', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'none' } },
  });
});

afterAll(async () => {
  await gw?.close();
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
