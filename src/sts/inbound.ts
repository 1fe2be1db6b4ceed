// Requests signed with temporary credentials. The token names the session; the session holds
// the temporary key's secret and grants; the request's signature is then checked with that secret
// by the same verifiers as a configured key's, and the key that comes out goes through the same
// authorization (authorize/grants.ts's allows) with the session's effective grants.
import { createHash } from 'node:crypto';
import type { GatewayConfig, GatewayKey } from '../config/types.js';
import { authenticate, type Authenticated, type AuthInput } from '../authenticate/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { S3Error, isS3Error } from '../s3/errors.js';
import { parseQuery } from '../signing/sigv4.js';
import { lowerCase } from '../s3/names.js';
import { fill, intersect } from './grants.js';
import { open, TokenError, type RefusalReason } from './seal.js';
import type { StsConfig } from './types.js';

interface Opened {
  key: GatewayKey;
  exp: number;
}

// Opening a token is an AES-GCM decryption and a JSON parse; a client sends the same token on
// every request, so what it opened to is kept per config (a reload starts afresh, which is what
// makes a removed role or sealing key take effect at once).
const CACHE_MAX = 2048;
const caches = new WeakMap<StsConfig, Map<string, Opened>>();

function refuse(reason: RefusalReason, metrics?: Metrics): S3Error {
  metrics?.stsRefused.inc({ reason });
  switch (reason) {
    case 'expired': return new S3Error('ExpiredToken');
    case 'unsigned': return new S3Error('AccessDenied', 'A security token is only accepted on a signed request (the X-Amz-Security-Token query parameter with query authentication)');
    case 'key-mismatch': return new S3Error('InvalidToken', 'The provided token is not valid for this access key.');
    case 'role-removed': return new S3Error('InvalidToken', 'The role of this session no longer exists.');
    default: return new S3Error('InvalidToken');
  }
}

/** The key a token stands for, with its effective grants under the current config. */
export function sessionKey(sts: StsConfig | undefined, token: string): Opened {
  if (!sts) throw new TokenError('unknown-key');
  let cache = caches.get(sts);
  if (!cache) caches.set(sts, (cache = new Map()));
  const hit = cache.get(token);
  if (hit) return hit;
  const s = open(token, sts.sealingKeys);
  const role = sts.roles.get(s.role);
  if (!role) throw new TokenError('role-removed');
  // The sealed grants were within the role at issue; narrowed again by the role as it stands now,
  // a reload that takes grants from a role takes them from its live sessions too.
  const allow = intersect(s.allow, fill(role.allow, s.vars ?? {}));
  const key: GatewayKey = { accessKeyId: s.ak, secretAccessKey: s.sk, allow, session: { role: s.role, name: s.rsn, expires: s.exp, limitKey: limitKeyOf(s.role, s.src) } };
  const opened = { key, exp: s.exp };
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(token, opened);
  return opened;
}

/** The token the request carries, if any; a token where s3gate would forward it is refused. */
function tokenOf(input: AuthInput): string | undefined {
  const h = input.headers['x-amz-security-token'];
  let q: string | undefined;
  let count = 0;
  const pairs = input.query ?? parseQuery(input.rawQuery);
  for (let i = 0; i < pairs.length; i++) {
    // lowerCase, not toLowerCase: a presigned URL's X-Amz-Content-Sha256 has this length too,
    // and toLowerCase made a new string of it on every request.
    if (pairs[i]![0].length === 20 && lowerCase(pairs[i]![0]) === 'x-amz-security-token') {
      q = pairs[i]![1];
      count++;
    }
  }
  if (Array.isArray(h) || count > 1 || (h !== undefined && q !== undefined)) throw new TokenError('malformed');
  const auth = input.headers.authorization;
  // With header authentication the query goes to the provider as it is: a token there would
  // reach it.
  if (q !== undefined && typeof auth === 'string' && auth !== '') throw new TokenError('unsigned');
  return h ?? q;
}

/**
 * authenticate() for every request: a request with a session token is verified against the
 * session's temporary key only, so a token on a configured key, another session's token, or a
 * temporary key without its token are all refused.
 */
export function authenticateRequest(input: AuthInput, cfg: GatewayConfig, metrics?: Metrics): Authenticated {
  let token: string | undefined;
  try {
    token = tokenOf(input);
  } catch (e) {
    if (e instanceof TokenError) throw refuse(e.reason, metrics);
    throw e;
  }
  if (token === undefined) return authenticate(input, cfg.keys, cfg.region, cfg.acceptRegions);
  return withSession(cfg, token, input.now, (keys) => authenticate(input, keys, cfg.region, cfg.acceptRegions), metrics);
}

/**
 * Runs a verifier (a request's signature, a form's) against the session `token` names: its
 * temporary key is the only key the verifier can find, so a signature by any other key is
 * InvalidToken, and an unsigned request is refused. Refusals are counted by reason.
 */
export function withSession(cfg: GatewayConfig, token: string, now: Date, verify: (keys: Map<string, GatewayKey>) => Authenticated, metrics?: Metrics): Authenticated {
  let opened: Opened;
  try {
    opened = sessionKey(cfg.sts, token);
    if (now.getTime() >= opened.exp * 1000) throw new TokenError('expired');
  } catch (e) {
    if (e instanceof TokenError) throw refuse(e.reason, metrics);
    throw e;
  }
  let auth: Authenticated;
  try {
    auth = verify(new Map([[opened.key.accessKeyId, opened.key]]));
  } catch (e) {
    if (isS3Error(e) && e.code === 'InvalidAccessKeyId') throw refuse('key-mismatch', metrics);
    throw e;
  }
  if (!auth.key) throw refuse('unsigned', metrics);
  return auth;
}

// A session's RoleSessionName is the client's to choose (on the unsigned
// AssumeRoleWithWebIdentity too), so it names neither a metrics series nor a limit: sessions
// sharing a name would share a limit, fresh names would escape it, and the SDKs' default names
// (botocore-session-<ts>) would make a series per session.

/**
 * Whose limit a session's requests count against: who asked for it (the source key id, or the
 * web identity's issuer and subject) under its role, hashed to a bounded length. `role:` cannot
 * begin a configured key id (letters, digits, dot, dash and underscore only).
 */
function limitKeyOf(role: string, src: string): string {
  return `role:${role}:${createHash('sha256').update(src).digest('base64url').slice(0, 22)}`;
}

/** How a key is named in limits: a session by who it is (limitKeyOf), a key by its id. */
export function limitKey(key: GatewayKey): string {
  return key.session ? key.session.limitKey : key.accessKeyId;
}

/** How a key is named in metrics: a session by its role (bounded, the operator's), a key by its id. */
export function principalName(key: GatewayKey): string {
  return key.session ? `role:${key.session.role}` : key.accessKeyId;
}

/** The metrics label of a limit key: a session's is its role's. */
export function limitLabel(limitKey: string): string {
  return limitKey.startsWith('role:') ? limitKey.slice(0, limitKey.lastIndexOf(':')) : limitKey;
}
