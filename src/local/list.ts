import { S3Error } from '../s3/errors.js';
import { compareKeys } from './keys.js';
import { urlEncodeKey } from '../s3/url-encoding.js';
import type { Disk } from './disk.js';
import type { OpRequest } from './op.js';

export interface Page<T> {
  contents: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** the last key or common prefix returned; where the next page starts after */
  last?: string;
}

/**
 * One page of an S3 listing over entries already sorted by UTF-8 key. Common prefixes count
 * toward maxKeys like keys do, and a page boundary that falls on a common prefix must not
 * return that prefix again on the next page, hence the `after` check on rolled-up keys.
 */
export function paginate<T extends { key: string }>(
  sorted: readonly T[],
  opts: { prefix: string; delimiter?: string; after?: string; maxKeys: number },
  compare: (a: string, b: string) => number = compareKeys,
): Page<T> {
  const { prefix, delimiter, after, maxKeys } = opts;
  const contents: T[] = [];
  const commonPrefixes: string[] = [];
  let count = 0;
  let last: string | undefined;
  let lastPrefix: string | undefined;
  for (const entry of sorted) {
    if (!entry.key.startsWith(prefix)) continue;
    if (after !== undefined && compare(entry.key, after) <= 0) continue;
    let rolled: string | undefined;
    if (delimiter) {
      const at = entry.key.indexOf(delimiter, prefix.length);
      if (at >= 0) rolled = entry.key.slice(0, at + delimiter.length);
    }
    if (rolled !== undefined && (rolled === lastPrefix || rolled === after)) continue;
    if (count >= maxKeys) return { contents, commonPrefixes, isTruncated: true, last };
    if (rolled !== undefined) {
      commonPrefixes.push(rolled);
      lastPrefix = rolled;
      last = rolled;
    } else {
      contents.push(entry);
      last = entry.key;
    }
    count++;
  }
  return { contents, commonPrefixes, isTruncated: false, last };
}

/**
 * A listing's `encoding-type`: absent, or `url` (anything else is S3's 400). Returns the type to
 * echo and what to pass every key-like value of the answer through.
 */
export function listEncoding(q: URLSearchParams): { type?: 'url'; enc: <T extends string | undefined>(s: T) => T } {
  const t = q.get('encoding-type');
  if (t === null) return { enc: (s) => s };
  if (t !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: t });
  return { type: 'url', enc: <T extends string | undefined>(s: T) => (s === undefined ? s : urlEncodeKey(s)) as T };
}

export interface ListingBasics {
  encodingType?: 'url';
  enc: <T extends string | undefined>(s: T) => T;
  prefix: string;
  delimiter?: string;
}

/** What every listing reads first: the bucket, which must exist, then its encoding, prefix and delimiter. */
export async function listingBasics(d: Disk, r: OpRequest): Promise<ListingBasics> {
  await d.requireBucket(r.bucket);
  const { type, enc } = listEncoding(r.query);
  const out: ListingBasics = { enc, prefix: r.query.get('prefix') ?? '' };
  if (type !== undefined) out.encodingType = type;
  const delimiter = r.query.get('delimiter') || undefined;
  if (delimiter !== undefined) out.delimiter = delimiter;
  return out;
}
