// What the config says about temporary credentials, and what a sealed session carries.
import type { CorsRule, Grant } from '../config/types.js';

export interface SealingKey {
  /** the id written into every token it seals, so a replica knows which key opens it */
  id: string;
  /** 32 bytes derived from the configured secret (HKDF-SHA256, the id as info) */
  key: Buffer;
}

export interface WebIdentity {
  issuer: string;
  audience: string[];
  /** where the issuer publishes its keys; fetched, cached and refreshed by jose */
  jwksUrl?: string;
  /** keys given in the config instead of a JWKS URL */
  keys?: Record<string, unknown>[];
  /** accepted JWS algorithms: asymmetric ones only */
  algorithms: string[];
  /** claims the token must carry, each with one of the listed values */
  claims: Record<string, (string | number | boolean)[]>;
}

export interface Role {
  name: string;
  /** gateway access key ids that may call AssumeRole on it */
  assumableBy: string[];
  /** DurationSeconds may go up to this; default 3600, at most 43200 */
  maxSessionDuration: number;
  /** the grants every session of the role starts from; `${claim}` filled from a web identity */
  allow: Grant[];
  webIdentity?: WebIdentity;
}

export interface StsConfig {
  /** the first seals new sessions; every one listed opens tokens */
  sealingKeys: SealingKey[];
  roles: Map<string, Role>;
  /** CORS for the STS endpoint itself: a browser app calls AssumeRoleWithWebIdentity from its page */
  cors?: CorsRule[];
}

/** The session inside a token: all a replica needs to verify and authorize its requests. */
export interface Session {
  /**
   * 1: grants in classes alone. 2: some grants are a session policy's, held to their IAM actions
   * (`level`, `only`): a release that predates those fields refuses the token rather than read
   * the grants as whole classes.
   */
  v: 1 | 2;
  /** the temporary access key id (ASIA…) */
  ak: string;
  /** the temporary secret */
  sk: string;
  /** issued and expires, epoch seconds */
  iat: number;
  exp: number;
  role: string;
  /** RoleSessionName */
  rsn: string;
  /** who asked: the gateway key id, or the web identity's issuer and subject */
  src: string;
  /** effective grants at issue: the role's (claims filled in) narrowed by the session policy */
  allow: Grant[];
  /** the claim values filled into the role's grants, to fill them again after a reload */
  vars?: Record<string, string>;
}
