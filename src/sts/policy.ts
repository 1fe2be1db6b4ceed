// Session policies: the IAM JSON a caller passes to AssumeRole(WithWebIdentity) to narrow the
// role for one session. s3gate grants in five classes (read, write, list, delete, admin) over a
// bucket and a key prefix; a policy is turned into such grants and intersected with the role's,
// so it can only take away. A class comes only from its main action (s3:GetObject for read…),
// never from a lesser action of it, which would round the policy up to more than IAM allows. Whatever cannot be expressed that way (Deny, NotAction, a condition
// other than a listing prefix, an exact key, a wildcard inside a name) is refused as
// MalformedPolicyDocument, never dropped: a dropped Deny or condition would widen the session.
import type { Action, Grant } from '../config/types.js';

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

// Each IAM action names the s3gate class that authorizes its operation (authorize/operation.ts's
// classify): bucket settings s3gate lets a reader see are `read`, those that carry the
// provider's account (src/s3/provider-details.ts) are `admin`, as for a configured key.
const CLASSES: Record<Action, readonly string[]> = {
  read: [
    'GetObject', 'GetObjectVersion', 'GetObjectTagging', 'GetObjectVersionTagging', 'GetObjectRetention', 'GetObjectLegalHold',
    'GetObjectAttributes', 'GetObjectVersionAttributes', 'GetObjectTorrent', 'GetObjectVersionTorrent', 'ListMultipartUploadParts',
    'GetBucketLocation', 'GetBucketCORS', 'GetBucketTagging', 'GetBucketVersioning', 'GetBucketWebsite', 'GetLifecycleConfiguration',
    'GetBucketRequestPayment', 'GetBucketObjectLockConfiguration', 'GetBucketOwnershipControls', 'GetBucketPublicAccessBlock',
    'GetAccelerateConfiguration',
  ],
  write: [
    'PutObject', 'PutObjectAcl', 'PutObjectVersionAcl', 'PutObjectTagging', 'PutObjectVersionTagging', 'DeleteObjectTagging',
    'DeleteObjectVersionTagging', 'PutObjectRetention', 'PutObjectLegalHold', 'AbortMultipartUpload', 'RestoreObject',
  ],
  delete: ['DeleteObject', 'DeleteObjectVersion'],
  list: ['ListBucket', 'ListBucketVersions', 'ListBucketMultipartUploads'],
  admin: [
    'CreateBucket', 'DeleteBucket', 'PutBucketAcl', 'PutBucketCORS', 'PutBucketLogging', 'PutBucketNotification',
    'PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketRequestPayment', 'PutBucketTagging', 'PutBucketVersioning',
    'PutBucketWebsite', 'DeleteBucketWebsite', 'PutEncryptionConfiguration', 'PutLifecycleConfiguration',
    'PutReplicationConfiguration', 'PutBucketObjectLockConfiguration', 'PutBucketOwnershipControls',
    'PutBucketPublicAccessBlock', 'PutAccelerateConfiguration', 'PutInventoryConfiguration', 'PutAnalyticsConfiguration',
    'PutMetricsConfiguration', 'PutIntelligentTieringConfiguration',
    'GetObjectAcl', 'GetObjectVersionAcl', 'GetBucketAcl', 'GetBucketPolicy', 'GetBucketPolicyStatus', 'GetBucketLogging',
    'GetBucketNotification', 'GetEncryptionConfiguration', 'GetReplicationConfiguration', 'GetInventoryConfiguration',
    'GetAnalyticsConfiguration', 'GetMetricsConfiguration', 'GetIntelligentTieringConfiguration',
  ],
};
const CLASS_OF = new Map<string, Action>();
for (const [cls, names] of Object.entries(CLASSES) as [Action, readonly string[]][]) for (const n of names) CLASS_OF.set(n.toLowerCase(), cls);

