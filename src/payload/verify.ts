import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import {
  type AmzChecksumAlgorithm,
  type Checksum,
  type ChecksumAlgorithm,
  createChecksum,
  digestBytesOf,
  isValidDigestValue,
} from './checksums.js';

/** What the client claimed about the body, from its headers (all optional). */
export interface BodyExpectations {
  /** lowercase or uppercase hex of `x-amz-content-sha256` (a real hash, not a STREAMING-* keyword) */
  sha256Hex?: string;
  /** the `Content-MD5` header, base64 */
  contentMd5?: string;
  /** `x-amz-checksum-<alg>` header values, base64 */
  checksums?: Partial<Record<AmzChecksumAlgorithm, string>>;
  /** exact number of body bytes */
  length?: number;
}

/** AWS names the algorithm in upper case in this message (e.g. "The CRC32 you specified ..."). */
export function checksumMismatch(alg: AmzChecksumAlgorithm): S3Error {
  return new S3Error('BadDigest', `The ${alg.toUpperCase()} you specified did not match the calculated checksum.`);
}

export function invalidChecksumValue(alg: AmzChecksumAlgorithm): S3Error {
  return new S3Error('InvalidRequest', `Value for x-amz-checksum-${alg} header is invalid.`);
}

// The counts only go to our own logs (err.cause); AWS's document carries none.
export function incompleteBody(expected: number, received: number): S3Error {
  const e = new S3Error('IncompleteBody');
  (e as { cause?: unknown }).cause = { expected, received };
  return e;
}

/**
 * Every digest the client asked us to check, computed in one pass: when two
 * claims need the same algorithm (x-amz-content-sha256 and x-amz-checksum-sha256)
 * they share one hasher, so each byte is hashed once per algorithm.
 */
const NO_ALGORITHMS: readonly ChecksumAlgorithm[] = [];

export class BodyDigests {
  // Made at the first algorithm as a one-element array, not pushed into an empty one: a push grows
  // an empty array's store to 17 slots (152 B), and a body needs one or two.
  private algs: ChecksumAlgorithm[] = [];
  // One per entry of `algs`, made when first needed: a body checked whole (`whole`) never needs them.
  private hashers: Checksum[] | undefined;
  // The final digests, by the index of their algorithm in `algs` (a Map measured 0.3 KiB per body).
  private results: (Buffer | undefined)[] = [];
  bytes = 0;

  /** Throws the AWS error for malformed claims (InvalidDigest, InvalidRequest) before any byte is read. */
  constructor(
    private readonly expect: BodyExpectations,
    extra: readonly ChecksumAlgorithm[] = NO_ALGORITHMS,
  ) {
    if (expect.contentMd5 !== undefined && !isValidDigestValue('md5', expect.contentMd5.trim())) {
      throw new S3Error('InvalidDigest');
    }
    let claimed: AmzChecksumAlgorithm | undefined;
    for (const alg in expect.checksums) {
      if (claimed !== undefined) {
        throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
      }
      claimed = alg as AmzChecksumAlgorithm;
    }
    if (claimed !== undefined && !isValidDigestValue(claimed, expect.checksums![claimed]!)) throw invalidChecksumValue(claimed);
    if (expect.sha256Hex !== undefined && !/^[0-9a-fA-F]{64}$/.test(expect.sha256Hex)) {
      throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-content-sha256', ArgumentValue: expect.sha256Hex });
    }
    for (const alg of extra) this.need(alg);
    if (expect.sha256Hex !== undefined) this.need('sha256');
    if (expect.contentMd5 !== undefined) this.need('md5');
    if (claimed !== undefined) this.need(claimed);
  }

  private need(alg: ChecksumAlgorithm): void {
    if (this.algs.length === 0) this.algs = [alg];
    else if (!this.algs.includes(alg)) this.algs.push(alg);
  }

  /** Throws IncompleteBody as soon as the body overruns the declared length. */
  update(buf: Uint8Array): void {
    this.bytes += buf.length;
    if (this.expect.length !== undefined && this.bytes > this.expect.length) {
      throw incompleteBody(this.expect.length, this.bytes);
    }
    const hashers = this.made();
    for (let i = 0; i < hashers.length; i++) hashers[i]!.update(buf);
  }

  private made(): Checksum[] {
    return (this.hashers ??= this.algs.map((alg) => createChecksum(alg)));
  }

  /**
   * The whole body at once, then every claim checked (verify): each digest in one call, with no
   * hasher objects, which for a small body cost as much as the hashing (docs/performance.md).
   */
  whole(buf: Uint8Array): void {
    if (this.hashers || this.bytes > 0) {
      this.update(buf);
    } else {
      this.bytes = buf.length;
      const algs = this.algs;
      const results = new Array<Buffer | undefined>(algs.length);
      for (let i = 0; i < algs.length; i++) results[i] = digestBytesOf(algs[i]!, buf);
      this.results = results;
    }
    this.verify();
  }

  /** The final digest of an algorithm this set computes (memoized: a digest can be taken once). */
  result(alg: ChecksumAlgorithm): Buffer {
    const i = this.algs.indexOf(alg);
    if (i < 0) throw new Error(`digest ${alg} was not requested`);
    return (this.results[i] ??= this.made()[i]!.digestBytes());
  }

  /** At end of body: length first (a short body also fails every hash), then each claim. */
  verify(): void {
    const e = this.expect;
    if (e.length !== undefined && this.bytes !== e.length) throw incompleteBody(e.length, this.bytes);
    if (e.sha256Hex !== undefined) {
      const got = this.result('sha256').toString('hex');
      // Most clients send it in lower case: no lower-cased copy of it for them.
      if (got !== e.sha256Hex && got !== e.sha256Hex.toLowerCase()) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
          ClientComputedContentSHA256: e.sha256Hex,
          S3ComputedContentSHA256: got,
        });
      }
    }
    if (e.contentMd5 !== undefined && this.result('md5').toString('base64') !== e.contentMd5.trim()) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    for (const alg in e.checksums) {
      const a = alg as AmzChecksumAlgorithm;
      if (this.result(a).toString('base64') !== e.checksums[a]) throw checksumMismatch(a);
    }
  }
}

/**
 * Pass-through that verifies a plain (not aws-chunked) body. It always holds
 * back the most recent chunk and releases it only after every claim verified,
 * so a failing body reaches the provider short of its Content-Length and the
 * provider stores nothing.
 */
export class VerifyingStream extends Transform {
  private held: Buffer | null = null;
  private readonly digests: BodyDigests;

  constructor(expect: BodyExpectations) {
    super();
    this.digests = new BodyDigests(expect);
  }

  get bytes(): number {
    return this.digests.bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length === 0) return cb();
    try {
      this.digests.update(chunk);
    } catch (e) {
      return cb(e as Error);
    }
    if (this.held) this.push(this.held);
    this.held = chunk;
    cb();
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.digests.verify();
    } catch (e) {
      this.held = null;
      return cb(e as Error);
    }
    if (this.held) this.push(this.held);
    this.held = null;
    cb();
  }
}
