// s3gate's own ListBuckets: the buckets a key's grants show, never the others, named as the client
// knows them, with each provider's creation date; paged as S3 pages (src/s3/list-buckets.ts).
// The grants filter before the page is cut, so a hidden bucket neither appears nor takes a place.
import type { GatewayConfig, GatewayKey } from '../config/types.js';
import { visibleBuckets } from '../authorize/grants.js';
import { callUpstream, text } from '../forward/client.js';
import type { Cancel } from '../forward/cancel.js';
import { listedBuckets } from '../rewrite/response.js';
import { listBucketsQuery, listBucketsXml, pageBuckets, type ListedBucket } from '../s3/list-buckets.js';

export async function listBucketsAnswer(cfg: GatewayConfig, key: GatewayKey, query: [string, string][], signal: Cancel): Promise<string> {
  // Refused before any provider is asked.
  const q = listBucketsQuery(new URLSearchParams(query));
  const named = visibleBuckets(key, [...cfg.buckets.keys()].filter((n) => n !== '*'));
  // With a "*" route, the provider's own buckets are listed too, filtered to the key's grants.
  const star = cfg.buckets.get('*');
  const listStar = star !== undefined && key.allow.some((g) => g.bucket === '*' || !cfg.buckets.has(g.bucket));
  // Each upstream's own listing, once, for its buckets' creation dates; a named route whose
  // provider does not list it (no permission, another account) shows the config's load time.
  const upstreamNames = new Set(named.map((n) => cfg.buckets.get(n)!.upstream));
  if (listStar) upstreamNames.add(star.upstream);
  const listings = new Map<string, Map<string, string>>();
  await Promise.all([...upstreamNames].map(async (name) => {
    const dates = new Map<string, string>();
    listings.set(name, dates);
    try {
      const r = await callUpstream(cfg.upstreams.get(name)!, { operation: 'ListBuckets', method: 'GET', signal });
      const xml = await text(r);
      if (r.status === 200) for (const b of listedBuckets(xml)) dates.set(b.name, b.created ?? '');
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
    }
  }));
  const loaded = (cfg.loadedAt ?? new Date(0)).toISOString();
  const entries = new Map<string, string>();
  for (const n of named) {
    const route = cfg.buckets.get(n)!;
    entries.set(n, listings.get(route.upstream)?.get(route.bucket ?? n) || loaded);
  }
  const starDates = listStar ? listings.get(star.upstream) : undefined;
  if (listStar && starDates) {
    // Provider buckets behind a named route appear under their client name (above), not twice.
    const routed = new Set([...cfg.buckets.values()].filter((b) => b.name !== '*').map((b) => b.bucket ?? b.name));
    for (const [b, created] of starDates) {
      if (!routed.has(b) && visibleBuckets(key, [b]).length) entries.set(b, created || loaded);
    }
  }
  // Every bucket is served in s3gate's region, whatever its provider's (as GetBucketLocation says).
  const all: ListedBucket[] = [...entries].map(([name, created]) => ({ name, created, region: cfg.region }));
  return listBucketsXml({ id: key.accessKeyId, name: key.accessKeyId }, pageBuckets(all, q), q);
}
