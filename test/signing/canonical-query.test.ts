// canonicalQuery skips the sort when the pairs arrive in canonical order (as presigners send
// them); whatever the order, it must give what always sorting gives.
import fc from 'fast-check';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, canonicalQueryFromRaw, canonicalQueryInOrder, parsePresignedQuery, parseQuery, safeDecode, uriEncode } from '../../src/signing/sigv4.js';
import { queryString } from '../../src/resign/request.js';

function reference(pairs: [string, string][], exclude?: string): string {
  return pairs
    .filter(([n]) => n !== exclude)
    .map(([n, v]): [string, string] => [uriEncode(n, false), uriEncode(v, false)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

// Few distinct names and values, so that ties on the name and repeats are common.
const text = fc.oneof(fc.constantFrom('a', 'b', 'A', 'X-Amz-Date', 'x-id', 'k~', 'é', ''), fc.string({ maxLength: 6 }));
const pairs = fc.array(fc.tuple(text, text), { maxLength: 12 });

describe('canonicalQuery', () => {
  it('equals the always-sorted canonical query for any pairs, sorted or not', () => {
    fc.assert(fc.property(pairs, fc.option(text, { nil: undefined }), (ps, exclude) => {
      expect(canonicalQuery(ps, exclude)).toBe(reference(ps, exclude));
    }), { numRuns: 2000 });
  });

  it('in order, is both the canonical query and the wire query (the outbound signer encodes once for both)', () => {
    fc.assert(fc.property(pairs, (ps) => {
      const once = canonicalQueryInOrder(ps);
      if (once !== undefined) {
        expect(once).toBe(reference(ps));
        expect(once).toBe(queryString(ps));
      }
      const sorted = [...ps].map(([n, v]): [string, string] => [n, v]).sort((a, b) => {
        const [x, y] = [[uriEncode(a[0], false), uriEncode(a[1], false)], [uriEncode(b[0], false), uriEncode(b[1], false)]];
        return x[0]! < y[0]! ? -1 : x[0]! > y[0]! ? 1 : x[1]! < y[1]! ? -1 : x[1]! > y[1]! ? 1 : 0;
      });
      expect(canonicalQueryInOrder(sorted)).toBe(queryString(sorted));
    }), { numRuns: 5000 });
  });

  it('equals it for pairs already in canonical order, as presigners send them', () => {
    fc.assert(fc.property(pairs, (ps) => {
      const ordered = [...ps].sort((a, b) => {
        const [x, y] = [[uriEncode(a[0], false), uriEncode(a[1], false)], [uriEncode(b[0], false), uriEncode(b[1], false)]];
        return x[0]! < y[0]! ? -1 : x[0]! > y[0]! ? 1 : x[1]! < y[1]! ? -1 : x[1]! > y[1]! ? 1 : 0;
      });
      expect(canonicalQuery(ordered)).toBe(reference(ordered));
    }), { numRuns: 1000 });
  });
});

// canonicalQueryFromRaw takes the raw query as the canonical one when the client sent it so, and
// otherwise gives up (undefined) for canonicalQuery(parseQuery(raw)) to decide: it must never
// give anything else. Raw queries are built from the pieces that break that: escapes of
// reserved and unreserved characters in either case, non-ASCII escapes, '+', '=', empty parts,
// a missing '=', the excluded name early, late or twice, and names out of order.
const rawPiece = fc.constantFrom(
  'a', 'b', 'A', 'x-id', 'X-Amz-Date', 'X-Amz-Signature', '~', '-', '%2F', '%2f', '%41', '%7E', '%20', '%25', '%C3%A9', '%FF',
  '+', '=', '&', '/', '*', '%2A', '%00', '0', 'GetObject',
  // either side of each edge of the unreserved set, escaped
  '%2C', '%2D', '%2E', '%2F', '%30', '%39', '%3A', '%40', '%41', '%5A', '%5B', '%5E', '%5F', '%60', '%61', '%7A', '%7B', '%7D', '%7E', '%7F', '%80', '%1', '%G0',
);
const namePiece = fc.constantFrom('a', 'b', 'A', 'x-id', 'X-Amz-Date', 'X-Amz-Signature', '~', '%2F', '%2f', '%41', '%20', '%C3%A9', '+', '*', '%2A',
  '%2D', '%3A', '%40', '%5B', '%5F', '%60', '%7B', '%7E', '%7F', 'X-Amz-Signatur', 'X-Amz-SignatureX', '%1',
  // the presign names, which the scan orders by their literals (and the same length, other text)
  'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Content-Sha256', 'X-Amz-Security-Token',
  'X-Amz-Algorithn', 'X-Amz-Dat', 'X-Amz-Datf');
const parts = fc.array(fc.tuple(fc.array(namePiece, { maxLength: 2 }), fc.array(namePiece, { maxLength: 3 })), { maxLength: 8 })
  .map((ps) => ps.map(([n, v]) => `${n.join('')}=${v.join('')}`));
const rawQuery = fc.oneof(
  fc.array(rawPiece, { maxLength: 16 }).map((a) => a.join('')),
  parts.map((ps) => ps.join('&')),
  // in order, as a presigner sends them, with the signature moved last
  parts.map((ps) => [...ps.filter((p) => !p.startsWith('X-Amz-Signature=')).sort(), ...ps.filter((p) => p.startsWith('X-Amz-Signature='))].join('&')),
  // all in order, the signature in its sorted place, as the SDKs' presigners send them
  parts.map((ps) => [...ps].sort().join('&')),
  // in order, with an empty part before, between or after
  fc.tuple(parts, fc.nat(8)).map(([ps, at]) => {
    const sorted = [...ps].sort();
    sorted.splice(Math.min(at, sorted.length), 0, '');
    return sorted.join('&');
  }),
);
const excludeName = fc.constantFrom(undefined, 'X-Amz-Signature', 'a');

// What canonicalQueryFromRaw took for canonical when it was a regular expression over the whole
// query and a scan of its parts: the expression per part that replaced it must take the same queries.
const TEXT = '[A-Za-z0-9\\-._~]*(?:%(?:[01][0-9A-F]|2[0-9A-CF]|3[A-F]|40|5[B-E]|60|7[B-DF])[A-Za-z0-9\\-._~]*)*';
const CANONICAL = new RegExp(`^(?:${TEXT}=${TEXT}(?:&${TEXT}=${TEXT})*)?$`);
function fromRawReference(query: string, exclude?: string): string | undefined {
  // A '+' is a space in a query: its canonical spelling is %20.
  const raw = query.replace(/\+/g, '%20');
  if (!CANONICAL.test(raw)) return undefined;
  if (raw === '') return '';
  const parts = raw.split('&').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as const);
  if (parts.some(([n]) => n === '')) return undefined;
  const kept = parts.filter(([n]) => exclude === undefined || n !== uriEncode(exclude, false));
  for (let i = 1; i < kept.length; i++) {
    const [[n0, v0], [n1, v1]] = [kept[i - 1]!, kept[i]!];
    if (n0 > n1 || (n0 === n1 && v0 > v1)) return undefined;
  }
  return kept.map(([n, v]) => `${n}=${v}`).join('&');
}

describe('canonicalQueryFromRaw', () => {
  it('takes for canonical what the regular expression and the scan of parts took', () => {
    fc.assert(fc.property(rawQuery, excludeName, (raw, exclude) => {
      expect(canonicalQueryFromRaw(raw, exclude)).toBe(fromRawReference(raw, exclude));
    }), { numRuns: 20000 });
  });

  it('takes no query with an empty part, an empty name, a part without = or a second =', () => {
    for (const raw of ['&a=b', 'a=b&&c=d', 'a=b&', '&', '=b', 'a=b&=c', 'a', 'a=b&c', 'a=b=c', 'a=b&c=d=e']) {
      expect(canonicalQueryFromRaw(raw, 'X-Amz-Signature')).toBeUndefined();
    }
    expect(canonicalQueryFromRaw('a=&b=c', 'X-Amz-Signature')).toBe('a=&b=c');
  });

  it('is the canonical query of the parsed raw query, or undefined', () => {
    fc.assert(fc.property(rawQuery, excludeName, (raw, exclude) => {
      const fast = canonicalQueryFromRaw(raw, exclude);
      if (fast !== undefined) expect(fast).toBe(canonicalQuery(parseQuery(raw), exclude));
    }), { numRuns: 20000 });
  });

  it('takes a presigned URL\'s query as it came', () => {
    const raw = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=AKID%2F20261205%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20261205T093000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Signature=' + 'ab'.repeat(32);
    expect(canonicalQueryFromRaw(raw, 'X-Amz-Signature')).toBe(canonicalQuery(parseQuery(raw), 'X-Amz-Signature'));
    expect(canonicalQueryFromRaw(raw, 'X-Amz-Signature')).toBe(raw.slice(0, raw.indexOf('&X-Amz-Signature')));
  });

  it('takes the SDK\'s presigned URL as it came, the signature before X-Amz-SignedHeaders', async () => {
    const s3 = new S3Client({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'b', Key: 'k 1' }), { expiresIn: 3600 }));
    const raw = url.search.slice(1);
    const sig = /X-Amz-Signature=[0-9a-f]{64}&/.exec(raw)![0];
    expect(raw.indexOf(sig)).toBeLessThan(raw.indexOf('X-Amz-SignedHeaders='));
    expect(canonicalQueryFromRaw(raw, 'X-Amz-Signature')).toBe(raw.replace(sig, ''));
    expect(canonicalQueryFromRaw(raw, 'X-Amz-Signature')).toBe(canonicalQuery(parseQuery(raw), 'X-Amz-Signature'));
  });

  it('checks a long query that fails late in linear time (one way to match each input)', () => {
    // A nested quantifier such as (?:[unreserved]+|escape)* takes exponential time on these: a
    // run of 40 characters would not finish.
    for (const bad of ['a'.repeat(40) + '!', 'a=' + 'a'.repeat(40) + '!', 'a=b&'.repeat(20_000) + '!', '%41'.repeat(20_000) + '%4', 'a%2F'.repeat(20_000) + '=%']) {
      expect(canonicalQueryFromRaw(bad, 'X-Amz-Signature')).toBeUndefined();
    }
    const long = Array.from({ length: 5000 }, (_, i) => `p${String(i).padStart(5, '0')}=v%2F${i}`).join('&');
    expect(canonicalQueryFromRaw(long, 'X-Amz-Signature')).toBe(long);
  });
});

