// Small pure helpers the operations share: S3's dates, ETags, ranges, integer parameters and
// the XML answer shape.
import { S3Error } from '../s3/errors.js';
import type { LocalResponse } from './types.js';
import { xmlDocument, type XmlNode } from './xml.js';

export { etagListMatches, unquote } from '../s3/etag.js';

export const OWNER = { ID: 's3gate-local', DisplayName: 's3gate-local' };
export const MAX_XML_BODY = 16 * 1024 * 1024;
export const REDIRECT_LOCATION = 'x-amz-website-redirect-location';
const STORED_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires', REDIRECT_LOCATION];
export const STORAGE_CLASS = 'x-amz-storage-class';
// The classes an object in a general purpose bucket may have, and is served from as it is.
const SERVED_CLASSES = new Set(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR']);

export function xml(status: number, root: string, body: Record<string, XmlNode>, headers: Record<string, string> = {}): LocalResponse {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: xmlDocument(root, body) };
}

export function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function md5Quoted(hex: string): string {
  return `"${hex}"`;
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** HTTP dates carry whole seconds, so comparisons against them must too. */
export function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

export function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : seconds(t);
}

export function storedHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    const n = name.toLowerCase();
    if (n.startsWith('x-amz-meta-') || STORED_HEADERS.includes(n)) out[n] = value;
  }
  const storageClass = requestedStorageClass(h);
  if (storageClass !== undefined) out[STORAGE_CLASS] = storageClass;
  // aws-chunked describes the transfer, not the object; S3 drops it from the stored encoding.
  if (out['content-encoding'] !== undefined) {
    const rest = out['content-encoding'].split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked');
    if (rest.length) out['content-encoding'] = rest.join(', ');
    else delete out['content-encoding'];
  }
  out['content-type'] ??= 'binary/octet-stream';
  return out;
}

/**
 * The request's x-amz-storage-class, kept with the object as S3 keeps it (HEAD and GET name it,
 * listings give it); STANDARD, the default, is not named. An archived class (GLACIER,
 * DEEP_ARCHIVE) is refused: S3 serves such an object only after a RestoreObject, which the store
 * does not keep; anything else S3 does not have is InvalidStorageClass.
 */
export function requestedStorageClass(h: Record<string, string>): string | undefined {
  const v = h[STORAGE_CLASS];
  if (v === undefined || v === 'STANDARD') return undefined;
  if (v === 'GLACIER' || v === 'DEEP_ARCHIVE') throw new S3Error('NotImplemented', `The local store does not keep archived objects (${v} needs RestoreObject).`);
  if (!SERVED_CLASSES.has(v)) throw new S3Error('InvalidStorageClass', undefined, { StorageClassRequested: v });
  return v;
}

/** An object's or upload's storage class, as listings name it. */
export function storageClassOf(headers: Record<string, string>): string {
  return headers[STORAGE_CLASS] ?? 'STANDARD';
}

export function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: v });
  return Math.min(Number(v), max);
}

/** Single-range `bytes=` only; anything S3 would ignore yields undefined (whole object). */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined {
  if (h === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const invalid = () => new S3Error('InvalidRange', undefined, { RangeRequested: h, ActualObjectSize: String(size) });
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw invalid();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw invalid();
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

export async function readSmall(body: NodeJS.ReadableStream, limit = MAX_XML_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer | string>) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > limit) throw new S3Error('MalformedXML', 'Request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, URL-encoded. */
export function parseCopySource(v: string): { bucket: string; key: string } {
  const raw = v.split('?')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
  const s = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const at = s.indexOf('/');
  if (at <= 0 || at === s.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  return { bucket: s.slice(0, at), key: s.slice(at + 1) };
}
