import type { Action, BucketRoute, GatewayKey, Grant } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import { actionsOf, IAM_ACTIONS } from './iam.js';
import { LISTINGS } from './operation.js';
import type { RequestView } from './view.js';
import type { AnonymousAccess } from './anonymous.js';

/**
 * Does the key hold `action` on bucket (and key, for prefix-limited grants)? `iam`: the IAM
 * action the request needs (authorize/iam.ts), which a session policy's grants are held to.
 */
export function allows(key: GatewayKey, action: Action, bucket: string, objectKey?: string, listPrefix?: string, iam?: string): boolean {
  for (const g of key.allow) {
    if (g.bucket !== '*' && g.bucket !== bucket) continue;
    if (!g.actions.includes(action)) continue;
    if (g.level !== undefined && !exactlyAllows(g, iam)) continue;
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
export function allowsWholeBucket(key: GatewayKey, action: Action, bucket: string, iam?: string): boolean {
  return key.allow.some((g) => (g.bucket === '*' || g.bucket === bucket) && g.actions.includes(action) && !g.prefix
    && (g.level === undefined || exactlyAllows(g, iam)));
}

/** Whether grants are a session policy's, held to their IAM actions (only a session's can be). */
export function heldToActions(grants: readonly Grant[]): boolean {
  return grants.some((g) => g.level !== undefined);
}

/** A session policy's grant allows the IAM action `iam` (lower-cased): one of its kind of resource, and named by it. */
function exactlyAllows(g: Grant, iam: string | undefined): boolean {
  if (iam === undefined || IAM_ACTIONS.get(iam)?.level !== g.level) return false;
  return g.only === undefined || g.only.includes(iam);
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
  // Only a session's grants can come from a policy: a configured key's request skips the search.
  if (key.session !== undefined && heldToActions(key.allow)) return exactAllows(key, view, bucket);
  const src = view.copySource;
  if (src && !allows(key, 'read', src.bucket, src.key)) return false;
  return allowsOne(key, view, bucket, view.operation.action);
}

function allowsOne(key: GatewayKey, view: RequestView, bucket: string, action: Action, iam?: string): boolean {
  const op = view.operation;
  if (view.key !== undefined) return allows(key, action, bucket, view.key, undefined, iam);
  if (LISTINGS.has(op.name)) return allows(key, action, bucket, undefined, view.listPrefix, iam);
  if (op.name === 'DeleteObjects') {
    // The body may name keys or versions: each is checked with its own action once it is read.
    const alsoVersion = iam === 'deleteobject' ? 'deleteobjectversion' : iam;
    return key.allow.some((g) => (g.bucket === '*' || g.bucket === bucket) && g.actions.includes(action)
      && (g.level === undefined || exactlyAllows(g, iam) || exactlyAllows(g, alsoVersion)));
  }
  return allowsWholeBucket(key, action, bucket, iam);
}

/**
 * A session whose policy named actions: every IAM action the request needs (its operation's,
 * those its headers add, the copy source's read) must be allowed on its own resource, as IAM
 * evaluates each. An operation no policy can name is allowed nowhere.
 */
function exactAllows(key: GatewayKey, view: RequestView, bucket: string): boolean {
  const needed = actionsOf(view);
  if (needed === undefined) return false;
  const src = view.copySource;
  if (src && !allows(key, 'read', src.bucket, src.key, undefined, src.versionId !== undefined ? 'getobjectversion' : 'getobject')) return false;
  for (let i = 0; i < needed.length; i++) {
    const iam = needed[i]!;
    if (!allowsOne(key, view, bucket, i === 0 ? view.operation.action : IAM_ACTIONS.get(iam)!.cls, iam)) return false;
  }
  return true;
}

/** Anonymous: what the bucket's `public` setting allows (authorize/anonymous.ts), never a copy or a bucket's settings. */
function anonymousAllows(view: RequestView, anonymous: AnonymousAccess | undefined): boolean {
  if (view.copySource) return false;
  if (view.key === undefined && !LISTINGS.has(view.operation.name)) return false;
  return anonymous !== undefined && anonymous !== 'refused';
}

/**
 * One key (or version) of a DeleteObjects body inside the key's delete grants; `bypass`: the
 * request bypasses governance retention, which a session policy must allow as well.
 */
export function deleteKeyAllowed(key: GatewayKey, bucket: string, k: string, versionId?: string, bypass = false): boolean {
  if (!allows(key, 'delete', bucket, k, undefined, versionId !== undefined ? 'deleteobjectversion' : 'deleteobject')) return false;
  // A configured key's delete class covers the bypass; a session policy has to name it.
  if (!bypass || !heldToActions(key.allow)) return true;
  return allows(key, 'write', bucket, k, undefined, 'bypassgovernanceretention');
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
