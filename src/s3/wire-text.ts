// Node reads a header value as latin1, one char per byte. Clients send text beyond ASCII in a
// header as its UTF-8 (botocore's x-amz-meta-*, the Ruby SDK's copy_source and tagging strings),
// and the provider reads those bytes as UTF-8: where s3gate reads the text itself, so must it.
import { isUtf8 } from 'node:buffer';

/** The text a header value's bytes are in UTF-8; the value itself when ASCII; undefined when its bytes are not UTF-8. */
export function utf8FromWire(v: string): string | undefined {
  if (!/[^\x00-\x7f]/.test(v)) return v;
  if (/[^\x00-\xff]/.test(v)) return undefined;
  const bytes = Buffer.from(v, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

/** Text as a header value whose bytes are its UTF-8, one char per byte, the way Node and undici write a header. */
export function utf8ToWire(text: string): string {
  return /[^\x00-\x7f]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}
