// Merged listings for a bucket in migration: both providers listed from the same cursor, keys
// merged in S3's order (UTF-8 bytes) with the new provider's copy winning, and a continuation
// token that is just that cursor, so any replica can serve the next page.
import { S3Error, escapeXml, unescapeXml } from '../s3/errors.js';
import { urlEncodeKey } from '../s3/url-encoding.js';

export interface ListRequest {
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  encodingType?: 'url';
  /** resume after this key (exclusive) */
  after: string;
  /** true when `after` is a common prefix: everything under it was already returned */
  afterPrefix: boolean;
  startAfter?: string;
  continuationToken?: string;
  marker?: string;
  fetchOwner: boolean;
}

export interface ListItem {
  key: string;
  /** a CommonPrefix rather than an object */
  prefix: boolean;
  /** the <Contents> element's inner XML, with Key decoded and to be re-encoded on output */
  xml?: string;
}

export interface Listing {
  items: ListItem[];
  truncated: boolean;
}

function decodeToken(t: string): { after: string; afterPrefix: boolean } {
  try {
    const v = JSON.parse(Buffer.from(t, 'base64url').toString('utf8')) as { a?: unknown; p?: unknown };
    if (typeof v.a === 'string') return { after: v.a, afterPrefix: v.p === 1 };
  } catch {
    /* fall through */
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
}

export function encodeToken(after: string, afterPrefix: boolean): string {
  return Buffer.from(JSON.stringify({ a: after, ...(afterPrefix ? { p: 1 } : {}) }), 'utf8').toString('base64url');
}

export function parseListRequest(operation: string, query: [string, string][]): ListRequest {
  const get = (n: string) => query.find(([k]) => k === n)?.[1];
  const maxRaw = get('max-keys');
  const maxKeys = maxRaw === undefined ? 1000 : Number(maxRaw);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys' });
  const delimiter = get('delimiter') || undefined;
  const base = {
    prefix: get('prefix') ?? '', maxKeys: Math.min(maxKeys, 1000), fetchOwner: get('fetch-owner') === 'true',
    ...(delimiter ? { delimiter } : {}), ...(get('encoding-type') === 'url' ? { encodingType: 'url' as const } : {}),
  };
  if (operation === 'ListObjectsV2') {
    const token = get('continuation-token');
    const startAfter = get('start-after');
    const cursor = token ? decodeToken(token) : { after: startAfter ?? '', afterPrefix: false };
    return { ...base, ...cursor, ...(token ? { continuationToken: token } : {}), ...(startAfter !== undefined ? { startAfter } : {}) };
  }
  const marker = get('marker');
  // A v1 marker that ends in the delimiter is the common prefix the previous page ended on.
  const afterPrefix = !!marker && !!delimiter && marker.endsWith(delimiter);
  return { ...base, after: marker ?? '', afterPrefix, ...(marker !== undefined ? { marker } : {}) };
}

// Sorts after every key that starts with the prefix: U+10FFFF is the largest code point, and its
// UTF-8 form the largest byte sequence a key can hold.
const AFTER_ALL = '\u{10FFFF}'.repeat(4);

export function providerListQuery(q: ListRequest): [string, string][] {
  const out: [string, string][] = [['list-type', '2'], ['encoding-type', 'url'], ['max-keys', String(Math.max(1, q.maxKeys))]];
  if (q.prefix) out.push(['prefix', q.prefix]);
  if (q.delimiter) out.push(['delimiter', q.delimiter]);
  const after = q.afterPrefix ? q.after + AFTER_ALL : q.after;
  if (after) out.push(['start-after', after]);
  if (q.fetchOwner) out.push(['fetch-owner', 'true']);
  return out;
}


function decodeKey(raw: string): string {
  const s = unescapeXml(raw);
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** A provider's ListObjectsV2 answer (requested with encoding-type=url). */
export function parseListing(xml: string): Listing {
  const items: ListItem[] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const inner = m[1]!;
    const k = /<Key>([\s\S]*?)<\/Key>/.exec(inner);
    if (k) items.push({ key: decodeKey(k[1]!), prefix: false, xml: inner.replace(/<Key>[\s\S]*?<\/Key>/, '') });
  }
  for (const m of xml.matchAll(/<CommonPrefixes>\s*<Prefix>([\s\S]*?)<\/Prefix>\s*<\/CommonPrefixes>/g)) {
    items.push({ key: decodeKey(m[1]!), prefix: true });
  }
  const truncated = /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml);
  items.sort((a, b) => compareKeys(a.key, b.key));
  return { items, truncated };
}