// A class is the unit s3gate grants, so a policy that allows one action of a class would allow
// the whole class: more than IAM would (s3:ListMultipartUploadParts is no GetObject). A class is
// granted only by a statement that allows its main action, the one IAM action that already
// allows the heart of the class. admin (creating and deleting buckets, every setting, the
// provider's details) has no such action: only a statement that allows all of it, s3:*, grants it.
const MAIN: Record<Action, readonly string[]> = {
  read: ['GetObject'], write: ['PutObject'], delete: ['DeleteObject'], list: ['ListBucket'], admin: CLASSES.admin,
};
const OBJECT_LEVEL: readonly Action[] = ['read', 'write', 'delete'];
// s3gate answers ListBuckets to every key, filtered to its grants: naming it grants nothing more.
const ALWAYS = new Set(['listallmybuckets']);

// A bucket name as S3 accepts it: lower case, digits, dots and hyphens (underscores too, which
// some providers allow). A wildcard or a variable in it fails this as well.
const BUCKET = /^[a-z0-9][a-z0-9.\-_]{1,254}$/;

const list = (v: unknown, what: string): string[] => {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string')) return v as string[];
  throw new PolicyError(`${what} must be a string or a non-empty list of strings`);
};

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
}

const mainNames = (cls: Action): string => (cls === 'admin' ? 's3:*' : `s3:${MAIN[cls][0]!}`);

/**
 * The classes a statement's actions grant: those whose main actions it allows. An explicitly
 * named action of any other class is refused (the caller asked for it, and would silently get
 * either nothing or the whole class); a wildcard only ever yields the classes whose main action
 * it matches. An action s3gate does not know is refused.
 */
function classesOf(actions: string[]): Set<Action> {
  const allowed = new Set<string>();
  const named: [string, Action][] = [];
  for (const a of actions) {
    const m = /^s3:(.+)$/i.exec(a);
    if (!m) throw new PolicyError(`Action "${a}": a session policy on s3gate names s3 actions only`);
    const name = m[1]!.toLowerCase();
    if (name.includes('*') || name.includes('?')) {
      const re = globToRegExp(name);
      let any = false;
      for (const n of CLASS_OF.keys()) if (re.test(n)) { allowed.add(n); any = true; }
      if (!any && ![...ALWAYS].some((n) => re.test(n))) throw new PolicyError(`Action "${a}" matches no S3 action s3gate knows`);
      continue;
    }
    const cls = CLASS_OF.get(name);
    if (cls) {
      allowed.add(name);
      named.push([a, cls]);
    } else if (!ALWAYS.has(name)) throw new PolicyError(`Action "${a}" is not an S3 action s3gate knows`);
  }
  const out = new Set<Action>();
  for (const cls of Object.keys(MAIN) as Action[]) if (MAIN[cls].every((n) => allowed.has(n.toLowerCase()))) out.add(cls);
  for (const [a, cls] of named) {
    if (out.has(cls)) continue;
    throw new PolicyError(`Action "${a}": s3gate grants it only as part of its ${cls} class, which a session policy allows with ${mainNames(cls)}; `
      + `add ${mainNames(cls)} to the statement (the session then gets the whole ${cls} class, docs/sts.md) or remove "${a}"`);
  }
  return out;
}

interface Target {
  bucket: string;
  /** undefined: the bucket itself (bucket-level classes); a string: objects under it */
  prefix?: string;
  /** both: "*" or arn:aws:s3:::* matches buckets and objects alike */
  both?: boolean;
}

