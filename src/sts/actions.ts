// STS's actions over a parsed request: who may assume which role, for how long, with what
// grants. Pure apart from the clock and the random credentials: the endpoint (endpoint.ts) reads
// the request and writes the answer.
import { createHash } from 'node:crypto';
import type { GatewayConfig, GatewayKey, Grant } from '../config/types.js';
import { heldToActions } from '../authorize/grants.js';
import { fill, intersect, placeholders } from './grants.js';
import { claimValue, verifyWebIdentity, WebIdentityError } from './oidc.js';
import { parsePolicy, PolicyError } from './policy.js';
import { newCredentials, seal } from './seal.js';
import type { Role, Session, StsConfig } from './types.js';
import { StsError } from './xml.js';

/** s3gate's account in the ARNs it answers with: there is one, and it is not AWS's. */
export const ACCOUNT = '000000000000';
const MIN_DURATION = 900;
const MAX_POLICY = 2048;
const KNOWN = new Set(['Action', 'Version', 'RoleArn', 'RoleSessionName', 'DurationSeconds', 'Policy', 'WebIdentityToken', 'ProviderId']);

export interface Issued {
  result: Record<string, unknown>;
  role: string;
  sessionName: string;
  expires: Date;
  /** who asked, for the log: the key id (AssumeRole), or the token's issuer and subject (never the token) */
  asker: { key: string } | { iss: string; sub: string };
}

const validation = (field: string, value: string | undefined, constraint: string) =>
  new StsError('ValidationError', `1 validation error detected: Value ${value === undefined ? 'null' : `'${value}'`} at '${field}' failed to satisfy constraint: Member must ${constraint}`);
// A value too long to echo (a policy, a token): its length, which is what is wrong with it.
const lengthError = (field: string, length: number, constraint: string) =>
  new StsError('ValidationError', `1 validation error detected: Value at '${field}' (${length} characters) failed to satisfy constraint: Member must ${constraint}`);

export function roleArn(name: string): string {
  return `arn:aws:iam::${ACCOUNT}:role/${name}`;
}

export function callerArn(key: GatewayKey): string {
  return key.session ? `arn:aws:sts::${ACCOUNT}:assumed-role/${key.session.role}/${key.session.name}` : `arn:aws:iam::${ACCOUNT}:user/${key.accessKeyId}`;
}

function roleId(name: string): string {
  return 'AROA' + createHash('sha256').update(name).digest('hex').slice(0, 17).toUpperCase();
}

// SigV4 query authentication (a presigned GET, as Vault's AWS auth and aws-iam-authenticator send
// GetCallerIdentity): the verifier reads these, so they are no STS parameters to refuse.
const QUERY_AUTH = new Set(['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token']);

/**
 * Rejects parameters s3gate does not implement (Tags, PolicyArns, SerialNumber…) rather than
 * dropping them. `inQuery`: the parameters are the query of a GET, where SigV4's own are allowed.
 */
export function checkParams(params: URLSearchParams, inQuery = false): void {
  for (const name of params.keys()) {
    if (KNOWN.has(name) || (inQuery && QUERY_AUTH.has(name))) continue;
    if (name.startsWith('PolicyArns.')) throw new StsError('MalformedPolicyDocument', 'Managed policies (PolicyArns) are not supported by s3gate; pass an inline Policy.');
    throw new StsError('InvalidParameterValue', `The parameter ${name.replace(/\.member\.\d+.*$/, '')} is not supported by s3gate.`);
  }
}

function findRole(sts: StsConfig | undefined, arn: string | null): Role | undefined {
  if (arn === null) throw validation('roleArn', undefined, 'not be null');
  if (arn.length < 20 || arn.length > 2048) throw validation('roleArn', arn, 'have length greater than or equal to 20');
  const m = /^arn:aws:iam::[^:]*:role\/(?:[^/]*\/)*([\w+=,.@-]{1,64})$/.exec(arn);
  if (!m) throw new StsError('ValidationError', `${arn} is invalid`);
  return sts?.roles.get(m[1]!);
}

function sessionName(params: URLSearchParams): string {
  const rsn = params.get('RoleSessionName');
  if (rsn === null) throw validation('roleSessionName', undefined, 'not be null');
  if (!/^[\w+=,.@-]{2,64}$/.test(rsn)) throw validation('roleSessionName', rsn, 'satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64');
  return rsn;
}

function duration(params: URLSearchParams, role: Role): number {
  const raw = params.get('DurationSeconds');
  if (raw === null) return Math.min(3600, role.maxSessionDuration);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw validation('durationSeconds', raw, 'be a number');
  if (n < MIN_DURATION) throw validation('durationSeconds', raw, `have value greater than or equal to ${MIN_DURATION}`);
  if (n > 43_200) throw validation('durationSeconds', raw, 'have value less than or equal to 43200');
  if (n > role.maxSessionDuration) {
    throw new StsError('ValidationError', `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`);
  }
  return n;
}

/** The role's grants narrowed by the session policy, if one was given. */
function effectiveGrants(params: URLSearchParams, roleGrants: Grant[]): { allow: Grant[]; packed?: number } {
  const policy = params.get('Policy');
  if (policy === null) return { allow: roleGrants };
  if (policy.length > MAX_POLICY) throw lengthError('policy', policy.length, `have length less than or equal to ${MAX_POLICY}`);
  try {
    return { allow: intersect(roleGrants, parsePolicy(policy)), packed: Math.ceil((policy.length * 100) / MAX_POLICY) };
  } catch (e) {
    if (e instanceof PolicyError) throw new StsError('MalformedPolicyDocument', e.message);
    throw e;
  }
}

