// The `roles:` and `sts:` sections of proxy.yaml, checked with field-named errors like the rest
// of the config (src/config/load.ts calls this with its checker).
import { ACTIONS, type Action, type CorsRule, type GatewayKey, type Grant } from '../config/types.js';
import { placeholders } from './grants.js';
import { deriveSealingKey } from './seal.js';
import type { Role, SealingKey, StsConfig, WebIdentity } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What src/config/load.ts's checker offers. */
export interface FieldChecker {
  fail(path: string, msg: string): undefined;
  str(obj: Obj, key: string, path: string, opts?: { optional?: boolean; secret?: boolean }): string | undefined;
  strList(obj: Obj, key: string, path: string): string[];
  num(obj: Obj, key: string, path: string, dflt: number, min?: number): number;
  unknown(obj: Obj, allowed: string[], path: string): void;
}

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const MAX_DURATION = 43_200;

// `${claim}` in a role's grants: load.ts protects ${…} references before YAML parsing; a role's
// grants take them back as claim placeholders, never as environment variables.
const PROTECTED = /\$\u27e6([^\u27e7]+)\u27e7/g;
const unprotect = (s: string) => s.replace(PROTECTED, (_m, r: string) => `\${${r}}`);

function rawStr(c: FieldChecker, obj: Obj, key: string, path: string, optional = false): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return optional ? undefined : c.fail(`${path}.${key}`, 'is required');
  if (typeof v !== 'string') return c.fail(`${path}.${key}`, 'must be a string');
  return unprotect(v);
}

function parseRoleGrants(c: FieldChecker, raw: unknown, path: string, bucketNames: Set<string>): Grant[] {
  const allow: Grant[] = [];
  if (!Array.isArray(raw)) return c.fail(path, 'must be a list of grants') ?? allow;
  raw.forEach((g, j) => {
    const gp = `${path}[${j}]`;
    if (!isObj(g)) return c.fail(gp, 'must be a mapping');
    c.unknown(g, ['bucket', 'prefix', 'actions'], gp);
    const bucket = rawStr(c, g, 'bucket', gp);
    if (bucket?.includes('${')) c.fail(`${gp}.bucket`, 'claim placeholders go in prefix, not in the bucket name');
    else if (bucket && bucket !== '*' && !bucketNames.has(bucket) && !bucketNames.has('*')) {
      c.fail(`${gp}.bucket`, `no bucket "${bucket}"; known: ${[...bucketNames].join(', ') || '(none)'}`);
    }
    const prefix = rawStr(c, g, 'prefix', gp, true);
    const actions = c.strList(g, 'actions', gp);
    if (actions.length === 0) c.fail(`${gp}.actions`, `must list at least one of ${ACTIONS.join(', ')}`);
    for (const a of actions) if (!ACTIONS.includes(a as Action)) c.fail(`${gp}.actions`, `unknown action "${a}"; known: ${ACTIONS.join(', ')}`);
    if (bucket) allow.push({ bucket, ...(prefix ? { prefix } : {}), actions: actions as Action[] });
  });
  return allow;
}

function parseWebIdentity(c: FieldChecker, raw: unknown, path: string): WebIdentity | undefined {
  if (!isObj(raw)) return c.fail(path, 'must be a mapping with issuer, audience and jwksUrl or keys');
  c.unknown(raw, ['issuer', 'audience', 'jwksUrl', 'keys', 'algorithms', 'claims'], path);
  const issuer = c.str(raw, 'issuer', path);
  const audience = typeof raw.audience === 'string' ? [raw.audience] : c.strList(raw, 'audience', path);
  if (!audience.length) c.fail(`${path}.audience`, 'is required: the aud value(s) tokens for s3gate carry');
  const jwksUrl = c.str(raw, 'jwksUrl', path, { optional: true });
  if (jwksUrl) {
    try {
      const u = new URL(jwksUrl);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
    } catch {
      c.fail(`${path}.jwksUrl`, `"${jwksUrl}" is not an http(s) URL`);
    }
  }
  let keys: Record<string, unknown>[] | undefined;
  if (raw.keys !== undefined) {
    if (!Array.isArray(raw.keys) || !raw.keys.length || !raw.keys.every((k) => isObj(k) && typeof k.kty === 'string')) {
      c.fail(`${path}.keys`, 'must be a list of JWKs (each with kty)');
    } else {
      keys = raw.keys as Record<string, unknown>[];
      keys.forEach((k, i) => {
        if (k.d !== undefined || k.kty === 'oct') c.fail(`${path}.keys[${i}]`, 'must be a public key (no private or symmetric keys)');
      });
    }
  }
  if (!jwksUrl && !keys) c.fail(path, 'needs jwksUrl or keys: where the issuer\'s public keys come from');
  if (jwksUrl && keys) c.fail(path, 'give jwksUrl or keys, not both');
  const algorithms = raw.algorithms === undefined ? ['RS256', 'ES256'] : c.strList(raw, 'algorithms', path);
  for (const a of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.includes(a)) c.fail(`${path}.algorithms`, `"${a}" is not accepted; use asymmetric algorithms: ${ASYMMETRIC_ALGORITHMS.join(', ')}`);
  }
  const claims: Record<string, (string | number | boolean)[]> = {};
  if (raw.claims !== undefined) {
    if (!isObj(raw.claims)) c.fail(`${path}.claims`, 'must be a mapping of claim name to required value(s)');
    else {
      for (const [name, v] of Object.entries(raw.claims)) {
        const vals = Array.isArray(v) ? v : [v];
        if (!vals.length || !vals.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) {
          c.fail(`${path}.claims.${name}`, 'must be a value or a list of values (string, number, boolean)');
        } else claims[name] = vals.map((x) => (typeof x === 'string' ? unprotect(x) : x)) as (string | number | boolean)[];
      }
    }
  }
  if (!issuer || !audience.length || (!jwksUrl && !keys)) return undefined;
  return { issuer, audience, algorithms, claims, ...(jwksUrl ? { jwksUrl } : {}), ...(keys ? { keys } : {}) };
}

