// What the copier checks a copy against. The bytes are hashed as they are read from the
// source, in order, and the result must be what the source says the object is: the MD5 of the
// bytes for a single-part ETag, or S3's composite (the MD5 of the parts' MD5s, `-N`) for a
// multipart ETag. A byte damaged between the source and s3gate therefore fails the copy before
// the destination commits it; the destination's own answers (Content-MD5, part ETags) cover the
// way from s3gate to it.
import { createHash, type Hash } from 'node:crypto';
import { isMultipartEtag } from './plan.js';

const MiB = 1024 * 1024;
export const isMd5Etag = (etag: string): boolean => /^[0-9a-f]{32}$/i.test(etag);

/** What the check concluded: against the source's own word, or nothing to check against. */
export type Proof = { verified: true; by: 'md5' | 'composite' } | { verified: false; reason: string };

export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

// Part sizes the usual tools upload with: the AWS CLI and boto3 (8 MiB), the SDKs for Go, Java
// and JavaScript (5 MiB), s3cmd (15 MiB), mc and s3gate (16 MiB), and their round multiples.
const COMMON = [8, 5, 16, 15, 10, 32, 64, 100, 128, 25, 50, 6, 12, 20, 256, 512].map((m) => m * MiB);
const MAX_LAYOUTS = 8;

/**
 * Part sizes that could have produced a `-N` ETag for `size` bytes: the one the source told
 * (HEAD with partNumber=1) first, then the usual ones, then whole MiB from the smallest
 * possible. All but the last part have the same size, as every uploader above makes them.
 */
export function candidateLayouts(size: number, parts: number, hint?: number): number[] {
  if (parts <= 1) return [Math.max(size, 1)];
  const fits = (p: number) => p > 0 && Math.ceil(size / p) === parts;
  const out: number[] = [];
  const add = (p: number) => {
    if (out.length < MAX_LAYOUTS && fits(p) && !out.includes(p)) out.push(p);
  };
  if (hint) add(hint);
  COMMON.forEach(add);
  for (let p = Math.ceil(size / parts / MiB) * MiB; fits(p) && out.length < MAX_LAYOUTS; p += MiB) add(p);
  add(Math.ceil(size / parts));
  return out;
}

/** One guessed part layout, hashed part by part as the bytes go by. */
class Composite {
  private part: Hash = createHash('md5');
  private inPart = 0;
  private readonly digests: Buffer[] = [];
  constructor(readonly partSize: number) {}
  copy(): Composite {
    const c = new Composite(this.partSize);
    c.part = this.part.copy();
    c.inPart = this.inPart;
    c.digests.push(...this.digests);
    return c;
  }
  update(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, this.partSize - this.inPart);
      this.part.update(chunk.subarray(off, off + take));
      this.inPart += take;
      off += take;
      if (this.inPart === this.partSize) this.cut();
    }
  }
  private cut(): void {
    this.digests.push(this.part.digest());
    this.part = createHash('md5');
    this.inPart = 0;
  }
  etag(): string {
    if (this.inPart > 0 || this.digests.length === 0) this.cut();
    return `${createHash('md5').update(Buffer.concat(this.digests)).digest('hex')}-${this.digests.length}`;
  }
}

/** The whole object's bytes, in order, against the source's ETag. */
export class SourceDigest {
  private md5: Hash | undefined;
  private layouts: Composite[];
  private bytes = 0;

  constructor(readonly sourceEtag: string, readonly size: number, hint?: number) {
    const etag = sourceEtag.toLowerCase();
    this.md5 = isMd5Etag(etag) ? createHash('md5') : undefined;
    const parts = isMultipartEtag(etag) ? Number(/-(\d+)$/.exec(etag)![1]) : 0;
    this.layouts = parts ? candidateLayouts(size, parts, hint).map((p) => new Composite(p)) : [];
  }

  /** The state so far, to continue on: a part read that fails halfway is retried from a copy. */
  copy(): SourceDigest {
    const d = new SourceDigest(this.sourceEtag, this.size);
    d.md5 = this.md5?.copy();
    d.layouts = this.layouts.map((l) => l.copy());
    d.bytes = this.bytes;
    return d;
  }

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.md5?.update(chunk);
    for (const l of this.layouts) l.update(chunk);
  }

  /** Throws when the bytes read are not the source's object; says so when nothing could tell. */
  check(): Proof {
    const etag = this.sourceEtag.toLowerCase();
    if (this.bytes !== this.size) throw new IntegrityError(`read ${this.bytes} bytes from the source, expected ${this.size}`);
    if (this.md5) {
      const got = this.md5.digest('hex');
      if (got !== etag) throw new IntegrityError(`the bytes read from the source hash to MD5 ${got}, its ETag is ${etag}: damaged on the way`);
      return { verified: true, by: 'md5' };
    }
    if (this.layouts.length) {
      const seen = this.layouts.map((l) => l.etag());
      if (seen.includes(etag)) return { verified: true, by: 'composite' };
      throw new IntegrityError(`the bytes read from the source match its multipart ETag ${etag} under none of the part sizes tried (${this.layouts.map((l) => l.partSize).join(', ')}): damaged on the way, or uploaded with unequal parts`);
    }
    return { verified: false, reason: "the source's ETag is not the MD5 of its bytes (SSE-KMS, SSE-C or a provider's own format)" };
  }
}
