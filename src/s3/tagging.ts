// S3's two spellings of an object's tags: the Tagging XML (GetObjectTagging's answer, a POST
// form's `tagging` field) and the x-amz-tagging header (PutObject, CreateMultipartUpload), a
// URL query string of key=value pairs.
import { S3Error, unescapeXml } from './errors.js';

/** A Tagging document as an x-amz-tagging value, each key and value URL-encoded ('' for no tags). */
export function taggingHeader(xml: string): string {
  const body = /^\s*(?:<\?xml[^>]*\?>\s*)?<Tagging(?:\s[^>]*)?>\s*(?:<TagSet>([\s\S]*)<\/TagSet>|<TagSet\s*\/>)\s*<\/Tagging>\s*$/.exec(xml);
  if (!body) throw new S3Error('MalformedXML');
  const tags: string[] = [];
  const rest = (body[1] ?? '').replace(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g, (_, k: string, v: string) => {
    tags.push(`${encodeURIComponent(unescapeXml(k))}=${encodeURIComponent(unescapeXml(v))}`);
    return '';
  });
  if (rest.trim() !== '') throw new S3Error('MalformedXML');
  return tags.join('&');
}

/** Two x-amz-tagging values name the same tags, in whatever order. */
export function sameTagging(a: string, b: string): boolean {
  const set = (s: string) => [...new URLSearchParams(s)].map(([k, v]) => `${k}\n${v}`).sort().join('\n\n');
  return set(a) === set(b);
}
