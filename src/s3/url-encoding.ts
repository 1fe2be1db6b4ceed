// `encoding-type=url`, the one way S3 writes it, for every listing s3gate or its store answers.
const KEEP: boolean[] = Array.from({ length: 256 }, (_, b) => /[A-Za-z0-9.\-_*/]/.test(String.fromCharCode(b)) && b < 0x80);
const HEX: string[] = Array.from({ length: 256 }, (_, b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'));

/**
 * `encoding-type=url` as S3 writes it: Java's URLEncoder over the key's UTF-8 bytes with '/' left
 * as it is. Kept: A-Z a-z 0-9 and `. - _ * /`; a space becomes '+'; every other byte is %XX in
 * upper case, so `~ ! ' ( )` are encoded where encodeURIComponent would keep them. Clients undo it
 * with unquote_plus (botocore) or decodeURIComponent after '+' → ' ', which round-trips any key.
 * RGW 16 writes its own variant (space as %20, '/' as %2F, `~ ! ' ( ) * $` kept) and encodes only
 * Key: the tests say where (test/local/encoding.test.ts).
 */
export function urlEncodeKey(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (KEEP[byte]) out += String.fromCharCode(byte);
    else if (byte === 0x20) out += '+';
    else out += HEX[byte];
  }
  return out;
}
