import { createHash, createHmac } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import type { ChunkSigning, ChunkedMode } from '../../../src/payload/aws-chunked.js';
import { S3Error } from '../../../src/s3/errors.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function signingKey(secret: string, date: string, region: string, service = 's3'): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

export const EXAMPLE_KEY = signingKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1');
export const EXAMPLE_DATETIME = '20130524T000000Z';
export const EXAMPLE_SCOPE = '20130524/us-east-1/s3/aws4_request';

export function exampleSigning(seedSignature: string): ChunkSigning {
  return { signingKey: EXAMPLE_KEY, datetime: EXAMPLE_DATETIME, scope: EXAMPLE_SCOPE, seedSignature };
}

export interface EncodeOptions {
  mode: ChunkedMode;
  signing?: ChunkSigning;
  chunkSizes: number[];
  trailers?: [string, string][];
}

/** An independent aws-chunked encoder, written from the AWS docs, used to generate bodies. */
export function encodeChunked(data: Buffer, o: EncodeOptions): Buffer {
  const parts: Buffer[] = [];
  let prev = o.signing?.seedSignature ?? '';
  const sign = (hash: string) => {
    const s = o.signing!;
    prev = hmac(s.signingKey, `AWS4-HMAC-SHA256-PAYLOAD\n${s.datetime}\n${s.scope}\n${prev}\n${EMPTY_SHA256}\n${hash}`).toString('hex');
    return prev;
  };
  const signed = o.mode !== 'unsigned-trailer';
  let off = 0;
  const sizes = [...o.chunkSizes];
  while (off < data.length) {
    const n = Math.min(sizes.shift() ?? 65536, data.length - off) || 1;
    const piece = data.subarray(off, off + n);
    off += n;
    const ext = signed ? `;chunk-signature=${sign(createHash('sha256').update(piece).digest('hex'))}` : '';
    parts.push(Buffer.from(`${n.toString(16)}${ext}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${signed ? `;chunk-signature=${sign(EMPTY_SHA256)}` : ''}\r\n`));
  let trailer = '';
  for (const [n, v] of o.trailers ?? []) trailer += `${n}:${v}\r\n`;
  if (o.mode === 'signed-trailer') {
    const canon = [...(o.trailers ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}:${v}\n`).join('');
    const s = o.signing!;
    const sig = hmac(
      s.signingKey,
      `AWS4-HMAC-SHA256-TRAILER\n${s.datetime}\n${s.scope}\n${prev}\n${createHash('sha256').update(canon).digest('hex')}`,
    ).toString('hex');
    trailer += `x-amz-trailer-signature:${sig}\r\n`;
  }
  parts.push(Buffer.from(trailer + '\r\n'));
  return Buffer.concat(parts);
}

/** Split a buffer at the given cut points (sorted, deduplicated, within range). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(buf.length, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(buf.subarray(prev, p));
    prev = p;
  }
  if (prev < buf.length) out.push(buf.subarray(prev));
  return out;
}

export interface RunResult {
  out: Buffer;
  emitted: number;
  error?: S3Error | Error;
}

/** Feed pieces through a transform and collect what it emitted and how it ended. */
export async function run(t: Transform, pieces: Buffer[]): Promise<RunResult> {
  const chunks: Buffer[] = [];
  let emitted = 0;
  t.on('data', (c: Buffer) => {
    chunks.push(c);
    emitted += c.length;
  });
  const done = new Promise<Error | undefined>((resolve) => {
    t.on('end', () => resolve(undefined));
    t.on('error', (e) => resolve(e));
  });
  Readable.from(pieces, { objectMode: false }).on('error', () => {}).pipe(t);
  const error = await done;
  return { out: Buffer.concat(chunks), emitted, error };
}
