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
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i >= 0 ? h.slice(0, i) : h;
}

/** bucket and key from a path-style path; '/bucket' and '/bucket/' both mean the bucket. */
function fromPath(rawPath: string): { bucket?: string; key?: string } {
  const p = rawPath.slice(1);
  if (p === '') return {};
  const slash = p.indexOf('/');
  if (slash < 0) return { bucket: safeDecode(p) };
  const bucket = safeDecode(p.slice(0, slash));
  const keyRaw = p.slice(slash + 1);
  return keyRaw === '' ? { bucket } : { bucket, key: safeDecode(keyRaw) };
}

function keyFromPath(rawPath: string): string | undefined {
  const k = rawPath.slice(1);
  return k === '' ? undefined : safeDecode(k);
}

export function resolveAddress(cfg: GatewayConfig, host: string, url: string): Address {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI');
  const hostname = splitHost(host);
  const base = { host, hostname, rawPath, rawQuery };

  for (const b of cfg.buckets.values()) {
    if (b.domains.includes(hostname)) {
      const key = keyFromPath(rawPath);
      return { ...base, style: 'custom-domain', bucket: b.name, ...(key !== undefined ? { key } : {}) };
    }
  }
  for (const d of cfg.domains) {
    if (hostname === d) return { ...base, style: 'path', ...fromPath(rawPath) };
    if (hostname.endsWith('.' + d)) {
      const bucket = hostname.slice(0, -(d.length + 1));
      const key = keyFromPath(rawPath);
      return { ...base, style: 'virtual', bucket, ...(key !== undefined ? { key } : {}) };
    }
  }
  // Any other Host (an IP, localhost, a name the operator did not list) is read as path-style,
  // as S3 does for IP endpoints. It never picks an upstream: only configured buckets route.
  return { ...base, style: 'path', ...fromPath(rawPath) };
}
