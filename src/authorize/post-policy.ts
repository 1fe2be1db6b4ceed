// The POST policy of a browser form upload: what the signer allowed the form to contain. Pure:
// the policy document parsed, its expiration, every condition checked against the form's
// fields, and every field checked to be covered by a condition, with S3's errors and wording
// ("Invalid according to Policy: …"). The file's size is checked by the caller, while the file
// streams, against `lengthRange`.
import { S3Error } from '../s3/errors.js';

export type Condition =
  | { op: 'eq' | 'starts-with'; /** lowercased, without "$" */ field: string; value: string; /** as S3 quotes it in errors */ text: string }
  | { op: 'content-length-range'; min: number; max: number; text: string };

export interface PostPolicy {
  expiration: Date;
  conditions: Condition[];
}

/** One form field as it arrived (S3 reads field names case-insensitively). */
export type FormFields = ReadonlyMap<string, string>;

// Fields S3 does not require a condition for: the signature itself, the policy, the file, and
// whatever the page marks as not for S3 (x-ignore-*). SigV2's two fields are the same kind.
const EXEMPT = new Set(['x-amz-signature', 'file', 'policy', 'awsaccesskeyid', 'signature']);

function invalidPolicy(reason: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${reason}`);
}

function denied(reason: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${reason}`);
}

const quote = (s: string) => JSON.stringify(s);

function bound(v: unknown, text: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalidPolicy(`Invalid content-length-range: ${text}`);
  return n;
}

function parseCondition(c: unknown): Condition[] {
  if (Array.isArray(c)) {
    const text = '[' + c.map((x) => (typeof x === 'string' ? quote(x) : String(x))).join(', ') + ']';
    const op = typeof c[0] === 'string' ? c[0].toLowerCase() : '';
    if (op === 'content-length-range') {
      if (c.length !== 3) throw invalidPolicy(`Invalid content-length-range: ${text}`);
      const min = bound(c[1], text);
      const max = bound(c[2], text);
      if (min > max) throw invalidPolicy(`Invalid content-length-range: ${text}`);
      return [{ op, min, max, text }];
    }
    if (op !== 'eq' && op !== 'starts-with') throw invalidPolicy(`Invalid Condition: ${text}`);
    if (c.length !== 3 || typeof c[1] !== 'string' || typeof c[2] !== 'string' || !c[1].startsWith('$') || c[1].length < 2) {
      throw invalidPolicy(`Invalid Condition: ${text}`);
    }
    return [{ op, field: c[1].slice(1).toLowerCase(), value: c[2], text }];
  }
  if (c !== null && typeof c === 'object') {
    const entries = Object.entries(c as Record<string, unknown>);
    if (entries.length === 0) throw invalidPolicy('Invalid Condition: {}');
    return entries.map(([name, value]) => {
      const text = `["eq", ${quote('$' + name)}, ${quote(String(value))}]`;
      if (typeof value !== 'string') throw invalidPolicy(`Invalid Condition: ${text}`);
      return { op: 'eq' as const, field: name.toLowerCase(), value, text };
    });
  }
  throw invalidPolicy(`Invalid Condition: ${JSON.stringify(c)}`);
}

/** The base64 `policy` field decoded; S3's InvalidPolicyDocument for anything that is not a policy. */
export function parsePolicy(base64: string): PostPolicy {
  const b64 = base64.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) throw invalidPolicy('Invalid base64 encoding.');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const when = typeof expiration === 'string' && /^\d{4}-\d\d-\d\dT/.test(expiration) ? new Date(expiration) : null;
  if (!when || Number.isNaN(when.getTime())) throw invalidPolicy(`Invalid 'expiration' value: ${quote(String(expiration))}`);
  if (conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw invalidPolicy("Invalid 'conditions' value: must be a List.");
  return { expiration: when, conditions: conditions.flatMap(parseCondition) };
}

/** The form's value for a condition's field: `bucket` is the bucket the form was posted to. */
function valueOf(fields: FormFields, field: string, bucket: string): string {
  if (field === 'bucket') return bucket;
  return fields.get(field) ?? '';
}

function holds(c: Extract<Condition, { field: string }>, value: string): boolean {
  if (c.op === 'eq') return value === c.value;
  // S3 reads Content-Type as a list here: each type must start with the prefix.
  if (c.field === 'content-type' && c.value !== '' && value.includes(',')) return value.split(',').every((v) => v.trim().startsWith(c.value));
  return value.startsWith(c.value);
}

/**
 * Expiration, every eq/starts-with condition, and every field covered: the checks that need only
 * the fields (the file's size is `lengthRange`'s). `fields` holds lowercased names; `key` is
 * the form's key with ${filename} already put in, as the object will be named.
 */
export function checkPolicy(policy: PostPolicy, fields: FormFields, bucket: string, now: Date): void {
  if (now.getTime() > policy.expiration.getTime()) throw denied('Policy expired.');
  const covered = new Set<string>();
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') continue;
    covered.add(c.field);
    if (!holds(c, valueOf(fields, c.field, bucket))) throw denied(`Policy Condition failed: ${c.text}`);
  }
  for (const name of fields.keys()) {
    if (EXEMPT.has(name) || name.startsWith('x-ignore-') || covered.has(name)) continue;
    throw denied(`Extra input fields: ${name}`);
  }
}

/** The size range the file must fall in: the tightest of the policy's ranges, if it has any. */
export function lengthRange(policy: PostPolicy): { min: number; max: number } | undefined {
  let range: { min: number; max: number } | undefined;
  for (const c of policy.conditions) {
    if (c.op !== 'content-length-range') continue;
    range = range ? { min: Math.max(range.min, c.min), max: Math.min(range.max, c.max) } : { min: c.min, max: c.max };
  }
  return range;
}

export function tooLarge(max: number, proposed?: number): S3Error {
  return new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
    ...(proposed !== undefined ? { ProposedSize: String(proposed) } : {}), MaxSizeAllowed: String(max),
  });
}

export function tooSmall(min: number, proposed: number): S3Error {
  return new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
    ProposedSize: String(proposed), MinSizeAllowed: String(min),
  });
}