export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface Page {
  items: ListItem[];
  truncated: boolean;
  next?: { after: string; afterPrefix: boolean };
}

/**
 * One page of the union. A side that was truncated may hold keys after its last one that the
 * other side's later keys would jump over, so the page stops at the smallest such last key.
 */
export function mergeListings(newer: Listing, older: Listing, maxKeys: number): Page {
  const byKey = new Map<string, ListItem>();
  for (const it of older.items) byKey.set(`${it.prefix ? 'P' : 'K'}${it.key}`, it);
  for (const it of newer.items) byKey.set(`${it.prefix ? 'P' : 'K'}${it.key}`, it);
  let all = [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key) || (a.prefix ? 1 : -1));
  let limit: string | undefined;
  for (const side of [newer, older]) {
    if (side.truncated && side.items.length) {
      const last = side.items[side.items.length - 1]!.key;
      if (limit === undefined || compareKeys(last, limit) < 0) limit = last;
    }
  }
  let truncated = false;
  if (limit !== undefined) {
    const cut = all.filter((it) => compareKeys(it.key, limit!) <= 0);
    truncated = true;
    all = cut;
  }
  if (all.length > maxKeys) {
    all = all.slice(0, maxKeys);
    truncated = true;
  }
  const last = all[all.length - 1];
  return { items: all, truncated, ...(truncated && last ? { next: { after: last.key, afterPrefix: last.prefix } } : {}) };
}

function encodeKey(key: string, q: ListRequest): string {
  return q.encodingType === 'url' ? urlEncodeKey(key) : escapeXml(key);
}

export function listingXml(operation: string, bucket: string, q: ListRequest, page: Page): string {
  const contents = page.items.filter((i) => !i.prefix).map((i) => `<Contents><Key>${encodeKey(i.key, q)}</Key>${i.xml ?? ''}</Contents>`).join('');
  const prefixes = page.items.filter((i) => i.prefix).map((i) => `<CommonPrefixes><Prefix>${encodeKey(i.key, q)}</Prefix></CommonPrefixes>`).join('');
  const common = `<Name>${escapeXml(bucket)}</Name><Prefix>${encodeKey(q.prefix, q)}</Prefix>${q.delimiter ? `<Delimiter>${encodeKey(q.delimiter, q)}</Delimiter>` : ''}<MaxKeys>${q.maxKeys}</MaxKeys>${q.encodingType ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${page.truncated}</IsTruncated>`;
  let body: string;
  if (operation === 'ListObjectsV2') {
    body = common + `<KeyCount>${page.items.length}</KeyCount>` +
      (q.continuationToken ? `<ContinuationToken>${escapeXml(q.continuationToken)}</ContinuationToken>` : '') +
      (page.next ? `<NextContinuationToken>${encodeToken(page.next.after, page.next.afterPrefix)}</NextContinuationToken>` : '') +
      (q.startAfter !== undefined ? `<StartAfter>${encodeKey(q.startAfter, q)}</StartAfter>` : '');
  } else {
    // S3 gives NextMarker only under a delimiter; without one a client continues from the last Key.
    body = common + `<Marker>${encodeKey(q.marker ?? '', q)}</Marker>` + (page.next && q.delimiter ? `<NextMarker>${encodeKey(page.next.after, q)}</NextMarker>` : '');
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}${contents}${prefixes}</ListBucketResult>`;
}
