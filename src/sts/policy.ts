// Session policies: the IAM JSON a caller passes to AssumeRole(WithWebIdentity) to narrow the
// role for one session. s3gate grants in five classes (read, write, list, delete, admin) over a
// bucket and a key prefix; a policy is turned into such grants and intersected with the role's,
// so it can only take away. Whatever cannot be expressed that way (Deny, NotAction, a condition
// other than a listing prefix, an exact key, a wildcard inside a name) is refused as
// MalformedPolicyDocument, never dropped: a dropped Deny or condition would widen the session.
import type { Action, Grant } from '../config/types.js';

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

// Each IAM action names the s3gate class that carries it. Object-level classes (read, write,
// delete) match object ARNs (bucket/prefix*), bucket-level ones (list, admin) bucket ARNs, as IAM
// matches them.
const CLASSES: Record<Action, readonly string[]> = {
  read: [
    'GetObject', 'GetObjectVersion', 'GetObjectAcl', 'GetObjectVersionAcl', 'GetObjectTagging', 'GetObjectVersionTagging',
    'GetObjectRetention', 'GetObjectLegalHold', 'GetObjectAttributes', 'GetObjectVersionAttributes', 'ListMultipartUploadParts',
  ],
  write: [
    'PutObject', 'PutObjectAcl', 'PutObjectVersionAcl', 'PutObjectTagging', 'PutObjectVersionTagging', 'DeleteObjectTagging',
    'DeleteObjectVersionTagging', 'PutObjectRetention', 'PutObjectLegalHold', 'AbortMultipartUpload', 'RestoreObject',
  ],
  delete: ['DeleteObject', 'DeleteObjectVersion'],
  list: [
    'ListBucket', 'ListBucketVersions', 'ListBucketMultipartUploads', 'GetBucketLocation', 'GetBucketAcl', 'GetBucketCORS',
    'GetBucketLogging', 'GetBucketNotification', 'GetBucketPolicy', 'GetBucketRequestPayment', 'GetBucketTagging',
    'GetBucketVersioning', 'GetBucketWebsite', 'GetEncryptionConfiguration', 'GetLifecycleConfiguration',
    'GetReplicationConfiguration', 'GetBucketObjectLockConfiguration', 'GetBucketOwnershipControls',
    'GetBucketPublicAccessBlock', 'GetAccelerateConfiguration',
  ],
  admin: [
    'CreateBucket', 'DeleteBucket', 'PutBucketAcl', 'PutBucketCORS', 'PutBucketLogging', 'PutBucketNotification',
    'PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketRequestPayment', 'PutBucketTagging', 'PutBucketVersioning',
    'PutBucketWebsite', 'DeleteBucketWebsite', 'PutEncryptionConfiguration', 'PutLifecycleConfiguration',
    'PutReplicationConfiguration', 'PutBucketObjectLockConfiguration', 'PutBucketOwnershipControls',
    'PutBucketPublicAccessBlock', 'PutAccelerateConfiguration',
  ],
};
const CLASS_OF = new Map<string, Action>();
for (const [cls, names] of Object.entries(CLASSES) as [Action, readonly string[]][]) for (const n of names) CLASS_OF.set(n.toLowerCase(), cls);
const OBJECT_LEVEL: readonly Action[] = ['read', 'write', 'delete'];
// s3gate answers ListBuckets to every key, filtered to its grants: naming it grants nothing more.
const ALWAYS = new Set(['listallmybuckets']);

const BUCKET = /^[a-z0-9][a-z0-9.\-_]{1,254}$/;

const list = (v: unknown, what: string): string[] => {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string')) return v as string[];
  throw new PolicyError(`${what} must be a string or a non-empty list of strings`);
};

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
}

/** The classes a statement's actions name. An action s3gate does not know is refused. */
function classesOf(actions: string[]): Set<Action> {
  const out = new Set<Action>();
  for (const a of actions) {
    const m = /^s3:(.+)$/i.exec(a);
    if (!m) throw new PolicyError(`Action "${a}": a session policy on s3gate names s3 actions only`);
    const name = m[1]!;
    if (name.includes('*') || name.includes('?')) {
      const re = globToRegExp(name);
      let any = false;
      for (const [n, cls] of CLASS_OF) if (re.test(n)) { out.add(cls); any = true; }
      if (!any && ![...ALWAYS].some((n) => re.test(n))) throw new PolicyError(`Action "${a}" matches no S3 action s3gate knows`);
      continue;
    }
    const cls = CLASS_OF.get(name.toLowerCase());
    if (cls) out.add(cls);
    else if (!ALWAYS.has(name.toLowerCase())) throw new PolicyError(`Action "${a}" is not an S3 action s3gate knows`);
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
  if (bucket !== '*' && !BUCKET.test(bucket)) throw new PolicyError(`Resource "${resource}": s3gate cannot express a wildcard or variable inside a bucket name`);
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
