// A small body s3gate wrote anew for the provider (DeleteObjects' keys inside the grant, a
// CreateBucket's location): it is signed with its own payload hash and Content-MD5, and the
// client's checksums, which were of other bytes, are not passed on.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** The body as it goes upstream: what send() reads of a body. */
export interface WholeXmlBody {
  readonly stream: Readable;
  readonly buffer: Buffer;
  readonly length: number;
  readonly headers: Record<string, string | null>;
  /** hex SHA-256 of `buffer`: the payload hash to sign, as the client's was of other bytes */
  readonly sha256: string;
}

class ReplacedBody implements WholeXmlBody {
  readonly length: number;
  readonly sha256: string;
  private made?: Readable;
  constructor(readonly buffer: Buffer, readonly headers: Record<string, string | null>) {
    this.length = buffer.length;
    this.sha256 = createHash('sha256').update(buffer).digest('hex');
  }
  get stream(): Readable {
    return (this.made ??= Readable.from([this.buffer]));
  }
}

/**
 * `buf` in place of the client's body. `outbound`: the header changes the client's body already
 * made (kept); `request`: the client's headers, whose checksums are dropped.
 */
export function replacedBody(buf: Buffer, outbound: Record<string, string | null>, request: Record<string, unknown>): WholeXmlBody {
  const out: Record<string, string | null> = { ...outbound };
  for (const name in request) if (name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm') out[name] = null;
  out['content-md5'] = createHash('md5').update(buf).digest('base64');
  return new ReplacedBody(buf, out);
}
