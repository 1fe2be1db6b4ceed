// Grant arithmetic for sessions. A session's grants are the role's narrowed by a session policy,
// and, after a reload, narrowed again by the role as it now stands: both are intersections, and
// an intersection can only take away.
import type { Grant } from '../config/types.js';

/**
 * The grant allowing exactly what both `a` and `b` allow, or undefined. Prefixes nest or do not
 * meet: no key starts with two prefixes neither of which starts with the other.
 */
function meet(a: Grant, b: Grant): Grant | undefined {
  const bucket = a.bucket === '*' ? b.bucket : b.bucket === '*' || b.bucket === a.bucket ? a.bucket : undefined;
  if (bucket === undefined) return undefined;
  const pa = a.prefix ?? '';
  const pb = b.prefix ?? '';
  const prefix = pa.startsWith(pb) ? pa : pb.startsWith(pa) ? pb : undefined;
  if (prefix === undefined) return undefined;
  const actions = a.actions.filter((x) => b.actions.includes(x));
  if (!actions.length) return undefined;
  // A policy's grant is held to its kind of resource and its actions (authorize/iam.ts): both
  // sides' limits hold, and two kinds of resource never meet.
  if (a.level !== undefined && b.level !== undefined && a.level !== b.level) return undefined;
  const level = a.level ?? b.level;
  const only = a.only && b.only ? a.only.filter((x) => b.only!.includes(x)) : (a.only ?? b.only);
  if (only && !only.length) return undefined;
  return { bucket, ...(prefix ? { prefix } : {}), actions, ...(level ? { level } : {}), ...(only ? { only: [...only] } : {}) };
}

/**
 * What both grant lists allow. `allows(intersect(A, B), r)` is `allows(A, r) && allows(B, r)`
 * for every request r (test/sts/grants.test.ts checks it over random grants and requests).
 */
export function intersect(a: readonly Grant[], b: readonly Grant[]): Grant[] {
  const out: Grant[] = [];
  for (const x of a) {
    for (const y of b) {
      const m = meet(x, y);
      if (m) out.push(m);
    }
  }
  return out;
}

const PLACEHOLDER = /\$\{([^}]+)\}/g;

/** The claim names a role's grants use, as `${name}`. */
export function placeholders(grants: readonly Grant[]): string[] {
  const names = new Set<string>();
  for (const g of grants) for (const s of [g.bucket, g.prefix ?? '']) for (const m of s.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return [...names];
}

/** The role's grants with `${name}` filled in; every name must have a value (the caller checked). */
export function fill(grants: readonly Grant[], vars: Record<string, string>): Grant[] {
  const sub = (s: string) => s.replace(PLACEHOLDER, (_m, n: string) => vars[n] ?? '');
  return grants.map((g) => {
    const out: Grant = { bucket: sub(g.bucket), actions: [...g.actions] };
    if (g.prefix) out.prefix = sub(g.prefix);
    if (g.level) out.level = g.level;
    if (g.only) out.only = [...g.only];
    return out;
  });
}
