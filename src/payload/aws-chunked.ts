import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import { type AmzChecksumAlgorithm, algorithmOfHeader, isValidDigestValue } from './checksums.js';
import { BodyDigests, type BodyExpectations, checksumMismatch, invalidChecksumValue } from './verify.js';

// Wire format (sigv4-streaming, sigv4-streaming-trailers, and what the SDKs send):
//   hex-size[;chunk-signature=<64 hex>]\r\n <data> \r\n   ... repeated ...
//   0[;chunk-signature=<64 hex>]\r\n
//   [name:value\r\n ...] [x-amz-trailer-signature:<64 hex>\r\n]
//   \r\n
// Trailer lines are CRLF-terminated on the wire (aws-sdk-js getAwsChunkedEncodingStream,
// aws-sdk-net STREAM_NEWLINE), but the trailer string-to-sign hashes the canonical
// form "name:value\n" per trailer, sorted by name (aws-sdk-net CanonicalizeHeaders),
// which is what reproduces the published vector d81f82fc… in sigv4-streaming-trailers.

export type ChunkedMode = 'signed' | 'signed-trailer' | 'unsigned-trailer';

export interface ChunkSigning {
  /** HMAC key derived from the secret for this scope (kSigning) */
  signingKey: Buffer;
  /** x-amz-date of the request, e.g. 20130524T000000Z */
  datetime: string;
  /** e.g. 20130524/us-east-1/s3/aws4_request */
  scope: string;
  /** the Authorization header's signature: the first link of the chunk chain */
  seedSignature: string;
}

export interface AwsChunkedOptions {
  mode: ChunkedMode;
  /** x-amz-decoded-content-length */
  decodedLength?: number;
  /** lower-case names from x-amz-trailer (x-amz-checksum-<alg>) */
  trailerNames: string[];
  signing?: ChunkSigning;
  /** header claims about the decoded bytes (x-amz-checksum-*, Content-MD5), checked in the same pass */
  expect?: Pick<BodyExpectations, 'checksums' | 'contentMd5'>;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
// Chunk-size lines are ~90 bytes and trailer lines ~100; anything near this is
// not a client following the format, and the cap bounds what we buffer.
const MAX_LINE = 4096;
const MAX_CHUNK_SIZE = Number.MAX_SAFE_INTEGER;

const enum S {
  SizeLine,
  Data,
  DataCR,
  DataLF,
  TrailerLine,
  Done,
}

const SIGNED_SIZE_LINE = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/;
const UNSIGNED_SIZE_LINE = /^([0-9a-fA-F]{1,16})$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

function malformed(msg: string): S3Error {
  return new S3Error('InvalidRequest', msg);
}

function sigEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

/**
 * Decodes an aws-chunked body while verifying it: chunk-signature chain,
 * trailer signature, trailer checksums, x-amz-decoded-content-length, and any
 * header checksums. Emits the decoded bytes but always holds back the most
 * recent piece until end of input has verified everything; on any failure it
 * errors instead, so the upstream request ends short of its Content-Length.
 */
export class AwsChunkedDecoder extends Transform {
  private readonly mode: ChunkedMode;
  private readonly signed: boolean;
  private readonly signing: ChunkSigning | undefined;
  private readonly trailerNames: string[];
  private readonly trailerAlgs = new Map<string, AmzChecksumAlgorithm>();
  private readonly digests: BodyDigests;
  private readonly decodedLength: number | undefined;

  private state = S.SizeLine;
  private readonly line = Buffer.allocUnsafe(MAX_LINE);
  private lineLen = 0;
  private remaining = 0;
  private chunkHash: Hash | null = null;
  private chunkSig = '';
  private prevSig = '';
  private held: Buffer | null = null;

  private trailerLines = 0;
  private skippedBlank = false;
  private readonly received = new Map<string, string>();
  private trailerSig: string | undefined;
  private verifiedTrailers: Record<string, string> = {};
  private finished = false;

