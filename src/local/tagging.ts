// Object and bucket tags as S3 validates them: counts, lengths, characters, duplicates.
import { S3Error } from '../s3/errors.js';
import { requireRoot, xmlBlocks, xmlLeaf } from './xml.js';
import { xml } from './http.js';
import type { LocalResponse, Tag } from './types.js';
import { utf8FromWire } from '../s3/wire-text.js';

export const MAX_OBJECT_TAGS = 10;
export const MAX_BUCKET_TAGS = 50;
// S3's documented tag alphabet: Unicode letters, digits, white space and + - = . _ : / @
const ALLOWED = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function validate(tags: Tag[], max: number, kind: 'object' | 'bucket'): Tag[] {
  if (tags.length > max) {
    throw kind === 'object'
      ? new S3Error('BadRequest', `Object tags cannot be greater than ${max}`)
      : new S3Error('InvalidTag', `Bucket tag count cannot be greater than ${max}`);
  }
  const seen = new Set<string>();
  for (const { Key, Value } of tags) {
    if ([...Key].length < 1 || [...Key].length > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is too long, max 128', { TagKey: Key });
    if ([...Value].length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is too long, max 256', { TagKey: Key, TagValue: Value });
    if (!ALLOWED.test(Key)) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: Key });
    if (!ALLOWED.test(Value)) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid', { TagKey: Key, TagValue: Value });
    if (Key.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:', { TagKey: Key });
    if (seen.has(Key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: Key });
    seen.add(Key);
  }
  return tags;
}

/** A `<Tagging>` request body. */
export function parseTaggingXml(doc: string, kind: 'object' | 'bucket'): Tag[] {
  requireRoot(doc, 'Tagging');
  const tags = xmlBlocks(doc, 'Tag').map((t) => {
    const Key = xmlLeaf(t, 'Key');
    if (Key === undefined) throw new S3Error('MalformedXML');
    return { Key, Value: xmlLeaf(t, 'Value') ?? '' };
  });
  return validate(tags, kind === 'object' ? MAX_OBJECT_TAGS : MAX_BUCKET_TAGS, kind);
}

/** The `x-amz-tagging` header: a URL query string of key=value pairs. */
export function parseTaggingHeader(v: string | undefined): Tag[] | undefined {
  if (v === undefined) return undefined;
  // A query string whose text beyond ASCII came unescaped, as its UTF-8 (the Ruby SDK sends `tagging: "k=ü"` so).
  const tags = [...new URLSearchParams(utf8FromWire(v) ?? v)].map(([Key, Value]) => ({ Key, Value }));
  return validate(tags, MAX_OBJECT_TAGS, 'object');
}

export function taggingResponse(tags: Tag[]): LocalResponse {
  return xml(200, 'Tagging', { TagSet: { Tag: tags.map((t) => ({ Key: t.Key, Value: t.Value })) } });
}

/** Headers a GET/HEAD carries for a tagged object. */
export function tagCountHeader(tags: Tag[] | undefined): Record<string, string> {
  return tags && tags.length ? { 'x-amz-tagging-count': String(tags.length) } : {};
}
