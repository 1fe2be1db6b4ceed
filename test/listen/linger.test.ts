// An answer s3gate gives before it has read the request's body (a form refused on its fields, a
// PUT refused on its headers) reaches a client that is still sending: the rest of a small body
// is read and thrown away first (src/listen/linger.ts). Before, the connection was closed with
// request bytes unread, the kernel reset it, and fetch() saw EPIPE or ECONNRESET in place of the
// S3 error. The gateway runs as its own process, as in production: the client's sending and the
// gateway's close race as they do between two processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { tmpDir } from '../helpers/gateway.js';

const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
const outcome = (p: Promise<Response>) =>
  p.then(async (r) => `${r.status} ${code(await r.text())}`, (e: { cause?: { code?: string }; message: string }) => e.cause?.code ?? e.message);

function refusedForm(size: number): FormData {
  const form = new FormData();
  form.append('key', 'refused/x.txt');
  form.append('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
  form.append('X-Amz-Credential', 'NOSUCHKEY/20261206/us-east-1/s3/aws4_request');
  form.append('X-Amz-Date', '20261206T000000Z');
  form.append('Policy', Buffer.from(JSON.stringify({ expiration: '2030-01-01T00:00:00Z', conditions: [] })).toString('base64'));
  form.append('X-Amz-Signature', '0'.repeat(64));
  form.append('file', new Blob(['x'.repeat(size)]), 'f.txt');
  return form;
}

describe('a refused request whose body is still on its way', () => {
  let gw: CliProcess;
  beforeAll(async () => {
    const dir = tmpDir('s3gate-linger-');
    writeFileSync(join(dir, 'proxy.yaml'), `
listen: [{ address: 127.0.0.1:0 }]
domains: [localhost]
keys:
  - { accessKeyId: LINGERKEY, secretAccessKey: linger-secret-abcdefghijklmnopqrstuvwxyz, allow: [{ bucket: "*", actions: [read, write] }] }
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
`);
    gw = await startCli(['--config', join(dir, 'proxy.yaml')], { cwd: dir });
  });
  afterAll(async () => {
    gw?.child.kill('SIGTERM');
    await gw?.exited;
  });

  it('a browser form with an unknown key gets its 403 InvalidAccessKeyId every time, small file or large', async () => {
    for (const size of [10, 300_000]) {
      const seen: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const o = await outcome(fetch(`${gw.url}/forms`, { method: 'POST', body: refusedForm(size) }));
        seen[o] = (seen[o] ?? 0) + 1;
      }
      expect(seen, `a file of ${size} bytes`).toEqual({ '403 InvalidAccessKeyId': 40 });
    }
  });

  it('a PUT with an unknown key gets its 403 every time, on a connection kept for the next request', async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const o = await outcome(fetch(`${gw.url}/forms/refused.bin`, {
        method: 'PUT', body: Buffer.alloc(512 * 1024, 1),
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=NOSUCHKEY/20261206/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
          'x-amz-date': '20261206T000000Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        },
      }).then((r) => {
        seen[`connection: ${r.headers.get('connection')}`] = (seen[`connection: ${r.headers.get('connection')}`] ?? 0) + 1;
        return r;
      }));
      seen[o] = (seen[o] ?? 0) + 1;
    }
    // The body was read to its end, so the connection is in step and need not be closed.
    expect(seen).toEqual({ '403 InvalidAccessKeyId': 40, 'connection: keep-alive': 40 });
  });
});