  constructor(opts: AwsChunkedOptions) {
    super();
    this.mode = opts.mode;
    this.signed = opts.mode !== 'unsigned-trailer';
    this.signing = opts.signing;
    if (this.signed && !opts.signing) throw new Error(`aws-chunked mode ${opts.mode} needs signing parameters`);
    if (opts.mode === 'signed' && opts.trailerNames.length > 0) {
      throw malformed('x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.');
    }
    this.prevSig = opts.signing?.seedSignature ?? '';
    this.decodedLength = opts.decodedLength;
    this.trailerNames = opts.trailerNames.map((n) => n.toLowerCase());
    for (const name of this.trailerNames) {
      const alg = algorithmOfHeader(name);
      if (!alg) throw malformed('The value specified in the x-amz-trailer header is not supported');
      this.trailerAlgs.set(name, alg);
    }
    this.digests = new BodyDigests({ ...opts.expect, length: opts.decodedLength }, [...this.trailerAlgs.values()]);
  }

  /** Decoded bytes seen so far; the body's length once the stream has ended. */
  get decodedBytes(): number {
    return this.digests.bytes;
  }

  /** Verified trailer values (x-amz-checksum-<alg> → base64), empty until the stream ends successfully. */
  get trailers(): Record<string, string> {
    return this.finished ? { ...this.verifiedTrailers } : {};
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (e) {
      this.held = null;
      return cb(e as Error);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.finish();
    } catch (e) {
      this.held = null;
      return cb(e as Error);
    }
    this.finished = true;
    if (this.held) this.push(this.held);
    this.held = null;
    cb();
  }

  private release(piece: Buffer): void {
    this.digests.update(piece);
    if (this.held) this.push(this.held);
    this.held = piece;
  }

  private consume(chunk: Buffer): void {
    const len = chunk.length;
    let off = 0;
    while (off < len) {
      switch (this.state) {
        case S.Data: {
          const take = Math.min(this.remaining, len - off);
          const piece = chunk.subarray(off, off + take);
          this.chunkHash?.update(piece);
          this.release(piece);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = S.DataCR;
          break;
        }
        case S.DataCR:
          if (chunk[off++] !== 0x0d) throw malformed('Chunk data is not followed by CRLF.');
          this.state = S.DataLF;
          break;
        case S.DataLF:
          if (chunk[off++] !== 0x0a) throw malformed('Chunk data is not followed by CRLF.');
          if (this.signed) this.verifyChunk(this.chunkHash!.digest('hex'));
          this.chunkHash = null;
          this.state = S.SizeLine;
          break;
        case S.SizeLine:
        case S.TrailerLine: {
          const nl = chunk.indexOf(0x0a, off);
          const end = nl === -1 ? len : nl + 1;
          if (this.lineLen + (end - off) > MAX_LINE) throw malformed('Chunk header or trailer line too long.');
          chunk.copy(this.line, this.lineLen, off, end);
          this.lineLen += end - off;
          off = end;
          if (nl === -1) break;
          if (this.lineLen < 2 || this.line[this.lineLen - 2] !== 0x0d) {
            throw malformed('Chunk header or trailer line is not terminated by CRLF.');
          }
          const text = this.line.toString('latin1', 0, this.lineLen - 2);
          this.lineLen = 0;
          if (this.state === S.SizeLine) this.sizeLine(text);
          else this.trailerLine(text);
          break;
        }
        case S.Done:
          throw malformed('Unexpected data after the end of the aws-chunked body.');
      }
    }
  }

  private sizeLine(text: string): void {
    const m = (this.signed ? SIGNED_SIZE_LINE : UNSIGNED_SIZE_LINE).exec(text);
    if (!m) throw malformed('Malformed aws-chunked chunk header.');
    const size = parseInt(m[1]!, 16);
    if (size > MAX_CHUNK_SIZE) throw malformed('Malformed aws-chunked chunk header.');
    // Fail as soon as the framing promises more than the declared length, before forwarding it.
    if (this.decodedLength !== undefined && this.digests.bytes + size > this.decodedLength) {
      throw new S3Error('IncompleteBody');
    }
    if (this.signed) this.chunkSig = m[2]!;
    if (size === 0) {
      if (this.signed) this.verifyChunk(EMPTY_SHA256);
      this.state = S.TrailerLine;
      return;
    }
    this.remaining = size;
    this.chunkHash = this.signed ? createHash('sha256') : null;
    this.state = S.Data;
  }

