// ListBuckets' paging, as S3 answers it, for the two places that answer it: s3gate itself (over the
// buckets a key's grants show) and the local store (over its directories). Pure: the caller lists
// the buckets, this file chooses the page and writes the XML.
//
// S3: with none of `max-buckets`, `continuation-token`, `prefix`, `bucket-region`, every bucket in
// one answer; with any of them, pages of `max-buckets` (1-10000, default 10000) in name order, a
// `ContinuationToken` in the answer while more follow, and `Prefix` echoed. The token is opaque to
// clients; here it is the page's last name, base64url, so a page continues after that name and
// buckets created or hidden meanwhile never shift or repeat another's place.
import { escapeXml, S3Error } from './errors.js';

export interface ListedBucket {
  name: string;
  /** ISO 8601 */
  created: string;
  region: string;
}

export interface ListBucketsQuery {
  paged: boolean;
  maxBuckets: number;
  prefix?: string;
  region?: string;
  /** list names strictly after this one */
  after?: string;
}

const MAX_BUCKETS = 10_000;

function incorrectToken(): S3Error {
  return new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
}

/** The request's paging parameters, refused as S3 refuses them (400 InvalidArgument). */
export function listBucketsQuery(q: URLSearchParams): ListBucketsQuery {
  const max = q.get('max-buckets');
  const token = q.get('continuation-token');
  const prefix = q.get('prefix');
  const region = q.get('bucket-region');
  const out: ListBucketsQuery = { paged: max !== null || token !== null || prefix !== null || region !== null, maxBuckets: MAX_BUCKETS };
  if (max !== null) {
    if (!/^\d{1,5}$/.test(max) || Number(max) < 1 || Number(max) > MAX_BUCKETS) {
      throw new S3Error('InvalidArgument', `max-buckets must be an integer between 1 and ${MAX_BUCKETS}`, { ArgumentName: 'max-buckets', ArgumentValue: max });
    }
    out.maxBuckets = Number(max);
  }
  // An empty token is no position (S3 documents a minimum length of 0).
  if (token) {
    const after = Buffer.from(token, 'base64url').toString('utf8');
    if (!/^[a-z0-9][a-z0-9.-]{0,62}$/.test(after) || Buffer.from(after, 'utf8').toString('base64url') !== token) throw incorrectToken();
    out.after = after;
  }
  if (prefix) out.prefix = prefix;
  if (region) out.region = region;
  return out;
}

/** One page of `all` (any order), and the token for the next, if any. */
export function pageBuckets(all: readonly ListedBucket[], q: ListBucketsQuery): { buckets: ListedBucket[]; next?: string } {
  const sorted = [...all]
    .filter((b) => (q.prefix === undefined || b.name.startsWith(q.prefix)) && (q.region === undefined || b.region === q.region) && (q.after === undefined || b.name > q.after))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!q.paged || sorted.length <= q.maxBuckets) return { buckets: sorted };
  const buckets = sorted.slice(0, q.maxBuckets);
  return { buckets, next: Buffer.from(buckets[buckets.length - 1]!.name, 'utf8').toString('base64url') };
}

export function listBucketsXml(owner: { id: string; name: string }, page: { buckets: ListedBucket[]; next?: string }, q: ListBucketsQuery): string {
  const buckets = page.buckets
    .map((b) => `<Bucket><Name>${escapeXml(b.name)}</Name><CreationDate>${escapeXml(b.created)}</CreationDate><BucketRegion>${escapeXml(b.region)}</BucketRegion></Bucket>`)
    .join('');
  return '<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Owner><ID>${escapeXml(owner.id)}</ID><DisplayName>${escapeXml(owner.name)}</DisplayName></Owner><Buckets>${buckets}</Buckets>` +
    (page.next !== undefined ? `<ContinuationToken>${page.next}</ContinuationToken>` : '') +
    (q.prefix !== undefined ? `<Prefix>${escapeXml(q.prefix)}</Prefix>` : '') +
    '</ListAllMyBucketsResult>';
}
