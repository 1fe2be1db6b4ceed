import { createHash, hash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { crc32cUpdate, crc64nvmeUpdate, type Crc64State } from './crc.js';
import { lowerCase } from '../s3/names.js';

/** The `x-amz-checksum-*` algorithms S3 accepts, plus md5 for Content-MD5. */
export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256' | 'md5';

/** The algorithms that have an `x-amz-checksum-<alg>` header / trailer. */
export const AMZ_CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type AmzChecksumAlgorithm = (typeof AMZ_CHECKSUM_ALGORITHMS)[number];

/** Raw digest size in bytes: a header value must be the base64 of exactly this many bytes. */
export const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  crc32: 4,
  crc32c: 4,
  crc64nvme: 8,
  sha1: 20,
  sha256: 32,
  md5: 16,
};

export interface Checksum {
  readonly algorithm: ChecksumAlgorithm;
  update(buf: Uint8Array): void;
  /** Raw digest bytes (CRCs big-endian, as S3 puts them on the wire). Call once. */
  digestBytes(): Buffer;
  /** base64 of digestBytes(), the form of `x-amz-checksum-*` and Content-MD5. Call once. */
  digest(): string;
}

export function checksumHeaderName(alg: AmzChecksumAlgorithm): string {
  return `x-amz-checksum-${alg}`;
}

const ALGORITHM_OF_HEADER = new Map<string, AmzChecksumAlgorithm>(AMZ_CHECKSUM_ALGORITHMS.map((a) => [`x-amz-checksum-${a}`, a]));

// The shortest and longest checksum header names (x-amz-checksum-sha1, x-amz-checksum-crc64nvme).
const SHORTEST = 19;
const LONGEST = 24;

/**
 * `x-amz-checksum-crc32` → `crc32`; undefined for anything that is not a checksum header. Asked
 * of every header of every upload, most of them lower case already and of another length: no new
 * string and, for most, not even a lookup.
 */
export function algorithmOfHeader(name: string): AmzChecksumAlgorithm | undefined {
  if (name.length < SHORTEST || name.length > LONGEST) return undefined;
  return ALGORITHM_OF_HEADER.get(name) ?? ALGORITHM_OF_HEADER.get(lowerCase(name));
}

/** True when `value` is canonical base64 of a digest of `alg`'s size. */
export function isValidDigestValue(alg: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return false;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === DIGEST_BYTES[alg] && bytes.toString('base64') === value;
}

class NodeHash implements Checksum {
  private readonly h: Hash;
  constructor(readonly algorithm: 'sha1' | 'sha256' | 'md5') {
    this.h = createHash(algorithm);
  }
  update(buf: Uint8Array): void {
    this.h.update(buf);
  }
  digestBytes(): Buffer {
    return this.h.digest();
  }
  digest(): string {
    return this.digestBytes().toString('base64');
  }
}

// zlib.crc32 is in node >= 20.15 / 22.2; @types/node 20 may predate it.
const zlibCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
if (typeof zlibCrc32 !== 'function') throw new Error('s3gate needs node >= 20.15 for zlib.crc32');

class Crc32 implements Checksum {
  readonly algorithm = 'crc32' as const;
  private v = 0;
  update(buf: Uint8Array): void {
    this.v = zlibCrc32!(buf, this.v);
  }
  digestBytes(): Buffer {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE(this.v >>> 0, 0);
    return out;
  }
  digest(): string {
    return this.digestBytes().toString('base64');
  }
}

class Crc32c implements Checksum {
  readonly algorithm = 'crc32c' as const;
  private c = 0xffffffff;
  update(buf: Uint8Array): void {
    this.c = crc32cUpdate(this.c, buf);
  }
  digestBytes(): Buffer {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE((this.c ^ 0xffffffff) >>> 0, 0);
    return out;
  }
  digest(): string {
    return this.digestBytes().toString('base64');
  }
}

class Crc64Nvme implements Checksum {
  readonly algorithm = 'crc64nvme' as const;
  private readonly s: Crc64State = { hi: 0xffffffff, lo: 0xffffffff };
  update(buf: Uint8Array): void {
    crc64nvmeUpdate(this.s, buf);
  }
  digestBytes(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE((this.s.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.s.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
  digest(): string {
    return this.digestBytes().toString('base64');
  }
}

export function createChecksum(alg: ChecksumAlgorithm): Checksum {
  switch (alg) {
    case 'crc32':
      return new Crc32();
    case 'crc32c':
      return new Crc32c();
    case 'crc64nvme':
      return new Crc64Nvme();
    case 'sha1':
    case 'sha256':
    case 'md5':
      return new NodeHash(alg);
  }
}

/** Raw digest bytes of a whole body in one call: no hasher object for the hashes (node's one-shot crypto.hash). */
export function digestBytesOf(alg: ChecksumAlgorithm, data: Uint8Array): Buffer {
  if (alg === 'sha256' || alg === 'sha1' || alg === 'md5') return hash(alg, data, 'buffer') as unknown as Buffer;
  const c = createChecksum(alg);
  c.update(data);
  return c.digestBytes();
}

/** base64 of digestBytesOf: the form of `x-amz-checksum-*` and Content-MD5 (tests build their claims with it). */
export function checksumOf(alg: ChecksumAlgorithm, data: Uint8Array): string {
  return digestBytesOf(alg, data).toString('base64');
}