  private verifyChunk(dataSha256Hex: string): void {
    const s = this.signing!;
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${s.datetime}\n${s.scope}\n${this.prevSig}\n${EMPTY_SHA256}\n${dataSha256Hex}`;
    const calc = createHmac('sha256', s.signingKey).update(sts).digest('hex');
    if (!sigEqual(calc, this.chunkSig)) {
      throw new S3Error('SignatureDoesNotMatch', 'The chunk signature we calculated does not match the signature you provided.');
    }
    this.prevSig = calc;
  }

  private trailerLine(text: string): void {
    if (text === '') {
      // The sigv4-streaming-trailers example (as MinIO and others reproduce it)
      // has an empty line between the final chunk and the trailers; allow one
      // there. It cannot be the end: declared trailers would then be missing.
      if (this.mode !== 'signed' && this.trailerLines === 0 && !this.skippedBlank && this.expectsTrailerLines()) {
        this.skippedBlank = true;
        return;
      }
      this.state = S.Done;
      return;
    }
    if (this.mode === 'signed') throw malformed('Trailing headers were sent without x-amz-trailer.');
    const colon = text.indexOf(':');
    if (colon <= 0) throw malformed('Malformed trailing header.');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (this.trailerSig !== undefined) throw malformed('x-amz-trailer-signature must be the last trailing header.');
    if (name === 'x-amz-trailer-signature') {
      if (this.mode !== 'signed-trailer') throw malformed('x-amz-trailer-signature sent on an unsigned payload.');
      if (!SIGNATURE.test(value)) throw malformed('Malformed x-amz-trailer-signature.');
      this.trailerSig = value;
    } else {
      if (!this.trailerAlgs.has(name)) throw malformed(`The trailing header ${name} was not declared in x-amz-trailer.`);
      if (this.received.has(name)) throw malformed(`The trailing header ${name} was sent twice.`);
      this.received.set(name, value);
    }
    this.trailerLines++;
  }

  private expectsTrailerLines(): boolean {
    return this.trailerNames.length > 0 || this.mode === 'signed-trailer';
  }

  private finish(): void {
    // Some encoders end with the last trailer line and omit the closing empty
    // line; nothing can be missing then, since all declared trailers (and the
    // trailer signature that covers them) must already have arrived.
    const endedAfterTrailers = this.state === S.TrailerLine && this.lineLen === 0 && this.trailerLines > 0;
    if (this.state !== S.Done && !endedAfterTrailers) throw new S3Error('IncompleteBody');

    for (const name of this.trailerNames) {
      if (!this.received.has(name)) throw malformed(`The trailing header ${name} declared in x-amz-trailer was not sent.`);
    }
    if (this.mode === 'signed-trailer') {
      if (this.trailerSig === undefined) throw malformed('The trailing headers are missing x-amz-trailer-signature.');
      const canonical = [...this.received.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([n, v]) => `${n}:${v}\n`)
        .join('');
      const s = this.signing!;
      const sts =
        `AWS4-HMAC-SHA256-TRAILER\n${s.datetime}\n${s.scope}\n${this.prevSig}\n` +
        createHash('sha256').update(canonical).digest('hex');
      const calc = createHmac('sha256', s.signingKey).update(sts).digest('hex');
      if (!sigEqual(calc, this.trailerSig)) {
        throw new S3Error('SignatureDoesNotMatch', 'The trailer signature we calculated does not match the signature you provided.');
      }
    }
    // Length, then header claims, then trailer checksums.
    this.digests.verify();
    const verified: Record<string, string> = {};
    for (const [name, alg] of this.trailerAlgs) {
      const value = this.received.get(name)!;
      if (!isValidDigestValue(alg, value)) throw invalidChecksumValue(alg);
      if (this.digests.result(alg).toString('base64') !== value) throw checksumMismatch(alg);
      verified[name] = value;
    }
    this.verifiedTrailers = verified;
  }
}
