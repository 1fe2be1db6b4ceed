// Deciding, without I/O, whether an object needs copying and whether two copies are the same.
// An ETag is the MD5 of the bytes only for single-part uploads; a multipart ETag (`md5-N`)
// depends on the part size, so two identical objects uploaded differently disagree on it.

export interface ObjectState {
  size: number;
  /** without quotes */
  etag: string;
  lastModified?: string;
  /** x-amz-checksum-<algorithm> values, by lower-case algorithm */
  checksums?: Record<string, string>;
  /** x-amz-tagging-count where the answer carried it (a GET always does, a HEAD at some providers) */
  tagCount?: number;
}

/** What the journal remembers of a copy we made. */
export interface CopiedRecord {
  size: number;
  /** the source's ETag and Last-Modified at the time of the copy */
  etag: string;
  lastModified: string;
  /** the destination's ETag after the copy */
  destEtag?: string;
  /** the destination's Last-Modified for the copy (journals from before it was kept have none) */
  destLastModified?: string;
}

export type Difference = 'missing' | 'size' | 'etag' | 'checksum' | 'content' | 'tags';

export type Verdict =
  | { same: true; by: 'etag' | 'checksum' | 'journal' }
  | { same: false; difference: Difference; detail: string };

export const isMultipartEtag = (etag: string): boolean => /-\d+$/.test(etag);

/**
 * Is `dest` already the source object? `copied` is the journal's record for this key, the only
 * witness left when ETags cannot be compared and neither side has a checksum.
 */
export function compare(src: ObjectState, dest: ObjectState | undefined, copied?: CopiedRecord): Verdict {
  if (!dest) return { same: false, difference: 'missing', detail: 'not at the destination' };
  if (dest.size !== src.size) return { same: false, difference: 'size', detail: `size ${dest.size} at the destination, ${src.size} at the source` };
  if (src.etag !== '' && src.etag === dest.etag) return { same: true, by: 'etag' };
  if (!isMultipartEtag(src.etag) && !isMultipartEtag(dest.etag)) {
    return { same: false, difference: 'etag', detail: `ETag ${dest.etag} at the destination, ${src.etag} at the source` };
  }
  const common = Object.keys(src.checksums ?? {}).filter((a) => dest.checksums?.[a] !== undefined);
  if (common.length) {
    const bad = common.find((a) => src.checksums![a] !== dest.checksums![a]);
    if (bad) return { same: false, difference: 'checksum', detail: `x-amz-checksum-${bad} differs` };
    return { same: true, by: 'checksum' };
  }
  // Different part layouts and no checksum: only our own record of having copied this very
  // version (same ETag, size and Last-Modified at the source) vouches for the destination.
  if (copied && copied.size === src.size && copied.etag === src.etag && sameInstant(copied.lastModified, src.lastModified) && copied.destEtag !== undefined && copied.destEtag === dest.etag) {
    return { same: true, by: 'journal' };
  }
  return { same: false, difference: 'etag', detail: `ETags ${src.etag} and ${dest.etag} come from different part layouts, no checksum on both sides and no journal record of the copy` };
}

/**
 * The destination holds exactly the copy this migration wrote: the journal's record, the ETag and
 * the Last-Modified agree. The ETag alone would not do: a client's write of the same bytes (a
 * re-upload with other metadata, a CopyObject onto itself) keeps it. A record without the
 * Last-Modified (journals from before it was kept) proves nothing.
 */
export function isOurCopy(copied: CopiedRecord | undefined, dest: ObjectState): boolean {
  return copied?.destEtag !== undefined && copied.destEtag !== '' && copied.destEtag === dest.etag && sameInstant(copied.destLastModified, dest.lastModified);
}

/** Providers write Last-Modified as ISO 8601 in listings and as an HTTP date in HEAD. */
export function sameInstant(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const x = Date.parse(a);
  const y = Date.parse(b);
  // HTTP dates carry whole seconds, listings milliseconds.
  return Number.isFinite(x) && Number.isFinite(y) && Math.floor(x / 1000) === Math.floor(y / 1000);
}

export interface PartRange {
  partNumber: number;
  start: number;
  /** inclusive, as in a Range header */
  end: number;
}

/** S3 allows at most 10,000 parts: the part size grows (in whole MiB) when it has to. */
export function partRanges(size: number, partSize: number): PartRange[] {
  let ps = partSize;
  if (Math.ceil(size / ps) > 10_000) ps = Math.ceil(size / 10_000 / MiB) * MiB;
  const out: PartRange[] = [];
  for (let start = 0, n = 1; start < size; start += ps, n++) out.push({ partNumber: n, start, end: Math.min(size, start + ps) - 1 });
  return out;
}

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: MiB, g: 1e9, gb: 1e9, gib: 1024 * MiB };

/** `64MiB`, `16MB`, `5242880`. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${s}" is not a size (e.g. 64MiB, 16MB, 5242880)`);
  return Math.round(Number(m[1]) * unit);
}

/** S3's multipart limits: parts of 5 MiB..5 GiB, except the last. */
export function checkPartSize(partSize: number): string | undefined {
  if (partSize < 5 * MiB) return 'must be at least 5MiB (S3 refuses smaller parts)';
  if (partSize > 5 * 1024 * MiB) return 'must be at most 5GiB';
  return undefined;
}
