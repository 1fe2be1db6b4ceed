// Header and query names in lower case, each lower-cased once. String.prototype.toLowerCase makes
// a new string on every call, lower case or not (about 32 B for a header name on Node 22), and a
// fresh string used as a property key is looked up in V8's string table before every store.
// Names repeat from request to request, so each one's lower-case form is kept, the first
// NAMES_KEPT of them (up to NAME_LENGTH_KEPT characters each), and the same string comes back
// every time. Past that bound a name is lower-cased as before: no client can grow the table.
const LOWER = new Map<string, string>();
const NAMES_KEPT = 1024;
const NAME_LENGTH_KEPT = 64;

/** `name.toLowerCase()`, without a new string for a name seen before. */
export function lowerCase(name: string): string {
  let lower = LOWER.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    // A name already in lower case maps to itself: the string handed back is the key's.
    if (lower === name) lower = name;
    if (LOWER.size < NAMES_KEPT && name.length <= NAME_LENGTH_KEPT) LOWER.set(name, (lower = internalized(lower)));
  }
  return lower;
}

/**
 * The same text as V8's one copy of it, the copy every string literal and property name is: its
 * hash is computed already, and comparing it with the same literal (the name Sets of
 * authorize/view.ts, a header map's keys) is one pointer comparison instead of one over the
 * characters. Done once per name kept.
 */
export function internalized(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
}
