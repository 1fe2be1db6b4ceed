// Host + path → which bucket and key the client meant, and how it addressed us.
// The raw path is kept alongside: signatures cover the path exactly as the client sent it.
import type { GatewayConfig } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import { safeDecode } from '../signing/sigv4.js';

export type AddressingStyle = 'path' | 'virtual' | 'custom-domain';

export interface Address {
  style: AddressingStyle;
  /** the Host the client used (what it signed), with port */
  host: string;
  /** the host without port, lowercased */
  hostname: string;
  /** client-side bucket name, absent for service-level requests (ListBuckets) */
  bucket?: string;
  /** decoded object key, absent for bucket-level requests */
  key?: string;
  /** path exactly as received, still percent-encoded */
  rawPath: string;
  /** query string exactly as received, without '?' */
  rawQuery: string;
}

export function splitHost(host: string): string {
  let name = HOSTNAMES.get(host);
  if (name === undefined) {
    name = hostnameOf(host);
    if (HOSTNAMES.size < HOSTS_KEPT && host.length <= HOST_LENGTH_KEPT) HOSTNAMES.set(host, name);
  }
  return name;
}

// A gateway sees a handful of Host values, each on every request: each one's hostname is worked
// out once (a lower-cased copy and a slice per request otherwise). Bounded like s3/names.ts.
const HOSTNAMES = new Map<string, string>();
const HOSTS_KEPT = 1024;
const HOST_LENGTH_KEPT = 300;

function hostnameOf(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i >= 0 ? h.slice(0, i) : h;
}

function address(style: AddressingStyle, host: string, hostname: string, rawPath: string, rawQuery: string, bucket?: string, key?: string): Address {
  const a: Address = { style, host, hostname, rawPath, rawQuery };
  if (bucket !== undefined) a.bucket = bucket;
  if (key !== undefined) a.key = key;
  return a;
}

/**
 * A path-style path: '/bucket' and '/bucket/' both mean the bucket. '//x' names the empty bucket,
 * which S3 refuses (it is not the service, so not ListBuckets).
 */
function fromPath(host: string, hostname: string, rawPath: string, rawQuery: string): Address {
  const p = rawPath.slice(1);
  if (p === '') return address('path', host, hostname, rawPath, rawQuery);
  const slash = p.indexOf('/');
  if (slash === 0) throw new S3Error('InvalidBucketName', undefined, { BucketName: '' });
  if (slash < 0) return address('path', host, hostname, rawPath, rawQuery, safeDecode(p));
  const keyRaw = p.slice(slash + 1);
  return address('path', host, hostname, rawPath, rawQuery, safeDecode(p.slice(0, slash)), keyRaw === '' ? undefined : decodeKey(keyRaw));
}

function keyFromPath(rawPath: string): string | undefined {
  const k = rawPath.slice(1);
  return k === '' ? undefined : decodeKey(k);
}

/**
 * An object key is UTF-8: percent-encoded bytes that do not decode as UTF-8 name no key S3 could
 * store, and S3 answers 400 InvalidURI before anything else (RGW 16: 400 InvalidObjectName).
 * Decoding them leniently would store another key than the one asked for (`a%FF` as `a%25FF`).
 */
function decodeKey(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    // A '%' that starts no escape stands for itself; only escapes are decoded.
    return decodeURIComponent(raw.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/**
 * The gateway domain a Host belongs to: the host itself when it is one, else the longest domain
 * it ends in. With `[localhost, s3.localhost]`, `s3.localhost` is the endpoint (not bucket `s3`
 * of `localhost`) and `demo.s3.localhost` is bucket `demo`, whatever the order in the config.
 */
export function gatewayDomain(domains: readonly string[], hostname: string): string | undefined {
  let best: string | undefined;
  for (const d of domains) {
    if (hostname === d) return d;
    if ((best === undefined || d.length > best.length) && hostname.length > d.length && hostname.endsWith(d) && hostname.charCodeAt(hostname.length - d.length - 1) === 0x2e /* . */) best = d;
  }
  return best;
}

const customByConfig = new WeakMap<GatewayConfig, Map<string, string>>();
/** Custom domain → bucket, the first bucket that lists it, made once per config (a config is never changed in place). */
function customDomains(cfg: GatewayConfig): Map<string, string> {
  let m = customByConfig.get(cfg);
  if (!m) {
    m = new Map();
    for (const b of cfg.buckets.values()) for (const d of b.domains) if (!m.has(d)) m.set(d, b.name);
    customByConfig.set(cfg, m);
  }
  return m;
}

export function resolveAddress(cfg: GatewayConfig, host: string, url: string): Address {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI');
  const hostname = splitHost(host);

  const custom = customDomains(cfg).get(hostname);
  if (custom !== undefined) return address('custom-domain', host, hostname, rawPath, rawQuery, custom, keyFromPath(rawPath));
  const d = gatewayDomain(cfg.domains, hostname);
  if (d === hostname) return fromPath(host, hostname, rawPath, rawQuery);
  if (d !== undefined) return address('virtual', host, hostname, rawPath, rawQuery, hostname.slice(0, -(d.length + 1)), keyFromPath(rawPath));
  // Any other Host (an IP, localhost, a name the operator did not list) is read as path-style,
  // as S3 does for IP endpoints. It never picks an upstream: only configured buckets route.
  return fromPath(host, hostname, rawPath, rawQuery);
}
