import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AwsChunkedDecoder, type ChunkedMode } from '../../src/payload/aws-chunked.js';
import { checksumOf } from '../../src/payload/checksums.js';
import { S3Error } from '../../src/s3/errors.js';
import { encodeChunked, exampleSigning, run, splitAt } from './helpers/chunked.js';

const A64K = Buffer.alloc(65536, 'a');
const A1K = Buffer.alloc(1024, 'a');
const BODY = Buffer.concat([A64K, A1K]);

// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
const STREAMING = {
  seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  sigs: [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ],
};
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
const TRAILERS = {
  seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  sigs: [
    'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
    '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
    '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
  ],
  trailerSig: 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435',
};

function docsBody(sigs: string[], tail: string): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`), A64K, Buffer.from('\r\n'),
    Buffer.from(`400;chunk-signature=${sigs[1]}\r\n`), A1K, Buffer.from('\r\n'),
    Buffer.from(`0;chunk-signature=${sigs[2]}\r\n`), Buffer.from(tail),
  ]);
}

const signedDoc = () => docsBody(STREAMING.sigs, '\r\n');
const signedDecoder = (seed = STREAMING.seed) =>
  new AwsChunkedDecoder({ mode: 'signed', decodedLength: 66560, trailerNames: [], signing: exampleSigning(seed) });
const trailerTail = `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${TRAILERS.trailerSig}\r\n\r\n`;
const trailerDecoder = () =>
  new AwsChunkedDecoder({
    mode: 'signed-trailer',
    decodedLength: 66560,
    trailerNames: ['x-amz-checksum-crc32c'],
    signing: exampleSigning(TRAILERS.seed),
  });

describe('AWS published examples', () => {
  it('sigv4-streaming: verifies the chunk chain and yields 66560 bytes of "a"', async () => {
    const body = signedDoc();
    expect(body.length).toBe(66824); // the example's Content-Length
    const d = signedDecoder();
    const r = await run(d, [body]);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(BODY)).toBe(true);
    expect(d.decodedBytes).toBe(66560);
  });

  it('sigv4-streaming-trailers: chunk chain, trailer signature and crc32c trailer', async () => {
    const d = trailerDecoder();
    const r = await run(d, [docsBody(TRAILERS.sigs, trailerTail)]);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(BODY)).toBe(true);
    expect(d.trailers).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });
  });

  it('sigv4-streaming-trailers as reproduced elsewhere (blank line before trailers, no closing blank line)', async () => {
    const d = trailerDecoder();
    const tail = `\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${TRAILERS.trailerSig}\r\n`;
    const r = await run(d, [docsBody(TRAILERS.sigs, tail)]);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(BODY)).toBe(true);
  });

  it('our test encoder reproduces both published chains byte for byte', () => {
    expect(encodeChunked(BODY, { mode: 'signed', signing: exampleSigning(STREAMING.seed), chunkSizes: [65536, 1024] }).equals(signedDoc())).toBe(true);
    const enc = encodeChunked(BODY, {
      mode: 'signed-trailer',
      signing: exampleSigning(TRAILERS.seed),
      chunkSizes: [65536, 1024],
      trailers: [['x-amz-checksum-crc32c', 'sOO8/Q==']],
    });
    expect(enc.equals(docsBody(TRAILERS.sigs, trailerTail))).toBe(true);
  });

  it('decodes the published body fed one byte at a time', async () => {
    const body = signedDoc();
    const pieces = Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));
    const r = await run(signedDecoder(), pieces);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(BODY)).toBe(true);
  });
});

const SEED = 'a'.repeat(64);

function build(mode: ChunkedMode, data: Buffer, chunkSizes: number[], alg: 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256' = 'crc32') {
  const trailerNames = mode === 'signed' ? [] : [`x-amz-checksum-${alg}`];
  const trailers: [string, string][] = trailerNames.map((n) => [n, checksumOf(alg, data)]);
  const signing = mode === 'unsigned-trailer' ? undefined : exampleSigning(SEED);
  const wire = encodeChunked(data, { mode, signing, chunkSizes, trailers });
  const decoder = () => new AwsChunkedDecoder({ mode, decodedLength: data.length, trailerNames, signing });
  return { wire, decoder, trailers };
}

describe('generated bodies, random split points', () => {
  for (const mode of ['signed', 'signed-trailer', 'unsigned-trailer'] as const) {
    it(`${mode}: decodes to the input`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 5000 }),
          fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 5 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.constantFrom('crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256' as const),
          async (bytes, sizes, cuts, alg) => {
            const data = Buffer.from(bytes);
            const { wire, decoder, trailers } = build(mode, data, sizes, alg);
            const d = decoder();
            const r = await run(d, splitAt(wire, cuts.map((c) => c % (wire.length + 1))));
            expect(r.error).toBeUndefined();
            expect(r.out.equals(data)).toBe(true);
            expect(d.decodedBytes).toBe(data.length);
            expect(d.trailers).toEqual(Object.fromEntries(trailers));
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});

interface Case {
  name: string;
  wire: Buffer;
  decoder: () => AwsChunkedDecoder;
  code: string;
  message?: RegExp;
}

const DATA = Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 31) & 0xff));
const SIZES = [8192, 8192];

function replaceOnce(buf: Buffer, from: string, to: string): Buffer {
  const i = buf.indexOf(from);
  if (i < 0) throw new Error(`no ${from}`);
  return Buffer.concat([buf.subarray(0, i), Buffer.from(to), buf.subarray(i + from.length)]);
}

function cases(): Case[] {
  const signed = build('signed', DATA, SIZES);
  const st = build('signed-trailer', DATA, SIZES);
  const ut = build('unsigned-trailer', DATA, SIZES);
  const firstSig = signed.wire.toString('latin1').match(/chunk-signature=([0-9a-f]{64})/)![1]!;
  const flipped = firstSig.slice(0, 10) + (firstSig[10] === '0' ? '1' : '0') + firstSig.slice(11);
  const lastSig = [...signed.wire.toString('latin1').matchAll(/chunk-signature=([0-9a-f]{64})/g)].at(-1)![1]!;
  const goodCrc = checksumOf('crc32', DATA);
  const badCrc = checksumOf('crc32', Buffer.from('other'));
  const trailerSig = st.wire.toString('latin1').match(/x-amz-trailer-signature:([0-9a-f]{64})/)![1]!;
  const dataStart = signed.wire.indexOf('\r\n') + 2;
  return [
    { name: 'flipped first chunk signature', wire: replaceOnce(signed.wire, firstSig, flipped), decoder: signed.decoder, code: 'SignatureDoesNotMatch' },
    { name: 'flipped final chunk signature', wire: replaceOnce(signed.wire, lastSig, lastSig.replace(/^./, (c) => (c === 'f' ? 'e' : 'f'))), decoder: signed.decoder, code: 'SignatureDoesNotMatch' },
    {
      name: 'flipped data byte (signed)',
      wire: Buffer.concat([signed.wire.subarray(0, dataStart + 100), Buffer.from([signed.wire[dataStart + 100]! ^ 1]), signed.wire.subarray(dataStart + 101)]),
      decoder: signed.decoder,
      code: 'SignatureDoesNotMatch',
    },
    { name: 'flipped trailer signature', wire: replaceOnce(st.wire, trailerSig, trailerSig.replace(/^./, (c) => (c === 'f' ? 'e' : 'f'))), decoder: st.decoder, code: 'SignatureDoesNotMatch' },
    { name: 'signed trailer value altered', wire: replaceOnce(st.wire, goodCrc, badCrc), decoder: st.decoder, code: 'SignatureDoesNotMatch' },
    {
      name: 'wrong trailer crc (unsigned)',
      wire: replaceOnce(ut.wire, goodCrc, badCrc),
      decoder: ut.decoder,
      code: 'BadDigest',
      message: /^The CRC32 you specified did not match the calculated checksum\.$/,
    },
    {
      name: 'flipped data byte (unsigned, caught by the trailer crc)',
      wire: Buffer.concat([ut.wire.subarray(0, 10), Buffer.from([ut.wire[10]! ^ 1]), ut.wire.subarray(11)]),
      decoder: ut.decoder,
      code: 'BadDigest',
    },
    { name: 'malformed trailer crc value', wire: replaceOnce(ut.wire, goodCrc, 'nope'), decoder: ut.decoder, code: 'InvalidRequest' },
    // "0\r\n\r\n" with a trailer declared reads as the optional blank line before trailers that never came
    { name: 'missing trailer', wire: replaceOnce(ut.wire, `x-amz-checksum-crc32:${goodCrc}\r\n`, ''), decoder: ut.decoder, code: 'IncompleteBody' },
    { name: 'missing trailer before the signature', wire: replaceOnce(st.wire, `x-amz-checksum-crc32:${goodCrc}\r\n`, ''), decoder: st.decoder, code: 'InvalidRequest' },
    { name: 'undeclared trailer', wire: replaceOnce(ut.wire, 'x-amz-checksum-crc32:', 'x-amz-checksum-sha1:'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'trailer line without colon', wire: replaceOnce(ut.wire, 'x-amz-checksum-crc32:', 'x-amz-checksum-crc32 '), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'trailer on a signed (no-trailer) body', wire: Buffer.concat([signed.wire.subarray(0, -2), Buffer.from(`x-amz-checksum-crc32:${goodCrc}\r\n\r\n`)]), decoder: signed.decoder, code: 'InvalidRequest' },
    { name: 'truncated in data', wire: signed.wire.subarray(0, 5000), decoder: signed.decoder, code: 'IncompleteBody' },
    { name: 'truncated before final chunk', wire: signed.wire.subarray(0, signed.wire.lastIndexOf('0;chunk-signature')), decoder: signed.decoder, code: 'IncompleteBody' },
    { name: 'truncated: closing CRLF missing (signed)', wire: signed.wire.subarray(0, -2), decoder: signed.decoder, code: 'IncompleteBody' },
    { name: 'truncated inside the trailer line', wire: ut.wire.subarray(0, -6), decoder: ut.decoder, code: 'IncompleteBody' },
    { name: 'bad hex size', wire: replaceOnce(ut.wire, '2000\r\n', '2g00\r\n'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'empty size line', wire: replaceOnce(ut.wire, '2000\r\n', '\r\n'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'chunk extension on unsigned body', wire: replaceOnce(ut.wire, '2000\r\n', '2000;foo=bar\r\n'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'size line with bare LF', wire: replaceOnce(ut.wire, '2000\r\n', '2000\n'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'missing CRLF after chunk data', wire: replaceOnce(ut.wire, '\r\n2000\r\n', '2000\r\n'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'chunk longer than its size says', wire: replaceOnce(ut.wire, '2000\r\n', '1fff\r\n'), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'signed chunk without signature', wire: replaceOnce(signed.wire, `;chunk-signature=${firstSig}`, ''), decoder: signed.decoder, code: 'InvalidRequest' },
    {
      name: 'decoded length larger than body',
      wire: ut.wire,
      decoder: () => new AwsChunkedDecoder({ mode: 'unsigned-trailer', decodedLength: DATA.length + 1, trailerNames: ['x-amz-checksum-crc32'] }),
      code: 'IncompleteBody',
    },
    {
      name: 'decoded length smaller than body',
      wire: ut.wire,
      decoder: () => new AwsChunkedDecoder({ mode: 'unsigned-trailer', decodedLength: DATA.length - 1, trailerNames: ['x-amz-checksum-crc32'] }),
      code: 'IncompleteBody',
    },
    { name: 'trailing garbage', wire: Buffer.concat([ut.wire, Buffer.from('x')]), decoder: ut.decoder, code: 'InvalidRequest' },
    { name: 'trailing CRLF', wire: Buffer.concat([signed.wire, Buffer.from('\r\n')]), decoder: signed.decoder, code: 'InvalidRequest' },
    { name: 'second body after the end', wire: Buffer.concat([ut.wire, ut.wire]), decoder: ut.decoder, code: 'InvalidRequest' },
    {
      name: 'wrong x-amz-checksum header claim on the decoded bytes',
      wire: signed.wire,
      decoder: () =>
        new AwsChunkedDecoder({ mode: 'signed', decodedLength: DATA.length, trailerNames: [], signing: exampleSigning(SEED), expect: { checksums: { sha256: checksumOf('sha256', Buffer.from('x')) } } }),
      code: 'BadDigest',
      message: /SHA256/,
    },
    {
      name: 'wrong Content-MD5 on the decoded bytes',
      wire: signed.wire,
      decoder: () =>
        new AwsChunkedDecoder({ mode: 'signed', decodedLength: DATA.length, trailerNames: [], signing: exampleSigning(SEED), expect: { contentMd5: checksumOf('md5', Buffer.from('x')) } }),
      code: 'BadDigest',
      message: /Content-MD5/,
    },
  ];
}

describe('corruptions: each gets its AWS error and nothing complete leaks', () => {
  for (const c of cases()) {
    it(c.name, async () => {
      for (const pieces of [[c.wire], splitAt(c.wire, [1, 7, 100, 4097, 8200, 8300, 16500, 16600, c.wire.length - 3])]) {
        const r = await run(c.decoder(), pieces);
        expect(r.error).toBeInstanceOf(S3Error);
        expect((r.error as S3Error).code).toBe(c.code);
        if (c.message) expect(r.error!.message).toMatch(c.message);
        // the held-back property: the decoded body never fully left the decoder
        expect(r.emitted).toBeLessThan(DATA.length);
      }
    });
  }
});

describe('construction', () => {
  it('rejects an unsupported trailer name', () => {
    expect(() => new AwsChunkedDecoder({ mode: 'unsigned-trailer', trailerNames: ['x-amz-meta-foo'] })).toThrow(S3Error);
  });
  it('needs signing parameters for signed modes', () => {
    expect(() => new AwsChunkedDecoder({ mode: 'signed', trailerNames: [] })).toThrow();
  });
});
