// Web identities: an OIDC ID token (a JWT) verified with jose against the role's issuer. jose
// checks the signature with the issuer's keys, the algorithm against the allow-list (so `none`
// and an HS256 "signature" made with a public key never pass), iss, aud, exp and nbf.
// jose is imported at the first web identity to verify, not at start: only gateways with STS
// web-identity roles use it, and loading it cost 10 MiB RSS (docs/performance.md, "idle").
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type { WebIdentity } from './types.js';

export type WebIdentityFailure = 'expired' | 'invalid' | 'unreachable' | 'claims';

export class WebIdentityError extends Error {
  constructor(readonly kind: WebIdentityFailure, message: string) {
    super(message);
    this.name = 'WebIdentityError';
  }
}

// One key set per JWKS URL for the life of the process, so reloads keep what was fetched. jose
// refetches when a token names a kid it has not seen (at most once per cooldown) and when the
// cached set is older than cacheMaxAge.
const remote = new Map<string, JWTVerifyGetKey>();
const local = new WeakMap<WebIdentity, JWTVerifyGetKey>();
type Jose = typeof import('jose');
let joseModule: Promise<Jose> | undefined;

function keySet({ createLocalJWKSet, createRemoteJWKSet }: Jose, wi: WebIdentity): JWTVerifyGetKey {
  if (wi.jwksUrl) {
    let ks = remote.get(wi.jwksUrl);
    if (!ks) remote.set(wi.jwksUrl, (ks = createRemoteJWKSet(new URL(wi.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 5_000 })));
    return ks;
  }
  let ks = local.get(wi);
  if (!ks) local.set(wi, (ks = createLocalJWKSet({ keys: wi.keys as never })));
  return ks;
}

/** A claim by name, or by a dotted path into nested claims (`kubernetes.io.serviceaccount.name`). */
export function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  const parts = name.split('.');
  for (let i = parts.length - 1; i > 0; i--) {
    const head = parts.slice(0, i).join('.');
    const v = claims[head];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const found = claimValue(v as Record<string, unknown>, parts.slice(i).join('.'));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The verified claims, or WebIdentityError saying why not (never the token itself). */
export async function verifyWebIdentity(token: string, wi: WebIdentity, now: Date): Promise<JWTPayload> {
  const jose = await (joseModule ??= import('jose'));
  const { errors } = jose;
  let payload: JWTPayload;
  try {
    ({ payload } = await jose.jwtVerify(token, keySet(jose, wi), {
      issuer: wi.issuer, audience: wi.audience, algorithms: wi.algorithms, currentDate: now, clockTolerance: 30,
    }));
  } catch (e) {
    if (e instanceof errors.JWTExpired) throw new WebIdentityError('expired', 'Token expired: current date/time must be before the expiration date/time.');
    if (e instanceof errors.JWTClaimValidationFailed) throw new WebIdentityError('invalid', `The token's ${e.claim} claim is not accepted (${e.reason}).`);
    if (e instanceof errors.JWKSTimeout || (e instanceof Error && e.name === 'TypeError')) {
      throw new WebIdentityError('unreachable', 'Could not fetch the identity provider\'s keys.');
    }
    if (e instanceof errors.JOSEAlgNotAllowed) throw new WebIdentityError('invalid', 'The token\'s signing algorithm is not accepted.');
    if (e instanceof errors.JWKSNoMatchingKey) throw new WebIdentityError('invalid', 'No key of the identity provider matches the token.');
    if (e instanceof errors.JWSSignatureVerificationFailed) throw new WebIdentityError('invalid', 'The token\'s signature does not verify.');
    if (e instanceof errors.JOSEError) throw new WebIdentityError('invalid', 'The token is not a valid JWT for this role.');
    throw new WebIdentityError('unreachable', 'Could not verify the token with the identity provider.');
  }
  for (const [name, allowed] of Object.entries(wi.claims)) {
    const v = claimValue(payload, name);
    if (!allowed.some((a) => a === v)) throw new WebIdentityError('claims', `The token's ${name} claim does not have a value this role accepts.`);
  }
  return payload;
}
