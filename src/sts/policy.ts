// Session policies: the IAM JSON a caller passes to AssumeRole(WithWebIdentity) to narrow the
// role for one session. A policy is turned into s3gate grants and intersected with the role's,
// so it can only take away. Its grants are exact: besides the classes (read, write, list, delete,
// admin) that the role's grants are written in, each holds the IAM actions the statement allowed
// and the kind of resource it named (authorize/iam.ts), so the session may do exactly what the
// policy says and no more of a class. Whatever cannot be expressed that way (Deny, NotAction, a
// condition other than a listing prefix, an exact key, a wildcard inside a name) is refused as
// MalformedPolicyDocument, never dropped: a dropped Deny or condition would widen the session.
import { ACTIONS, type Grant } from '../config/types.js';
import { IAM_ACTIONS, type Level } from '../authorize/iam.js';

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

// s3gate answers ListBuckets to every key, filtered to its grants: naming it grants nothing more.
const ALWAYS = new Set(['listallmybuckets']);
// The listings S3 gives an s3:prefix: a statement conditioned on it applies to them alone (IAM
// finds no s3:prefix in any other request, and StringLike on a missing key does not match).
const WITH_PREFIX = new Set(['listbucket', 'listbucketversions']);

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

/** The IAM actions (lower-cased) a statement's Action allows; an action s3gate does not know is refused. */
function allowedActions(actions: string[]): Set<string> {
  const allowed = new Set<string>();
  for (const a of actions) {
    const m = /^s3:(.+)$/i.exec(a);
    if (!m) throw new PolicyError(`Action "${a}": a session policy on s3gate names s3 actions only`);
    const name = m[1]!.toLowerCase();
    if (name.includes('*') || name.includes('?')) {
      const re = globToRegExp(name);
      let any = false;
      for (const n of IAM_ACTIONS.keys()) if (re.test(n)) { allowed.add(n); any = true; }
      if (!any && ![...ALWAYS].some((n) => re.test(n))) throw new PolicyError(`Action "${a}" matches no S3 action s3gate knows`);
    } else if (IAM_ACTIONS.has(name)) allowed.add(name);
    else if (!ALWAYS.has(name)) throw new PolicyError(`Action "${a}" is not an S3 action s3gate knows`);
  }
  return allowed;
}

/**
 * The grant of `names` (actions of one kind of resource) on a bucket and prefix: the classes
 * they fall in, held to them. Where they are every action of those classes there, `only` would
 * add nothing, and is left out (`s3:*` stays short in the sealed token).
 */
function grantOf(bucket: string, prefix: string | undefined, level: Level, names: string[]): Grant {
  const classes = new Set(names.map((n) => IAM_ACTIONS.get(n)!.cls));
  const actions = ACTIONS.filter((c) => classes.has(c));
  let complete = true;
  for (const [n, a] of IAM_ACTIONS) if (a.level === level && classes.has(a.cls) && !names.includes(n)) complete = false;
  return { bucket, ...(prefix ? { prefix } : {}), actions, level, ...(complete ? {} : { only: [...names].sort() }) };
}

const ofLevel = (allowed: Set<string>, level: Level): string[] => [...allowed].filter((n) => IAM_ACTIONS.get(n)!.level === level);

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
    const allowed = allowedActions(list(st.Action, `Statement ${i}: Action`));
    const targets = list(st.Resource, `Statement ${i}: Resource`).map(targetOf);
    const prefixes = listPrefixes(st.Condition);
    for (const t of targets) {
      const onBucket = t.both || t.prefix === undefined;
      if (prefixes) {
        const names = [...allowed].filter((n) => WITH_PREFIX.has(n));
        if (names.length && onBucket) for (const p of prefixes) grants.push(grantOf(t.bucket, p || undefined, 'bucket', names));
        continue;
      }
      const objects = ofLevel(allowed, 'object');
      if ((t.both || t.prefix !== undefined) && objects.length) grants.push(grantOf(t.bucket, t.prefix || undefined, 'object', objects));
      const buckets = ofLevel(allowed, 'bucket');
      if (onBucket && buckets.length) grants.push(grantOf(t.bucket, undefined, 'bucket', buckets));
    }
  }
  return grants;
}
