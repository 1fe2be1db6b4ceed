// ListObjectsV2, read with `encoding-type=url` so that keys XML 1.0 cannot carry (control
// characters) still arrive, and parsed just enough: Contents entries and the page cursor.
import { text } from '../forward/client.js';
import { bareEtag, fail, send, withRetry, type Endpoint } from './s3.js';

export interface ListedObject {
  key: string;
  size: number;
  /** without quotes */
  etag: string;
  /** ISO 8601 as the provider wrote it */
  lastModified: string;
}

export interface ListPage {
  objects: ListedObject[];
  isTruncated: boolean;
  nextToken?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e] ?? m;
  });
}

/** Text of the first `<name>` element in `doc`, unescaped; CDATA taken literally. */
export function leaf(doc: string, name: string): string | undefined {
  const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>|<${name}(?:\\s[^>]*)?/>`).exec(doc);
  if (!m) return undefined;
  const raw = m[1] ?? '';
  const cdata = /^<!\[CDATA\[([\s\S]*)\]\]>$/.exec(raw);
  return cdata ? cdata[1]! : xmlUnescape(raw);
}

/** The inner text of each `<name>…</name>` (elements that do not nest). */
export function blocks(doc: string, name: string): string[] {
  return [...doc.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]!);
}

/** Undoes `encoding-type=url`: S3 writes a space as '+' and a '+' as %2B. */
export function urlDecodeKey(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

export function parseListV2(doc: string): ListPage {
  const root = /<ListBucketResult[\s>]/.exec(doc);
  if (!root) throw new Error('ListObjectsV2: the response is not a ListBucketResult');
  // Only the top-level fields: cut the Contents blocks out before looking for them.
  const contents = blocks(doc, 'Contents');
  const top = doc.replace(/<Contents>[\s\S]*?<\/Contents>/g, '').replace(/<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>/g, '');
  const url = leaf(top, 'EncodingType') === 'url';
  const objects = contents.map((b): ListedObject => {
    const rawKey = leaf(b, 'Key');
    if (rawKey === undefined) throw new Error('ListObjectsV2: a Contents entry without a Key');
    return {
      key: url ? urlDecodeKey(rawKey) : rawKey,
      size: Number(leaf(b, 'Size') ?? 'NaN'),
      etag: bareEtag(leaf(b, 'ETag')),
      lastModified: leaf(b, 'LastModified') ?? '',
    };
  });
  const isTruncated = leaf(top, 'IsTruncated') === 'true';
  const nextToken = leaf(top, 'NextContinuationToken');
  if (isTruncated && !nextToken) throw new Error('ListObjectsV2: IsTruncated without a NextContinuationToken');
  return { objects, isTruncated, ...(nextToken ? { nextToken } : {}) };
}

/** Pages of the whole bucket in key order, from just after `startAfter` when resuming. */
export async function* listAll(src: Endpoint, opts: { startAfter?: string; pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<ListPage> {
  let token: string | undefined;
  for (;;) {
    const query: [string, string][] = [['list-type', '2'], ['encoding-type', 'url'], ['max-keys', String(opts.pageSize ?? 1000)]];
    if (token !== undefined) query.push(['continuation-token', token]);
    else if (opts.startAfter !== undefined) query.push(['start-after', opts.startAfter]);
    const signal = opts.signal ?? new AbortController().signal;
    const page = await withRetry(3, signal, async () => {
      const res = await send(src, { operation: 'ListObjectsV2', method: 'GET', query, signal });
      if (res.status !== 200) await fail('ListObjectsV2', res);
      return parseListV2(await text(res));
    });
    yield page;
    if (!page.isTruncated) return;
    token = page.nextToken;
  }
}
