// ETags as S3 compares them: quoted or not, a weak prefix ignored, `*` matching any.

export function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** An If-Match / If-None-Match list against an ETag. */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => t.trim() === '*' || unquote(t) === unquote(etag));
}
