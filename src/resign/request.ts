// Builds the request the provider will receive: its bucket name, its addressing style, only
// the client headers that mean something to S3, and a fresh signature with the provider's key.
import type { Upstream } from '../config/types.js';
import { uriEncode } from '../signing/sigv4.js';
import { internalized } from '../s3/names.js';
import { travels } from '../authorize/view.js';

export interface OutboundRequest {
  /** scheme://host[:port] to connect to */
  origin: string;
  /** the Host header value the provider sees and that is signed */
  host: string;
  method: string;
  /** encoded path, no query */
  path: string;
  /** decoded query pairs, in order */
  query: [string, string][];
  /** queryString(query), set by signOutbound, which made it for the signature too */
  encodedQuery?: string | undefined;
  headers: Record<string, string>;
  /** the provider bucket when the Host names it (virtual-host): SigV2 signs it */
  bucketInHost?: string;
}

export interface OutboundInput {
  method: string;
  upstreamBucket?: string;
  key?: string;
  /** the query that travels, as authorize/view.ts left it (or s3gate's own) */
  query: [string, string][];
  /** the headers that travel, as authorize/view.ts left them (or s3gate's own) */
  headers: Record<string, string>;
}

export interface UpstreamTarget {
  /** scheme://host[:port] to connect to */
  readonly origin: string;
  /** the Host header value the provider sees and that is signed */
  readonly host: string;
  /** the endpoint's path and, path-style, the encoded bucket: what the key's path follows */
  readonly pathPrefix: string;
}

interface EndpointTargets {
  readonly base: UpstreamTarget;
  readonly basePath: string;
  readonly byBucket: Map<string, UpstreamTarget>;
}

// Worked out once per upstream and bucket, not per request: the endpoint URL's getters make a new
// string on every read (origin joins two, host is sliced from the href), undici's Agent then
// flattened and hashed the origin afresh to find its pool, and the signer wrote the sliced host
// through Buffer#write's slow path. Each string kept is V8's one flat copy of that text.
const targets = new WeakMap<Upstream, EndpointTargets>();
// The bucket is the provider's name for it, which a pass-through route takes from the client:
// the table is emptied when full, so no client can grow it.
const BUCKETS_KEPT = 256;

function endpointTargets(up: Upstream): EndpointTargets {
  const ep = up.endpoint;
  const basePath = internalized(ep.pathname.replace(/\/+$/, ''));
  const base = { origin: internalized(ep.origin), host: internalized(ep.host), pathPrefix: basePath };
  return { base, basePath, byBucket: new Map() };
}

function bucketTarget(up: Upstream, t: EndpointTargets, bucket: string): UpstreamTarget {
  const ep = up.endpoint;
  if (up.profile.addressing === 'virtual') {
    const host = internalized(`${bucket}.${ep.host}`);
    return { origin: internalized(`${ep.protocol}//${host}`), host, pathPrefix: t.basePath };
  }
  return { origin: t.base.origin, host: t.base.host, pathPrefix: internalized(t.basePath + '/' + uriEncode(bucket, false)) };
}

export function upstreamTarget(up: Upstream, bucket: string | undefined): UpstreamTarget {
  let t = targets.get(up);
  if (t === undefined) targets.set(up, (t = endpointTargets(up)));
  if (!bucket) return t.base;
  let b = t.byBucket.get(bucket);
  if (b === undefined) {
    b = bucketTarget(up, t, bucket);
    if (t.byBucket.size >= BUCKETS_KEPT) t.byBucket.clear();
    t.byBucket.set(bucket, b);
  }
  return b;
}

export function buildOutbound(up: Upstream, input: OutboundInput): OutboundRequest {
  const { origin, host, pathPrefix } = upstreamTarget(up, input.upstreamBucket);
  const keyPath = input.key !== undefined ? '/' + uriEncode(input.key, true) : '';
  const path = (pathPrefix + keyPath) || '/';
  // The request's view already decided what travels: it is sent as it is, nothing moved or
  // added. Hop-by-hop headers are still kept back, for s3gate's own requests.
  const headers: Record<string, string> = {};
  for (const name in input.headers) if (travels(name)) headers[name] = input.headers[name]!;
  // encodedQuery's slot is made with the object, so that setting it later changes no shape
  const out: OutboundRequest = { origin, host, method: input.method, path, query: input.query, encodedQuery: undefined, headers };
  const virtual = input.upstreamBucket !== undefined && up.profile.addressing === 'virtual';
  if (virtual) out.bucketInHost = input.upstreamBucket;
  return out;
}

/** The query for the wire: names and values URI-encoded, in the order given. */
export function queryString(pairs: [string, string][]): string {
  let out = '';
  for (let i = 0; i < pairs.length; i++) {
    const [n, v] = pairs[i]!;
    out += (i === 0 ? '' : '&') + uriEncode(n, false) + '=' + uriEncode(v, false);
  }
  return out;
}
