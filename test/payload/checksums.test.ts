import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { AwsCrc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { AMZ_CHECKSUM_ALGORITHMS, algorithmOfHeader, checksumOf, createChecksum, isValidDigestValue } from '../../src/payload/checksums.js';

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const nine = Buffer.from('123456789');

describe('checksums: published check values ("123456789")', () => {
  // CRC catalogue check values (reveng.sourceforge.io): CRC-32/ISO-HDLC cbf43926,
  // CRC-32/ISCSI e3069283, CRC-64/NVME ae8b14860a799888.
  it('crc32', () => expect(checksumOf('crc32', nine)).toBe(b64('cbf43926')));
  it('crc32c', () => expect(checksumOf('crc32c', nine)).toBe(b64('e3069283')));
  it('crc64nvme', () => expect(checksumOf('crc64nvme', nine)).toBe(b64('ae8b14860a799888')));
  it('crc64nvme of 32 zero bytes', () => expect(checksumOf('crc64nvme', Buffer.alloc(32))).toBe(b64('cf3473434d4ecf3b')));
  it('empty input', () => {
    expect(checksumOf('crc32', Buffer.alloc(0))).toBe('AAAAAA==');
    expect(checksumOf('crc32c', Buffer.alloc(0))).toBe('AAAAAA==');
    expect(checksumOf('crc64nvme', Buffer.alloc(0))).toBe('AAAAAAAAAAA=');
    expect(checksumOf('sha256', Buffer.alloc(0))).toBe(b64('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'));
  });
  it('65 KiB of "a" crc32c is the sigv4-streaming-trailers example value sOO8/Q==', () => {
    expect(checksumOf('crc32c', Buffer.alloc(66560, 'a'))).toBe('sOO8/Q==');
  });
  it('sha1, md5 match node:crypto', () => {
    expect(checksumOf('sha1', nine)).toBe(createHash('sha1').update(nine).digest('base64'));
    expect(checksumOf('md5', nine)).toBe(createHash('md5').update(nine).digest('base64'));
  });
});

describe('checksums agree with the AWS SDK implementations on random data, any split', () => {
  it('crc32c vs @aws-crypto/crc32c, crc64nvme vs @aws-sdk/crc64-nvme', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(3000), { maxLength: 6 }), async (data, cuts) => {
        const buf = Buffer.from(data);
        const points = [...new Set(cuts.map((c) => Math.min(c, buf.length)))].sort((a, b) => a - b);
        const c32 = createChecksum('crc32c');
        const c64 = createChecksum('crc64nvme');
        let prev = 0;
        for (const p of [...points, buf.length]) {
          c32.update(buf.subarray(prev, p));
          c64.update(buf.subarray(prev, p));
          prev = p;
        }
        const ref32 = new AwsCrc32c();
        ref32.update(buf);
        const ref64 = new Crc64Nvme();
        ref64.update(buf);
        expect(c32.digest()).toBe(Buffer.from(await ref32.digest()).toString('base64'));
        expect(c64.digest()).toBe(Buffer.from(await ref64.digest()).toString('base64'));
      }),
      { numRuns: 300 },
    );
  });
});

describe('isValidDigestValue', () => {
  it('requires canonical base64 of the digest size', () => {
    expect(isValidDigestValue('crc32', 'sOO8/Q==')).toBe(true);
    expect(isValidDigestValue('crc32', 'sOO8/Q')).toBe(false);
    expect(isValidDigestValue('crc32', 'sOO8/Q==AA')).toBe(false);
    expect(isValidDigestValue('md5', 'sOO8/Q==')).toBe(false);
    expect(isValidDigestValue('md5', '1B2M2Y8AsgTpgAmY7PhCfg==')).toBe(true);
    expect(isValidDigestValue('md5', '1B2M2Y8AsgTpgAmY7PhCf!==')).toBe(false);
  });
});

describe('algorithmOfHeader', () => {
  it('names the algorithm of x-amz-checksum-<alg> in any case, and nothing else', () => {
    const names = AMZ_CHECKSUM_ALGORITHMS.map((a) => `x-amz-checksum-${a}`);
    const anyCase = fc.constantFrom(...names, 'x-amz-content-sha256', 'x-amz-checksum-type', 'x-amz-checksum-mode', 'x-amz-checksum-algorithm')
      .chain((n) => fc.array(fc.boolean(), { minLength: n.length, maxLength: n.length }).map((up) => [...n].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('')));
    fc.assert(
      fc.property(fc.oneof(anyCase, fc.string({ maxLength: 30 })), (name) => {
        const lower = name.toLowerCase();
        const expected = names.includes(lower) ? lower.slice('x-amz-checksum-'.length) : undefined;
        expect(algorithmOfHeader(name)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    expect(algorithmOfHeader('X-Amz-Checksum-CRC64NVME')).toBe('crc64nvme');
    expect(algorithmOfHeader('x-amz-checksum-sha1')).toBe('sha1');
    expect(algorithmOfHeader('x-amz-checksum-sha')).toBeUndefined();
  });
});