// parsePresignedQuery reads a presigned URL's query once for its pairs and its canonical query:
// it must give what parseQuery and canonicalQuery of those pairs give, for any query, and
// decode a canonical query's escapes (by hand, no decodeURIComponent) as safeDecode does.
describe('parsePresignedQuery', () => {
  it('gives parseQuery\'s pairs and their canonical query, for any raw query', () => {
    fc.assert(fc.property(rawQuery, fc.constantFrom('X-Amz-Signature', 'a', 'X-Amz-Date'), (raw, exclude) => {
      const read = parsePresignedQuery(raw, exclude);
      const pairs = parseQuery(raw);
      expect(read.pairs).toEqual(pairs);
      expect(read.canonical).toBe(canonicalQuery(pairs, exclude));
    }), { numRuns: 20000 });
  });

  it('decodes every escape a canonical query may hold as safeDecode does', () => {
    const escapes = [];
    for (let c = 0; c < 0x80; c++) if (!/[A-Za-z0-9\-._~]/.test(String.fromCharCode(c))) escapes.push('%' + c.toString(16).toUpperCase().padStart(2, '0'));
    const value = fc.array(fc.oneof(fc.constantFrom(...escapes), fc.constantFrom('a', 'Z', '0', '-', '~', '_', '.')), { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
      const raw = values.map((v, i) => `p${i}=${v}`).join('&');
      const read = parsePresignedQuery(raw, 'X-Amz-Signature');
      expect(read.canonical).toBe(raw);
      expect(read.pairs).toEqual(values.map((v, i) => [`p${i}`, safeDecode(v)]));
    }), { numRuns: 5000 });
  });

  it('reads the SDK\'s presigned URL in one scan: the credential decoded, the signature out', async () => {
    const s3 = new S3Client({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'b', Key: 'k 1' }), { expiresIn: 3600 }));
    const raw = url.search.slice(1);
    const read = parsePresignedQuery(raw, 'X-Amz-Signature');
    expect(read.pairs).toEqual([...url.searchParams]);
    expect(read.canonical).toBe(raw.replace(/X-Amz-Signature=[0-9a-f]{64}&/, ''));
    expect(read.pairs.find(([n]) => n === 'X-Amz-Credential')![1]).toMatch(/^AKID\/\d{8}\/us-east-1\/s3\/aws4_request$/);
  });
});
