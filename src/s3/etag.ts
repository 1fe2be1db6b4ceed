// ETags as S3 compares them: quoted or not, a weak prefix ignored, `*` matching any; and as S3
// makes a multipart object's.
import { createHash } from 'node:crypto';

export function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** An If-Match / If-None-Match list against an ETag. */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => t.trim() === '*' || unquote(t) === unquote(etag));
}

/**
 * The ETag S3 gives the object a CompleteMultipartUpload body makes: the MD5 of its parts' MD5s,
 * then `-` and their count. Undefined unless every part's ETag is an MD5 (an SSE-KMS or SSE-C
 * part's is not, and neither is a provider's own scheme).
 */
export function multipartEtag(completeXml: string): string | undefined {
  const md5s: Buffer[] = [];
  for (const part of completeXml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const etag = /<ETag>([^<]*)<\/ETag>/.exec(part[1]!)?.[1];
    const hex = etag === undefined ? undefined : unquote(etag.replaceAll('&quot;', '"').replaceAll('&#34;', '"'));
    if (hex === undefined || !/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
    md5s.push(Buffer.from(hex, 'hex'));
  }
  if (md5s.length === 0) return undefined;
  return `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}"`;
}
