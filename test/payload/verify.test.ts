import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { BodyDigests, VerifyingStream } from '../../src/payload/verify.js';
import { inboundPayload } from '../../src/payload/index.js';
import { checksumOf } from '../../src/payload/checksums.js';
import { S3Error } from '../../src/s3/errors.js';
import { encodeChunked, exampleSigning, run, splitAt } from './helpers/chunked.js';

const DATA = Buffer.from(Array.from({ length: 30000 }, (_, i) => (i * 13) & 0xff));
const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const pieces = (b: Buffer) => splitAt(b, [1, 1000, 8192, 20000]);

async function expectError(t: VerifyingStream | ReturnType<typeof inboundPayload>['body'], body: Buffer, code: string, fullLength = DATA.length) {
  const r = await run(t, pieces(body));
  expect(r.error).toBeInstanceOf(S3Error);
  expect((r.error as S3Error).code).toBe(code);
  expect(r.emitted).toBeLessThan(fullLength);
  return r.error as S3Error;
}

describe('VerifyingStream', () => {
  it('passes a body whose every claim holds, in any split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4000 }), fc.array(fc.nat(4000), { maxLength: 8 }), async (bytes, cuts) => {
        const b = Buffer.from(bytes);
        const v = new VerifyingStream({
          sha256Hex: sha256hex(b),
          contentMd5: checksumOf('md5', b),
          checksums: { crc64nvme: checksumOf('crc64nvme', b) },
          length: b.length,
        });
        const r = await run(v, splitAt(b, cuts));
        expect(r.error).toBeUndefined();
        expect(r.out.equals(b)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('x-amz-content-sha256 mismatch → XAmzContentSHA256Mismatch with both hashes', async () => {
    const claimed = sha256hex(Buffer.from('other'));
    const e = await expectError(new VerifyingStream({ sha256Hex: claimed }), DATA, 'XAmzContentSHA256Mismatch');
    expect(e.detail).toEqual({ ClientComputedContentSHA256: claimed, S3ComputedContentSHA256: sha256hex(DATA) });
  });

  it('wrong Content-MD5 → BadDigest', async () => {
    await expectError(new VerifyingStream({ contentMd5: checksumOf('md5', Buffer.from('x')) }), DATA, 'BadDigest');
  });

  it('invalid Content-MD5 → InvalidDigest, before any byte', () => {
    for (const bad of ['nope', 'AAAA', checksumOf('sha1', DATA)]) {
      expect(() => new VerifyingStream({ contentMd5: bad })).toThrow(expect.objectContaining({ code: 'InvalidDigest' }));
    }
  });

  for (const alg of ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const) {
    it(`wrong x-amz-checksum-${alg} → BadDigest naming ${alg.toUpperCase()}`, async () => {
      const e = await expectError(new VerifyingStream({ checksums: { [alg]: checksumOf(alg, Buffer.from('x')) } }), DATA, 'BadDigest');
      expect(e.message).toBe(`The ${alg.toUpperCase()} you specified did not match the calculated checksum.`);
    });
  }

  it('malformed checksum header value → InvalidRequest', () => {
    expect(() => new VerifyingStream({ checksums: { crc32: 'AAAAAAAA' } })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
  });

  it('two checksum headers → InvalidRequest', () => {
    expect(() => new VerifyingStream({ checksums: { crc32: 'AAAAAA==', crc32c: 'AAAAAA==' } })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
  });

  it('short body → IncompleteBody', async () => {
    await expectError(new VerifyingStream({ length: DATA.length + 1, sha256Hex: sha256hex(DATA) }), DATA, 'IncompleteBody');
  });

  it('long body → IncompleteBody, as soon as it overruns', async () => {
    await expectError(new VerifyingStream({ length: 100 }), DATA, 'IncompleteBody');
  });

  it('sha256 claimed twice (hex and x-amz-checksum-sha256) is hashed once and both checked', async () => {
    const v = new VerifyingStream({ sha256Hex: sha256hex(DATA), checksums: { sha256: checksumOf('sha256', Buffer.from('x')) } });
    await expectError(v, DATA, 'BadDigest');
  });
});

describe('inboundPayload', () => {
  const plain = (h: Record<string, string>) => inboundPayload({ 'content-length': String(DATA.length), ...h });

  it('plain body with hex sha256 and checksum headers', async () => {
    const p = plain({ 'x-amz-content-sha256': sha256hex(DATA), 'x-amz-checksum-crc32': checksumOf('crc32', DATA), 'content-md5': checksumOf('md5', DATA) });
    expect(p.mode).toBe('plain');
    expect(p.outboundLength).toBe(DATA.length);
    const r = await run(p.body, pieces(DATA));
    expect(r.error).toBeUndefined();
    expect(r.out.equals(DATA)).toBe(true);
  });

  it('plain body, wrong sha256 → XAmzContentSHA256Mismatch', async () => {
    await expectError(plain({ 'x-amz-content-sha256': sha256hex(Buffer.from('x')) }).body, DATA, 'XAmzContentSHA256Mismatch');
  });

  it('plain body, wrong checksum header → BadDigest', async () => {
    await expectError(plain({ 'X-Amz-Checksum-CRC32C': checksumOf('crc32c', Buffer.from('x')) }).body, DATA, 'BadDigest');
  });

  it('plain body, truncated → IncompleteBody', async () => {
    await expectError(plain({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }).body, DATA.subarray(0, 1000), 'IncompleteBody');
  });

  it('unknown x-amz-content-sha256 → InvalidArgument naming the header', () => {
    expect(() => plain({ 'x-amz-content-sha256': 'STREAMING-SOMETHING' })).toThrow(
      expect.objectContaining({ code: 'InvalidArgument', detail: expect.objectContaining({ ArgumentName: 'x-amz-content-sha256' }) }),
    );
    expect(() => plain({ 'x-amz-content-sha256': 'abc' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('aws-chunked without x-amz-decoded-content-length → MissingContentLength', () => {
    expect(() =>
      inboundPayload({ 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-trailer': 'x-amz-checksum-crc32' }),
    ).toThrow(expect.objectContaining({ code: 'MissingContentLength' }));
  });

  it('bad x-amz-decoded-content-length → InvalidArgument', () => {
    expect(() =>
      inboundPayload({ 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '-1' }),
    ).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('unsupported x-amz-trailer → InvalidRequest', () => {
    expect(() =>
      inboundPayload({ 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '1', 'x-amz-trailer': 'x-amz-meta-a' }),
    ).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
  });

  it('aws-chunked Content-Encoding with a hex sha256 → InvalidArgument', () => {
    expect(() => plain({ 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': sha256hex(DATA) })).toThrow(
      expect.objectContaining({ code: 'InvalidArgument' }),
    );
  });

  it('SigV4A streaming → NotImplemented', () => {
    expect(() => inboundPayload({ 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD', 'x-amz-decoded-content-length': '1' })).toThrow(
      expect.objectContaining({ code: 'NotImplemented' }),
    );
  });

  it('signed-trailer body: decodes, strips aws-chunked from Content-Encoding, exposes the trailer', async () => {
    const seed = 'b'.repeat(64);
    const wire = encodeChunked(DATA, {
      mode: 'signed-trailer',
      signing: exampleSigning(seed),
      chunkSizes: [8192],
      trailers: [['x-amz-checksum-sha256', checksumOf('sha256', DATA)]],
    });
    const p = inboundPayload(
      {
        'content-encoding': 'aws-chunked,gzip',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': String(DATA.length),
        'x-amz-trailer': 'x-amz-checksum-sha256',
        'content-length': String(wire.length),
      },
      exampleSigning(seed),
    );
    expect(p.mode).toBe('signed-trailer');
    expect(p.contentEncoding).toBe('gzip');
    expect(p.trailerChecksums()).toEqual({});
    const r = await run(p.body, pieces(wire));
    expect(r.error).toBeUndefined();
    expect(r.out.equals(DATA)).toBe(true);
    expect(p.trailerChecksums()).toEqual({ 'x-amz-checksum-sha256': checksumOf('sha256', DATA) });
  });

  it('signed aws-chunked with an x-amz-checksum header checks it against the decoded bytes', async () => {
    const seed = 'c'.repeat(64);
    const wire = encodeChunked(DATA, { mode: 'signed', signing: exampleSigning(seed), chunkSizes: [8192] });
    const h = {
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-decoded-content-length': String(DATA.length),
    };
    const ok = inboundPayload({ ...h, 'x-amz-checksum-crc32': checksumOf('crc32', DATA) }, exampleSigning(seed));
    expect((await run(ok.body, pieces(wire))).error).toBeUndefined();
    const bad = inboundPayload({ ...h, 'x-amz-checksum-crc32': checksumOf('crc32', Buffer.from('x')) }, exampleSigning(seed));
    await expectError(bad.body, wire, 'BadDigest');
  });
});

describe('BodyDigests.whole (a small body checked in one call)', () => {
  const ALGS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
  const outcome = (f: () => void) => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return (e as S3Error).code + ': ' + (e as S3Error).message;
    }
  };

  it('reaches the verdict streaming reaches, for true and false claims of every kind', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }), fc.constantFrom(...ALGS), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: -2, max: 2 }),
        (bytes, alg, shaTrue, md5True, checksumTrue, lengthOff) => {
          const b = Buffer.from(bytes);
          const other = Buffer.concat([b, Buffer.from('x')]);
          const expect_ = {
            sha256Hex: sha256hex(shaTrue ? b : other),
            contentMd5: checksumOf('md5', md5True ? b : other),
            checksums: { [alg]: checksumOf(alg, checksumTrue ? b : other) },
            length: Math.max(0, b.length + lengthOff),
          };
          const streamed = outcome(() => {
            const d = new BodyDigests(expect_);
            for (const piece of splitAt(b, [7, 1000])) d.update(piece);
            d.verify();
          });
          const whole = outcome(() => new BodyDigests(expect_).whole(b));
          expect(whole).toBe(streamed);
          if (shaTrue && md5True && checksumTrue && lengthOff === 0) expect(whole).toBe('ok');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the digests a hasher gives', () => {
    const d = new BodyDigests({ sha256Hex: sha256hex(DATA), contentMd5: checksumOf('md5', DATA) }, ['crc32c', 'sha1']);
    d.whole(DATA);
    expect(d.result('sha256').toString('hex')).toBe(sha256hex(DATA));
    expect(d.result('md5').toString('base64')).toBe(checksumOf('md5', DATA));
    expect(d.result('crc32c').toString('base64')).toBe(checksumOf('crc32c', DATA));
    expect(d.result('sha1').toString('base64')).toBe(checksumOf('sha1', DATA));
  });
});
