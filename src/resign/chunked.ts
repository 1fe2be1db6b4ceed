// Outbound STREAMING-AWS4-HMAC-SHA256-PAYLOAD: for providers that want a signed payload, the
// verified body is re-framed as aws-chunked with s3gate's own chunk signatures, seeded by the
// signature of the request s3gate sent. The final chunk is only written after the source ends,
// and the source holds back its end until it verified, so the provider never sees a complete
// upload that s3gate did not verify.
import { createHash, createHmac } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { EMPTY_SHA256 } from '../signing/sigv4.js';

export const CHUNK_SIZE = 64 * 1024;
const SIG_EXT = ';chunk-signature='.length + 64;

/** Bytes on the wire for `decoded` bytes framed in CHUNK_SIZE chunks (for Content-Length). */
export function signedChunkedLength(decoded: number, chunkSize = CHUNK_SIZE): number {
  const full = Math.floor(decoded / chunkSize);
  const rest = decoded % chunkSize;
  const frame = (n: number) => n.toString(16).length + SIG_EXT + 2 + n + 2;
  return full * frame(chunkSize) + (rest > 0 ? frame(rest) : 0) + frame(0);
}

export interface ChunkSigner {
  signingKey: Buffer;
  datetime: string;
  scope: string;
  seedSignature: string;
}

export class SignedChunkEncoder extends Transform {
  private prev: string;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly s: ChunkSigner, private readonly chunkSize = CHUNK_SIZE) {
    super();
    this.prev = s.seedSignature;
  }

  private frame(data: Buffer): Buffer {
    const hash = createHash('sha256').update(data).digest('hex');
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${this.s.datetime}\n${this.s.scope}\n${this.prev}\n${EMPTY_SHA256}\n${hash}`;
    this.prev = createHmac('sha256', this.s.signingKey).update(sts).digest('hex');
    return Buffer.concat([Buffer.from(`${data.length.toString(16)};chunk-signature=${this.prev}\r\n`), data, Buffer.from('\r\n')]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= this.chunkSize) {
      const all = Buffer.concat(this.pending);
      this.push(this.frame(all.subarray(0, this.chunkSize)));
      const rest = all.subarray(this.chunkSize);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.pendingBytes > 0) this.push(this.frame(Buffer.concat(this.pending)));
    this.push(this.frame(Buffer.alloc(0)));
    cb();
  }
}
