// Builds the request the provider will receive: its bucket name, its addressing style, only
// the client headers that mean something to S3, and a fresh signature with the provider's key.
import type { Upstream } from '../config/types.js';
import { uriEncode } from '../signing/sigv4.js';
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

export function upstreamTarget(up: Upstream, bucket: string | undefined): { origin: string; host: string; pathPrefix: string } {
  const ep = up.endpoint;
  const basePath = ep.pathname.replace(/\/+$/, '');
  if (bucket && up.profile.addressing === 'virtual') {
    const host = `${bucket}.${ep.host}`;
    return { origin: `${ep.protocol}//${host}`, host, pathPrefix: basePath };
  }
  return { origin: ep.origin, host: ep.host, pathPrefix: basePath + (bucket ? '/' + uriEncode(bucket, false) : '') };
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
