// Client side of STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed aws-chunked), written from the AWS
// docs ("Transferring Payload in Multiple Chunks", sigv4-streaming.html), independently of
// src/resign/chunked.ts: each chunk is framed as
//   hex(size);chunk-signature=<sig>\r\n<data>\r\n     ... and finally   0;chunk-signature=<sig>\r\n\r\n
// where sig = HMAC(kSigning, "AWS4-HMAC-SHA256-PAYLOAD\n<amzdate>\n<scope>\n<previous sig>\n
// <sha256("")>\n<sha256 hex(data)>"), the chain seeded by the Authorization header's signature.
import { createHash, createHmac } from 'node:crypto';

export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const CHUNK = 64 * 1024;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const CRLF = Buffer.from('\r\n');
const sha256hex = (b) => createHash('sha256').update(b).digest('hex');
const hmac = (key, s) => createHmac('sha256', key).update(s).digest();

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"). */
export function signingKey(secret, date, region, service) {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** Bytes on the wire for `decoded` bytes cut in `chunkSize` chunks (the request's Content-Length). */
export function signedChunkedLength(decoded, chunkSize = CHUNK) {
  const frame = (n) => n.toString(16).length + ';chunk-signature='.length + 64 + 2 + n + 2;
  const full = Math.floor(decoded / chunkSize);
  const rest = decoded % chunkSize;
  return full * frame(chunkSize) + (rest ? frame(rest) : 0) + frame(0);
}

/**
 * Signing parameters from headers signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD as payload hash:
 * the seed is the Authorization header's Signature, the scope its Credential minus the key id.
 */
export function chunkSigningFrom(headers, secretAccessKey) {
  const get = (n) => Object.entries(headers).find(([k]) => k.toLowerCase() === n)?.[1];
  const auth = get('authorization');
  const m = /^AWS4-HMAC-SHA256 Credential=[^/]+\/((\d{8})\/([^/]+)\/([^/]+)\/aws4_request), SignedHeaders=[^,]+, Signature=([0-9a-f]{64})$/.exec(auth ?? '');
  if (!m) throw new Error(`unexpected Authorization header: ${auth}`);
  const [, scope, date, region, service, seedSignature] = m;
  return { signingKey: signingKey(secretAccessKey, date, region, service), datetime: get('x-amz-date'), scope, seedSignature };
}

/**
 * Signed aws-chunked frames for `chunks`, an iterable of { data, hash? } (hash: sha256 hex of
 * data, computed when absent). One Buffer per frame; the zero-length final frame is added.
 */
export function* signedChunkedFrames(chunks, { signingKey: key, datetime, scope, seedSignature }) {
  let prev = seedSignature;
  const frame = (data, hash) => {
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${datetime}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${hash}`;
    prev = createHmac('sha256', key).update(sts).digest('hex');
    const head = Buffer.from(`${data.length.toString(16)};chunk-signature=${prev}\r\n`);
    return Buffer.concat([head, data, CRLF], head.length + data.length + 2);
  };
  for (const { data, hash } of chunks) {
    if (data.length === 0) continue; // only the last chunk may be empty
    yield frame(data, hash ?? sha256hex(data));
  }
  yield frame(Buffer.alloc(0), EMPTY_SHA256);
}

/** `data` cut in `chunkSize` pieces (the last one shorter). */
export function* chunksOf(data, chunkSize = CHUNK) {
  for (let off = 0; off < data.length; off += chunkSize) yield { data: data.subarray(off, off + chunkSize) };
}

/**
 * `count` repetitions of `block` cut in `chunkSize` pieces. When chunkSize divides the block,
 * the per-chunk sha256 is computed once per offset in the block and reused (the signatures
 * still chain through every chunk), which keeps the client's CPU out of the gateway's way
 * on a small machine.
 */
export function* repeatedBlockChunks(block, count, chunkSize = CHUNK) {
  if (block.length % chunkSize !== 0) {
    // general case: re-cut the concatenation
    let carry = Buffer.alloc(0);
    for (let i = 0; i < count; i++) {
      let buf = carry.length ? Buffer.concat([carry, block]) : block;
      let off = 0;
      for (; off + chunkSize <= buf.length; off += chunkSize) yield { data: buf.subarray(off, off + chunkSize) };
      carry = Buffer.from(buf.subarray(off));
    }
    if (carry.length) yield { data: carry };
    return;
  }
  const pieces = [];
  for (let off = 0; off < block.length; off += chunkSize) {
    const data = block.subarray(off, off + chunkSize);
    pieces.push({ data, hash: sha256hex(data) });
  }
  for (let i = 0; i < count; i++) yield* pieces;
}

/**
 * The AWS docs' example (sigv4-streaming.html): 65536 + 1024 bytes of 'a', 64 KiB chunks,
 * seed 4f232c43…; throws unless this encoder reproduces its three chunk signatures and its
 * Content-Length of 66824.
 */
export function selfTest() {
  const signing = {
    signingKey: signingKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1', 's3'),
    datetime: '20130524T000000Z',
    scope: '20130524/us-east-1/s3/aws4_request',
    seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  };
  const want = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];
  const frames = [...signedChunkedFrames(chunksOf(Buffer.alloc(66560, 'a')), signing)];
  const got = frames.map((f) => /chunk-signature=([0-9a-f]{64})/.exec(f.toString('latin1', 0, 100))[1]);
  const len = frames.reduce((n, f) => n + f.length, 0);
  if (got.join() !== want.join() || len !== 66824 || signedChunkedLength(66560) !== 66824) {
    throw new Error(`aws-chunked encoder does not reproduce the AWS example: ${got.join(' ')}, ${len} bytes`);
  }
}
