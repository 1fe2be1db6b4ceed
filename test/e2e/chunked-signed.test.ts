// Hand-built signed aws-chunked uploads through s3gate: the S3 docs' chunked-upload shape
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and -TRAILER), signed with s3gate's key by smithy and an
// independent chunk encoder. Intact ones are stored decoded; a corrupted chunk signature, a
// corrupted trailer signature or a wrong trailer checksum leaves nothing upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { checksumOf } from '../../src/payload/checksums.js';
import { encodeChunked, signingKey } from '../payload/helpers/chunked.js';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';
import { testUndiciAgent } from '../upstream/resolve.js';

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
const agent = testUndiciAgent();

beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write'] }] }],
    upstreams: { rgw16: { provider: 'linode', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: { '*': { upstream: 'rgw16' } },
  });
  port = portOf(gw.url);
  await up.store.handle({ method: 'PUT', bucket: 'chunks', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
});

type Mode = 'signed' | 'signed-trailer';

async function upload(key: string, data: Buffer, mode: Mode, corrupt?: (body: Buffer) => Buffer, trailerValue?: string) {
  const host = `${DOMAIN}:${port}`;
  const trailers: [string, string][] = mode === 'signed-trailer' ? [['x-amz-checksum-crc32', trailerValue ?? checksumOf('crc32', data)]] : [];
  const headers: Record<string, string> = {
    host,
    'x-amz-content-sha256': mode === 'signed' ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(data.length),
    ...(mode === 'signed-trailer' ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
  };
  const now = new Date();
  const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: DOMAIN, port, path: `/chunks/${key}`, query: {}, headers }, { signingDate: now });
  const h = signed.headers as Record<string, string>;
  const seed = /Signature=([0-9a-f]{64})/.exec(h.authorization!)![1]!;
  const date = h['x-amz-date']!;
  let body = encodeChunked(data, {
    mode, chunkSizes: [65536, 1000, 65536],
    signing: { signingKey: signingKey(GW_KEY.secretAccessKey, date.slice(0, 8), 'us-east-1'), datetime: date, scope: `${date.slice(0, 8)}/us-east-1/s3/aws4_request`, seedSignature: seed },
    trailers,
  });
  if (corrupt) body = corrupt(body);
  const { host: _h, ...send } = h;
  const r = await request(`http://${host}/chunks/${key}`, { method: 'PUT', headers: { ...send, 'content-length': String(body.length) }, body, dispatcher: agent });
  return { status: r.statusCode, text: await r.body.text() };
}

async function stored(key: string): Promise<Buffer | undefined> {
  try {
    const r = await up.store.handle({ method: 'GET', bucket: 'chunks', key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    const parts: Buffer[] = [];
    for await (const c of r.body as Readable) parts.push(c as Buffer);
    return Buffer.concat(parts);
  } catch {
    return undefined;
  }
}

describe.each(['signed', 'signed-trailer'] as const)('%s aws-chunked through s3gate', (mode) => {
  it('an intact upload is stored decoded, with a Content-Length upstream', async () => {
    const data = randomBytes(200_000);
    const r = await upload(`ok-${mode}`, data, mode);
    expect(r.status).toBe(200);
    expect((await stored(`ok-${mode}`))?.equals(data)).toBe(true);
    const seen = up.requests.find((q) => q.key === `ok-${mode}`)!;
    expect(seen.headers['content-length']).toBe('200000');
    expect(seen.headers['content-encoding']).toBeUndefined();
  });

  it('a corrupted chunk signature → SignatureDoesNotMatch, nothing stored', async () => {
    const r = await upload(`badsig-${mode}`, randomBytes(100_000), mode, (b) => {
      const s = b.toString('latin1');
      const i = s.indexOf('chunk-signature=', s.indexOf('chunk-signature=') + 1) + 'chunk-signature='.length;
      return Buffer.from(s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1), 'latin1');
    });
    expect(r.status).toBe(403);
    expect(r.text).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(await stored(`badsig-${mode}`)).toBeUndefined();
  });

  it('a flipped data byte → SignatureDoesNotMatch, nothing stored', async () => {
    const r = await upload(`flip-${mode}`, randomBytes(100_000), mode, (b) => {
      const c = Buffer.from(b);
      c[200] = c[200]! ^ 1;
      return c;
    });
    expect(r.status).toBe(403);
    expect(await stored(`flip-${mode}`)).toBeUndefined();
  });
});

describe('signed trailer', () => {
  it('a wrong trailer checksum, properly signed → BadDigest, nothing stored', async () => {
    const r = await upload('badcrc', randomBytes(10_000), 'signed-trailer', undefined, 'AAAAAA==');
    expect(r.status).toBe(400);
    expect(r.text).toContain('<Code>BadDigest</Code>');
    expect(await stored('badcrc')).toBeUndefined();
  });

  it('a tampered trailer signature → SignatureDoesNotMatch, nothing stored', async () => {
    const r = await upload('badtrailersig', randomBytes(10_000), 'signed-trailer', (b) => Buffer.from(b.toString('latin1').replace(/x-amz-trailer-signature:(.)/, (_m, c: string) => `x-amz-trailer-signature:${c === 'a' ? 'b' : 'a'}`), 'latin1'));
    expect(r.status).toBe(403);
    expect(await stored('badtrailersig')).toBeUndefined();
  });
});
