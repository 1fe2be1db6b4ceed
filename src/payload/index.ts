import type { Transform } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import { type AmzChecksumAlgorithm, algorithmOfHeader } from './checksums.js';
import { lowerCase } from '../s3/names.js';
import { AwsChunkedDecoder, type ChunkSigning, type ChunkedMode } from './aws-chunked.js';
import { BodyDigests, VerifyingStream, type BodyExpectations } from './verify.js';

export type { ChunkSigning, ChunkedMode } from './aws-chunked.js';
export { AwsChunkedDecoder } from './aws-chunked.js';
export { VerifyingStream, BodyDigests, type BodyExpectations } from './verify.js';
export * from './checksums.js';

export type PayloadMode = ChunkedMode | 'plain';

export interface InboundPayload {
  mode: PayloadMode;
  /** pipe the client's request body through this; it emits what to forward */
  body: Transform;
  /** byte length of what `body` emits, when the client declared it */
  outboundLength?: number;
  /** Content-Encoding to forward: the client's value without aws-chunked, undefined when nothing is left */
  contentEncoding?: string;
  /** verified trailer checksums (x-amz-checksum-<alg> → base64); empty before the body ended successfully */
  trailerChecksums(): Record<string, string>;
  /** plain bodies: the checks, for callers that read a small body whole instead of streaming it */
  digests?: BodyDigests;
}

const STREAMING_MODES: Record<string, ChunkedMode> = {
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'signed',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'signed-trailer',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'unsigned-trailer',
};

// AWS's own wording (InvalidArgument, ArgumentName x-amz-content-sha256).
const BAD_CONTENT_SHA256 =
  'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, ' +
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, ' +
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.';

function parseLength(value: string, header: string): number {
  if (!/^\d{1,16}$/.test(value.trim()) || Number(value) > Number.MAX_SAFE_INTEGER) {
    throw new S3Error('InvalidArgument', `Invalid ${header}`, { ArgumentName: header, ArgumentValue: value });
  }
  return Number(value.trim());
}

const NO_ENCODINGS: readonly string[] = [];

const BODY_HEADERS = new Set([
  'x-amz-content-sha256', 'content-encoding', 'content-md5', 'x-amz-trailer', 'x-amz-decoded-content-length', 'content-length',
]);

/**
 * Chooses and configures the body pipeline for an inbound request from its
 * headers. Throws the S3Error AWS would answer for headers that cannot
 * describe a valid body, before any byte of it is read.
 * `signing` is required for the STREAMING-AWS4-HMAC-SHA256-* modes; authenticate/
 * provides it after verifying the seed (Authorization header) signature.
 */