function issue(cfg: GatewayConfig, role: Role, rsn: string, src: string, seconds: number, allow: Grant[], now: Date, vars?: Record<string, string>): { session: Session; token: string } {
  const sts = cfg.sts!;
  const creds = newCredentials();
  const iat = Math.floor(now.getTime() / 1000);
  const v = heldToActions(allow) ? 2 : 1;
  const session: Session = { v, ak: creds.accessKeyId, sk: creds.secretAccessKey, iat, exp: iat + seconds, role: role.name, rsn, src, allow, ...(vars ? { vars } : {}) };
  return { session, token: seal(session, sts.sealingKeys[0]!) };
}

function credentialsXml(session: Session, token: string): Record<string, unknown> {
  return {
    AccessKeyId: session.ak, SecretAccessKey: session.sk, SessionToken: token,
    Expiration: new Date(session.exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

function notAuthorized(caller: string, action: string, role: string): StsError {
  return new StsError('AccessDenied', `User: ${caller} is not authorized to perform: sts:${action} on resource: ${role}`, 403);
}

export function assumeRole(cfg: GatewayConfig, caller: GatewayKey, params: URLSearchParams, now: Date): Issued {
  const arn = params.get('RoleArn');
  const role = findRole(cfg.sts, arn);
  const rsn = sessionName(params);
  // Sessions do not chain: a temporary key assumes nothing (its role's grants already bound it).
  if (!role || caller.session || !role.assumableBy.includes(caller.accessKeyId)) throw notAuthorized(callerArn(caller), 'AssumeRole', arn!);
  if (!cfg.sts?.sealingKeys.length) throw new StsError('ServiceUnavailable', 'No sealing key is configured.', 503, 'Receiver');
  const seconds = duration(params, role);
  const { allow, packed } = effectiveGrants(params, role.allow);
  const { session, token } = issue(cfg, role, rsn, caller.accessKeyId, seconds, allow, now);
  return {
    role: role.name, sessionName: rsn, expires: new Date(session.exp * 1000), asker: { key: caller.accessKeyId },
    result: {
      Credentials: credentialsXml(session, token),
      AssumedRoleUser: { AssumedRoleId: `${roleId(role.name)}:${rsn}`, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role.name}/${rsn}` },
      ...(packed !== undefined ? { PackedPolicySize: packed } : {}),
    },
  };
}

export async function assumeRoleWithWebIdentity(cfg: GatewayConfig, params: URLSearchParams, now: Date): Promise<Issued> {
  const arn = params.get('RoleArn');
  const role = findRole(cfg.sts, arn);
  const rsn = sessionName(params);
  const token = params.get('WebIdentityToken');
  if (token === null) throw validation('webIdentityToken', undefined, 'not be null');
  if (token.length < 4 || token.length > 20_000) throw lengthError('webIdentityToken', token.length, 'have length between 4 and 20000');
  if (!role?.webIdentity) throw notAuthorized('web identity', 'AssumeRoleWithWebIdentity', arn!);
  const seconds = duration(params, role);
  let claims: Record<string, unknown>;
  try {
    claims = await verifyWebIdentity(token, role.webIdentity, now);
  } catch (e) {
    if (!(e instanceof WebIdentityError)) throw e;
    if (e.kind === 'expired') throw new StsError('ExpiredTokenException', e.message);
    if (e.kind === 'unreachable') throw new StsError('IDPCommunicationError', e.message);
    if (e.kind === 'claims') throw new StsError('AccessDenied', `Not authorized to perform sts:AssumeRoleWithWebIdentity: ${e.message}`, 403);
    throw new StsError('InvalidIdentityToken', e.message);
  }
  const vars: Record<string, string> = {};
  for (const name of placeholders(role.allow)) {
    const v = claimValue(claims, name);
    const s = typeof v === 'string' || typeof v === 'number' ? String(v) : '';
    // A claim becomes part of a key prefix: it must be one path segment of its own.
    if (s === '' || s === '.' || s === '..' || s.includes('/')) {
      throw new StsError('AccessDenied', `Not authorized to perform sts:AssumeRoleWithWebIdentity: the token's ${name} claim cannot name a key prefix.`, 403);
    }
    vars[name] = s;
  }
  if (!cfg.sts?.sealingKeys.length) throw new StsError('ServiceUnavailable', 'No sealing key is configured.', 503, 'Receiver');
  const { allow, packed } = effectiveGrants(params, fill(role.allow, vars));
  const sub = String(claims.sub ?? '');
  const iss = String(claims.iss ?? role.webIdentity.issuer);
  const aud = Array.isArray(claims.aud) ? String(claims.aud[0]) : String(claims.aud ?? '');
  const issued = issue(cfg, role, rsn, `${iss}#${sub}`, seconds, allow, now, Object.keys(vars).length ? vars : undefined);
  return {
    role: role.name, sessionName: rsn, expires: new Date(issued.session.exp * 1000), asker: { iss, sub },
    result: {
      Credentials: credentialsXml(issued.session, issued.token),
      SubjectFromWebIdentityToken: sub,
      AssumedRoleUser: { AssumedRoleId: `${roleId(role.name)}:${rsn}`, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role.name}/${rsn}` },
      ...(packed !== undefined ? { PackedPolicySize: packed } : {}),
      Provider: iss,
      Audience: aud,
    },
  };
}

export function getCallerIdentity(key: GatewayKey): Record<string, unknown> {
  return {
    UserId: key.session ? `${roleId(key.session.role)}:${key.session.name}` : key.accessKeyId,
    Account: ACCOUNT,
    Arn: callerArn(key),
  };
}