function targetOf(resource: string): Target {
  if (resource === '*' || resource === 'arn:aws:s3:::*') return { bucket: '*', both: true };
  const m = /^arn:aws:s3:::([^/]+)(?:\/(.*))?$/.exec(resource);
  if (!m) throw new PolicyError(`Resource "${resource}" is not an S3 ARN (arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix*)`);
  const bucket = m[1]!;
  if (bucket !== '*' && !BUCKET.test(bucket)) {
    throw new PolicyError(/[*?]|\$\{/.test(bucket)
      ? `Resource "${resource}": s3gate cannot express a wildcard or variable inside a bucket name`
      : `Resource "${resource}": "${bucket}" is not a valid bucket name (lower-case letters, digits, dots and hyphens)`);
  }
  const rest = m[2];
  if (rest === undefined) {
    if (bucket === '*') throw new PolicyError(`Resource "${resource}"`);
    return { bucket };
  }
  // Objects under a prefix: the only form a grant expresses. An exact key, or a wildcard before
  // the end, would be widened to a prefix: refused.
  if (!rest.endsWith('*') || /[*?]/.test(rest.slice(0, -1)) || rest.includes('${')) {
    throw new PolicyError(`Resource "${resource}": s3gate grants key prefixes only (end it with a single trailing *)`);
  }
  return { bucket, prefix: rest.slice(0, -1) };
}

/** A listing condition: StringLike s3:prefix "p*" narrows the listing to prefix p. */
function listPrefixes(condition: unknown): string[] | undefined {
  if (condition === undefined) return undefined;
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) throw new PolicyError('Condition must be an object');
  const entries = Object.entries(condition as Record<string, unknown>);
  if (entries.length !== 1 || entries[0]![0] !== 'StringLike') {
    throw new PolicyError('Condition: s3gate expresses only StringLike on s3:prefix (a listing prefix)');
  }
  const block = entries[0]![1];
  if (typeof block !== 'object' || block === null || Array.isArray(block)) throw new PolicyError('Condition.StringLike must be an object');
  const keys = Object.entries(block as Record<string, unknown>);
  if (keys.length !== 1 || keys[0]![0] !== 's3:prefix') throw new PolicyError('Condition.StringLike: s3gate expresses only the s3:prefix key');
  return list(keys[0]![1], 'Condition.StringLike.s3:prefix').map((p) => {
    if (!p.endsWith('*') || /[*?]/.test(p.slice(0, -1)) || p.includes('${')) {
      throw new PolicyError(`Condition s3:prefix "${p}": s3gate expresses listing prefixes only (end it with a single trailing *)`);
    }
    return p.slice(0, -1);
  });
}

/** The grants a session policy allows, or PolicyError for anything s3gate cannot express. */
export function parsePolicy(text: string): Grant[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('Syntax errors in policy.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError('The policy must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!['Version', 'Id', 'Statement'].includes(k)) throw new PolicyError(`Policy document: unknown element "${k}"`);
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw new PolicyError(`Version "${String(d.Version)}" is not a policy language version`);
  const statements = Array.isArray(d.Statement) ? d.Statement : d.Statement !== undefined ? [d.Statement] : undefined;
  if (!statements?.length) throw new PolicyError('The policy has no Statement');
  const grants: Grant[] = [];
  for (const [i, s] of statements.entries()) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new PolicyError(`Statement ${i}: must be an object`);
    const st = s as Record<string, unknown>;
    for (const k of Object.keys(st)) {
      if (!['Sid', 'Effect', 'Action', 'Resource', 'Condition'].includes(k)) {
        throw new PolicyError(`Statement ${i}: s3gate cannot express "${k}" in a session policy`);
      }
    }
    if (st.Effect !== 'Allow') throw new PolicyError(`Statement ${i}: Effect must be Allow (s3gate cannot express "${String(st.Effect)}")`);
    if (st.Action === undefined) throw new PolicyError(`Statement ${i}: Action is required`);
    if (st.Resource === undefined) throw new PolicyError(`Statement ${i}: Resource is required`);
    const classes = classesOf(list(st.Action, `Statement ${i}: Action`));
    const targets = list(st.Resource, `Statement ${i}: Resource`).map(targetOf);
    const prefixes = listPrefixes(st.Condition);
    for (const t of targets) {
      const objectClasses = [...classes].filter((c) => OBJECT_LEVEL.includes(c));
      const bucketClasses = [...classes].filter((c) => !OBJECT_LEVEL.includes(c));
      // With an s3:prefix condition only listings carry the key, so only `list` can match.
      if (prefixes) {
        if (bucketClasses.includes('list') && (t.both || t.prefix === undefined)) {
          for (const p of prefixes) grants.push(p ? { bucket: t.bucket, prefix: p, actions: ['list'] } : { bucket: t.bucket, actions: ['list'] });
        }
        continue;
      }
      if ((t.both || t.prefix !== undefined) && objectClasses.length) {
        const prefix = t.prefix ?? '';
        grants.push(prefix ? { bucket: t.bucket, prefix, actions: objectClasses } : { bucket: t.bucket, actions: objectClasses });
      }
      if ((t.both || t.prefix === undefined) && bucketClasses.length) grants.push({ bucket: t.bucket, actions: bucketClasses });
    }
  }
  return grants;
}