export function inboundPayload(headers: Record<string, string | string[] | undefined>, signing?: ChunkSigning): InboundPayload {
  // Only the headers that describe the body, in one pass; repeated ones joined as HTTP reads them,
  // and of two spellings of one name the last wins. Held in locals: no object of them per request,
  // and no checksum object without a checksum header.
  let sha: string | undefined;
  let encodingHeader: string | undefined;
  let contentMd5: string | undefined;
  let trailerHeader: string | undefined;
  let decoded: string | undefined;
  let cl: string | undefined;
  let checksums: Partial<Record<AmzChecksumAlgorithm, string>> | undefined;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const k = lowerCase(name);
    if (!BODY_HEADERS.has(k) && !k.startsWith('x-amz-checksum-')) continue;
    const value = Array.isArray(v) ? v.join(',') : v;
    switch (k) {
      case 'x-amz-content-sha256': sha = value; break;
      case 'content-encoding': encodingHeader = value; break;
      case 'content-md5': contentMd5 = value; break;
      case 'x-amz-trailer': trailerHeader = value; break;
      case 'x-amz-decoded-content-length': decoded = value; break;
      case 'content-length': cl = value; break;
      default: {
        const alg = algorithmOfHeader(k);
        if (alg) (checksums ??= {})[alg] = value.trim();
      }
    }
  }
  sha = sha?.trim();
  // Most uploads have no Content-Encoding: no arrays for them.
  const encodings = encodingHeader === undefined ? NO_ENCODINGS : encodingHeader
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const rest = encodings.length === 0 ? encodings : encodings.filter((e) => e.toLowerCase() !== 'aws-chunked');
  const contentEncoding = rest.length > 0 ? rest.join(', ') : undefined;

  if (sha?.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new S3Error('NotImplemented', 'SigV4A (STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD) chunk signatures are not supported.');
  }
  const mode = sha !== undefined ? STREAMING_MODES[sha] : undefined;

  if (mode) {
    // MinIO answers MissingContentLength here, matching AWS.
    if (decoded === undefined) throw new S3Error('MissingContentLength');
    const decodedLength = parseLength(decoded, 'x-amz-decoded-content-length');
    const trailerNames = (trailerHeader ?? '')
      .split(',')
      .map((n) => n.trim().toLowerCase())
      .filter((n) => n !== '');
    if (mode === 'signed' && trailerNames.length > 0) {
      throw new S3Error('InvalidRequest', 'x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.');
    }
    if (trailerNames.length > 1 || trailerNames.some((n) => !algorithmOfHeader(n))) {
      throw new S3Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    }
    if (trailerNames.length > 0 && checksums !== undefined) {
      throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    }
    if (mode !== 'unsigned-trailer' && !signing) {
      // Chunk signatures chain from a SigV4 Authorization header's signature; SigV2, presigned and
      // anonymous requests have no seed to check them against. A client error, not ours.
      throw new S3Error('InvalidRequest', `${sha} requires AWS Signature Version 4 header authentication`);
    }
    const decoder = new AwsChunkedDecoder({
      mode,
      decodedLength,
      trailerNames,
      signing,
      expect: { checksums, contentMd5 },
    });
    return {
      mode,
      body: decoder,
      outboundLength: decodedLength,
      contentEncoding,
      trailerChecksums: () => decoder.trailers,
    };
  }

  if (sha !== undefined && sha !== 'UNSIGNED-PAYLOAD' && !/^[0-9a-fA-F]{64}$/.test(sha)) {
    throw new S3Error('InvalidArgument', BAD_CONTENT_SHA256, { ArgumentName: 'x-amz-content-sha256', ArgumentValue: sha });
  }
  if (rest.length < encodings.length) {
    // An aws-chunked body needs a STREAMING-* x-amz-content-sha256 to say how its chunks are signed.
    throw new S3Error('InvalidArgument', BAD_CONTENT_SHA256, { ArgumentName: 'x-amz-content-sha256', ArgumentValue: sha ?? '' });
  }
  if (trailerHeader !== undefined && trailerHeader.trim() !== '') {
    throw new S3Error('InvalidRequest', 'x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.');
  }
  const length = cl !== undefined ? parseLength(cl, 'content-length') : undefined;
  const expect: BodyExpectations = {
    sha256Hex: sha !== undefined && sha !== 'UNSIGNED-PAYLOAD' ? sha : undefined,
    contentMd5,
    checksums,
    length,
  };
  // Claims are checked now (a malformed one fails before any byte is read); the stream is made on
  // first use, since a small body is verified whole with `digests` and never needs it.
  const digests = new BodyDigests(expect);
  return new PlainPayload(expect, digests, length, contentEncoding);
}

/** A plain body's pipeline; its verifying stream is made on first use (a class, for the reason ClientBody in listen/body.ts gives). */
class PlainPayload implements InboundPayload {
  readonly mode = 'plain';
  readonly outboundLength?: number;
  readonly contentEncoding?: string;
  private stream?: VerifyingStream;

  constructor(private readonly expect: BodyExpectations, readonly digests: BodyDigests, length: number | undefined, contentEncoding: string | undefined) {
    if (length !== undefined) this.outboundLength = length;
    if (contentEncoding !== undefined) this.contentEncoding = contentEncoding;
  }

  get body(): VerifyingStream {
    return (this.stream ??= new VerifyingStream(this.expect));
  }

  trailerChecksums(): Record<string, string> {
    return {};
  }
}