function parseRoles(c: FieldChecker, raw: unknown, keys: Map<string, GatewayKey>, bucketNames: Set<string>): Map<string, Role> {
  const roles = new Map<string, Role>();
  if (raw === undefined) return roles;
  if (!isObj(raw)) return c.fail('roles', 'must be a mapping of role name to role') ?? roles;
  for (const [name, r] of Object.entries(raw)) {
    const path = `roles.${name}`;
    if (!/^[\w+=,.@-]{1,64}$/.test(name)) c.fail(path, 'role names use 1-64 letters, digits and +=,.@_-');
    if (!isObj(r)) {
      c.fail(path, 'must be a mapping');
      continue;
    }
    c.unknown(r, ['assumableBy', 'maxSessionDuration', 'allow', 'webIdentity'], path);
    const assumableBy = c.strList(r, 'assumableBy', path);
    for (const k of assumableBy) if (!keys.has(k)) c.fail(`${path}.assumableBy`, `no key "${k}" in keys`);
    const maxSessionDuration = c.num(r, 'maxSessionDuration', path, 3600, 900);
    if (maxSessionDuration > MAX_DURATION) c.fail(`${path}.maxSessionDuration`, `must be at most ${MAX_DURATION} (12 hours)`);
    const allow = parseRoleGrants(c, r.allow, `${path}.allow`, bucketNames);
    const webIdentity = r.webIdentity === undefined ? undefined : parseWebIdentity(c, r.webIdentity, `${path}.webIdentity`);
    if (!assumableBy.length && r.webIdentity === undefined) c.fail(path, 'needs assumableBy (keys that may assume it) or webIdentity (an OIDC issuer)');
    const used = placeholders(allow);
    if (used.length && assumableBy.length) {
      c.fail(`${path}.allow`, `uses \${${used[0]}}, which only a web identity fills; a role with assumableBy cannot use claim placeholders`);
    }
    roles.set(name, { name, assumableBy, maxSessionDuration, allow, ...(webIdentity ? { webIdentity } : {}) });
  }
  return roles;
}

function parseSealingKeys(c: FieldChecker, raw: unknown): SealingKey[] {
  const out: SealingKey[] = [];
  if (!Array.isArray(raw) || !raw.length) return c.fail('sts.sealingKeys', 'must list at least one key (id and secret); the first seals new sessions') ?? out;
  raw.forEach((k, i) => {
    const path = `sts.sealingKeys[${i}]`;
    if (!isObj(k)) return c.fail(path, 'must be a mapping with id and secret');
    c.unknown(k, ['id', 'secret'], path);
    const id = c.str(k, 'id', path);
    const secret = c.str(k, 'secret', path, { secret: true });
    if (id && !/^[A-Za-z0-9_-]{1,32}$/.test(id)) c.fail(`${path}.id`, 'use 1-32 letters, digits, dash or underscore');
    if (id && out.some((s) => s.id === id)) c.fail(`${path}.id`, `duplicate sealing key id ${id}`);
    // The message names the length, never the value.
    if (secret !== undefined && Buffer.byteLength(secret) < 32) c.fail(`${path}.secret`, `must be at least 32 bytes (got ${Buffer.byteLength(secret)}); e.g. openssl rand -base64 32`);
    else if (id && secret) out.push(deriveSealingKey(id, secret));
  });
  return out;
}

/** roles: and sts: from the document; undefined when neither is there. */
export function parseStsConfig(
  c: FieldChecker, doc: Obj, keys: Map<string, GatewayKey>, bucketNames: Set<string>, parseCors: (raw: unknown, path: string) => CorsRule[] | undefined,
): StsConfig | undefined {
  if (doc.roles === undefined && doc.sts === undefined) return undefined;
  const roles = parseRoles(c, doc.roles, keys, bucketNames);
  if (doc.sts !== undefined && !isObj(doc.sts)) return c.fail('sts', 'must be a mapping with sealingKeys');
  const sts = (doc.sts ?? {}) as Obj;
  c.unknown(sts, ['sealingKeys', 'cors'], 'sts');
  const cors = parseCors(sts.cors, 'sts.cors');
  if (sts.sealingKeys === undefined) {
    return c.fail('sts.sealingKeys', roles.size ? 'is required when roles are declared: session tokens are sealed with it' : 'is required');
  }
  const sealingKeys = parseSealingKeys(c, sts.sealingKeys);
  return { sealingKeys, roles, ...(cors ? { cors } : {}) };
}
