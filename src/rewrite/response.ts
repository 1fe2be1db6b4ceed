// The provider's names never reach the client: its bucket names, hosts and signature details
// in response headers and XML bodies are rewritten to what the client asked for.
import { escapeXml } from '../s3/errors.js';

// Response headers that belong to the hop to the provider.
const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'server']);

export function responseHeaders(headers: Record<string, string | string[] | undefined>, clientLocation?: (loc: string) => string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || DROP.has(k)) continue;
    out[k] = k === 'location' && clientLocation && typeof v === 'string' ? clientLocation(v) : v;
  }
  return out;
}

export interface NameMap {
  upstreamBucket: string;
  clientBucket: string;
  /** the provider's endpoint host (and bucket virtual host) to hide */
  upstreamHosts: string[];
  /** the client-facing base URL, e.g. https://s3.example.com */
  clientBase: string;
  /** the client-facing object URL prefix for this bucket */
  clientBucketUrl: string;
}

/** Operations whose XML body names the bucket and must be rewritten when names differ. */
export const XML_REWRITE_OPS = new Set([
  'ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'ListParts',
  'CreateMultipartUpload', 'CompleteMultipartUpload',
]);

const ELEMENT = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`, 'g');

export function rewriteXml(xml: string, m: NameMap): string {
  const up = escapeXml(m.upstreamBucket);
  const client = escapeXml(m.clientBucket);
  let out = xml;
  for (const el of ['Name', 'Bucket', 'BucketName']) {
    out = out.replace(ELEMENT(el), (whole, v: string) => (v === up ? `<${el}>${client}</${el}>` : whole));
  }
  out = out.replace(ELEMENT('Location'), (_w, v: string) => {
    // CompleteMultipartUpload's Location is the object URL at the provider.
    // Providers differ: a full URL, a scheme-less "host/bucket/key", or a path.
    const path = v.startsWith('/') ? v : v.replace(/^(?:https?:\/\/)?[^/]*/, '');
    const keyPart = path.replace(new RegExp(`^/${escapeRe(up)}(?=/|$)`), '');
    return `<Location>${escapeXml(m.clientBucketUrl)}${keyPart}</Location>`;
  });
  out = out.replace(ELEMENT('Resource'), (_w, v: string) => `<Resource>${v.replace(new RegExp(`^/${escapeRe(up)}(?=/|$)`), `/${client}`)}</Resource>`);
  // Provider-side signature details describe s3gate's request to the provider: not the client's business.
  out = out.replace(/<(StringToSign|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes|AWSAccessKeyId|SignatureProvided|HostId)>[^<]*<\/\1>/g, '');
  const clientHost = escapeXml(hostOf(m.clientBase));
  for (const h of m.upstreamHosts) out = out.split(escapeXml(h)).join(clientHost);
  return out;
}

/** The host of the client-facing base URL. The Host header is the client's text: it may not parse as a URL. */
function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return base.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The provider's ListBuckets answer: each bucket's name and creation date, in any element order. */
export function listedBuckets(xml: string): { name: string; created?: string }[] {
  const out: { name: string; created?: string }[] = [];
  for (const m of xml.matchAll(/<Bucket>([\s\S]*?)<\/Bucket>/g)) {
    const name = /<Name>([^<]*)<\/Name>/.exec(m[1]!)?.[1];
    const created = /<CreationDate>([^<]*)<\/CreationDate>/.exec(m[1]!)?.[1];
    if (name !== undefined) out.push({ name, ...(created !== undefined ? { created } : {}) });
  }
  return out;
}

/**
 * A Range answer carries only part of the object; a full-object x-amz-checksum-* on it makes new
 * SDKs fail their own validation (FlexibleChecksumError). Composite (multipart) checksums, whose
 * value ends in -N, are left alone: SDKs already skip those.
 */
export function stripFullObjectChecksums(headers: Record<string, string | string[] | undefined>): void {
  for (const k of Object.keys(headers)) {
    if (!k.startsWith('x-amz-checksum-') || k === 'x-amz-checksum-type') continue;
    const v = headers[k];
    if (typeof v === 'string' && /-\d+$/.test(v)) continue;
    delete headers[k];
  }
}
