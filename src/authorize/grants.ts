import type { Action, BucketRoute, GatewayKey } from '../config/types.js';
import { S3Error } from '../s3/errors.js';

/** Does the key hold `action` on bucket (and key, for prefix-limited grants)? */
export function allows(key: GatewayKey, action: Action, bucket: string, objectKey?: string, listPrefix?: string): boolean {
  for (const g of key.allow) {
    if (g.bucket !== '*' && g.bucket !== bucket) continue;
    if (!g.actions.includes(action)) continue;
    if (g.prefix) {
      // An object must sit under the prefix; a listing must ask for a prefix inside it.
      const subject = objectKey ?? listPrefix;
      if (subject === undefined || !subject.startsWith(g.prefix)) continue;
    }
    return true;
  }
  return false;
}

/** Anonymous access as the bucket's `public` setting says. */
/** `public: read` / `list`: anonymous requests s3gate grants and signs itself (`acl` and `none` grant none). */
export function publicAllows(route: BucketRoute | undefined, action: Action): boolean {
  if (route?.public !== 'read' && route?.public !== 'list') return false;
  if (action === 'read') return true;
  return action === 'list' && route.public === 'list';
}

export function requireGrant(ok: boolean): void {
  if (!ok) throw new S3Error('AccessDenied');
}

/** The buckets a key may list in ListBuckets: those it holds any grant on. */
export function visibleBuckets(key: GatewayKey, names: Iterable<string>): string[] {
  const out: string[] = [];
  for (const n of names) if (key.allow.some((g) => g.bucket === '*' || g.bucket === n)) out.push(n);
  return out;
}
