// Builds the request the provider will receive: its bucket name, its addressing style, only
// the client headers that mean something to S3, and a fresh signature with the provider's key.
import type { Upstream } from '../config/types.js';
import { uriEncode } from '../signing/sigv4.js';

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
  headers: Record<string, string>;
  /** the provider bucket when the Host names it (virtual-host): SigV2 signs it */
  bucketInHost?: string;
}

// Hop-by-hop headers, the client's own auth, and proxy bookkeeping never travel upstream.
const DROP = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'expect', 'authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip',
  'content-length', 'x-amz-decoded-content-length', 'x-amz-trailer', 'date',
]);

// Query parameters that carried the client's signature (SigV4 and SigV2 query auth).
const AUTH_QUERY = new Set([
  'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature',
  'x-amz-security-token', 'x-amz-content-sha256', 'awsaccesskeyid', 'signature', 'expires',
]);

export interface OutboundInput {
  method: string;
  upstreamBucket?: string;
  key?: string;
  query: [string, string][];
  headers: Record<string, string | string[] | undefined>;
  /** auth via query v2 uses Expires; other clients may send an `expires` that is not ours to drop */
  queryAuth: boolean;
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
  const headers: Record<string, string> = {};
  for (const name in input.headers) {
    const v = input.headers[name];
    if (v === undefined || DROP.has(name)) continue;
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const query: [string, string][] = [];
  for (const [n, v] of input.query) {
    const lower = n.toLowerCase();
    if (input.queryAuth && AUTH_QUERY.has(lower)) continue;
    // Presigned URLs carry x-amz-* request headers hoisted into the query; header auth upstream
    // wants them back as headers.
    // The JS SDK presigns PUTs with the CRC32 of an empty body whatever is uploaded later; no
    // provider applies it, so neither does s3gate (docs/checksums.md).
    if (input.queryAuth && (lower.startsWith('x-amz-checksum') || lower === 'x-amz-sdk-checksum-algorithm')) continue;
    if (input.queryAuth && lower.startsWith('x-amz-')) {
      headers[lower] = v;
      continue;
    }
    query.push([n, v]);
  }
  const virtual = input.upstreamBucket !== undefined && up.profile.addressing === 'virtual';
  const out: OutboundRequest = { origin, host, method: input.method, path, query, headers };
  if (virtual) out.bucketInHost = input.upstreamBucket;
  return out;
}

export function queryString(pairs: [string, string][]): string {
  return pairs.map(([n, v]) => (v === '' ? `${uriEncode(n, false)}=` : `${uriEncode(n, false)}=${uriEncode(v, false)}`)).join('&');
}
