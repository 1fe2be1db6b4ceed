import type { Action, BucketRoute, GatewayKey } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import { LISTINGS } from './operation.js';
import type { RequestView } from './view.js';
import type { AnonymousAccess } from './anonymous.js';

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

/** Does the key hold `action` on the whole bucket: a grant with no prefix? */
export function allowsWholeBucket(key: GatewayKey, action: Action, bucket: string): boolean {
  return key.allow.some((g) => (g.bucket === '*' || g.bucket === bucket) && g.actions.includes(action) && !g.prefix);
}

/**
 * The decision on a request's one view: every resource it names is inside the key's grants.
 * The target object; a listing's own prefix; the whole bucket for anything else at bucket level
 * (its settings, creating or deleting it); the copy source. DeleteObjects' keys are in its body:
 * here the key must hold delete on the bucket at all, and `deleteKeyAllowed` checks each key
 * once the body is read (a key outside is answered AccessDenied on its own, as S3 does).
 */
export function authorizeView(view: RequestView, key: GatewayKey | undefined, bucket: string, anonymous?: AnonymousAccess): void {
  const op = view.operation;
  if (op.name === 'RenameObject' || op.name === 'UpdateObjectEncryption') throw new S3Error('NotImplemented', `${op.name} is not supported.`);
  // Nothing falls through to the provider as a default: a method S3 does not define, or a POST to
  // an object that names none of its operations (uploads, uploadId, restore, select), is refused.
  if (op.name === 'Unknown') throw new S3Error('MethodNotAllowed');
  if (op.name === 'PostObject' && view.key !== undefined) {
    throw new S3Error('NotImplemented', 'A POST to an object must name its operation (uploads, uploadId, restore or select).');
  }
  if (!(key ? keyAllows(key, view, bucket) : anonymousAllows(view, anonymous))) throw new S3Error('AccessDenied');
}

function keyAllows(key: GatewayKey, view: RequestView, bucket: string): boolean {
  const op = view.operation;
  const src = view.copySource;
  if (src && !allows(key, 'read', src.bucket, src.key)) return false;
  if (view.key !== undefined) return allows(key, op.action, bucket, view.key);
  if (LISTINGS.has(op.name)) return allows(key, op.action, bucket, undefined, view.listPrefix);
  if (op.name === 'DeleteObjects') return key.allow.some((g) => (g.bucket === '*' || g.bucket === bucket) && g.actions.includes('delete'));
  return allowsWholeBucket(key, op.action, bucket);
}

/** Anonymous: what the bucket's `public` setting allows (authorize/anonymous.ts), never a copy or a bucket's settings. */
function anonymousAllows(view: RequestView, anonymous: AnonymousAccess | undefined): boolean {
  if (view.copySource) return false;
  if (view.key === undefined && !LISTINGS.has(view.operation.name)) return false;
  return anonymous !== undefined && anonymous !== 'refused';
}

/** One key of a DeleteObjects body inside the key's delete grants. */
export function deleteKeyAllowed(key: GatewayKey, bucket: string, k: string): boolean {
  return allows(key, 'delete', bucket, k);
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
