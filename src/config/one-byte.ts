// V8 stores a string in one byte per character when it is made that way, and every string sliced
// from a two-byte text is two-byte too, whatever it holds. A config file is two-byte as soon as
// it holds one character beyond Latin-1: the brackets that protectReferences puts around each
// `${VAR}` (so every config that reads a secret from the environment, proxy.yaml among them), or
// a dash or an accent in a comment. Then every key id, secret, region, endpoint and bucket name
// the gateway uses on each request was two-byte. JSON.stringify of the access line then switched
// to two-byte output through a 4 KiB buffer it mallocs and frees per request, and the hashing
// and the log's encoding took the UTF-16 paths: 345.1 → 343.2 k instructions per 4 KiB GET and
// 434.9 → 431.8 k per PUT (`node bench/instructions.mjs`), and no more 4 KiB malloc per request.

const LATIN1 = /^[\0-\xff]*$/;

/** `s` as a one-byte string when every character fits in one byte; otherwise `s` itself. */
export function oneByte(s: string): string {
  return LATIN1.test(s) ? Buffer.from(s, 'latin1').toString('latin1') : s;
}

/**
 * A parsed YAML document with every string in it, keys included, through oneByte. An alias makes
 * the parser hand back one object in several places, even inside itself (`a: &x { b: *x }`): each
 * object is copied once, so sharing and cycles stay as they were.
 */
export function oneByteStrings(v: unknown, copies = new Map<object, unknown>()): unknown {
  if (typeof v === 'string') return oneByte(v);
  if (typeof v !== 'object' || v === null) return v;
  const done = copies.get(v);
  if (done !== undefined) return done;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    copies.set(v, out);
    for (const x of v) out.push(oneByteStrings(x, copies));
    return out;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  copies.set(v, out);
  // defineProperty: a `__proto__` key stays a key, as the parser made it.
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, oneByte(k), { value: oneByteStrings(x, copies), enumerable: true, writable: true, configurable: true });
  return out;
}
