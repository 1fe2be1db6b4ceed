// Session tokens: the whole session sealed with AES-256-GCM, so any replica holding the sealing
// key verifies and opens it without shared storage. Layout (base64url after the second dot):
//
//   S3GT1.<key id>.<12-byte nonce><ciphertext><16-byte tag>
//
// The prefix and key id are authenticated as additional data: a token cannot be moved to another
// key id or format version. A random nonce per token is safe for AES-GCM well past any number of
// sessions a gateway issues (2^32 per key keeps the collision chance under 2^-32).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Grant } from '../config/types.js';
import { ACTIONS, type Action } from '../config/types.js';
import type { SealingKey, Session } from './types.js';

const PREFIX = 'S3GT1';
const NONCE = 12;
const TAG = 16;

/** Why a token was refused: the reason label of s3gate_sts_tokens_refused_total. */
export type RefusalReason = 'malformed' | 'unknown-key' | 'forged' | 'expired' | 'role-removed' | 'key-mismatch' | 'unsigned';

export class TokenError extends Error {
  constructor(readonly reason: RefusalReason) {
    super(`session token refused: ${reason}`);
    this.name = 'TokenError';
  }
}

/** The 32-byte AES key for a configured secret. The id goes into the derivation, so two ids never share a key. */
export function deriveSealingKey(id: string, secret: string): SealingKey {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 's3gate-sts-sealing', id, 32));
  return { id, key };
}

export function seal(session: Session, key: SealingKey): string {
  const head = `${PREFIX}.${key.id}`;
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(Buffer.from(head, 'utf8'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
  return `${head}.${Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64url')}`;
}

/**
 * Opens a token with whichever configured key its id names. Throws TokenError: a removed key is
 * 'unknown-key', any change to the bytes (or a token sealed elsewhere) is 'forged'. Expiry is the
 * caller's check, against its own clock.
 */
export function open(token: string, keys: readonly SealingKey[]): Session {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.slice(0, first) !== PREFIX) throw new TokenError('malformed');
  const id = token.slice(first + 1, second);
  const body = token.slice(second + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new TokenError('malformed');
  const raw = Buffer.from(body, 'base64url');
  if (raw.length < NONCE + TAG + 2) throw new TokenError('malformed');
  const key = keys.find((k) => k.id === id);
  if (!key) throw new TokenError('unknown-key');
  let plain: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, raw.subarray(0, NONCE));
    decipher.setAAD(Buffer.from(token.slice(0, second), 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG));
    plain = Buffer.concat([decipher.update(raw.subarray(NONCE, raw.length - TAG)), decipher.final()]).toString('utf8');
  } catch {
    throw new TokenError('forged');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain);
  } catch {
    throw new TokenError('malformed');
  }
  // Authenticated bytes come from a key holder; the shape is still checked so a token sealed by
  // an older or newer s3gate fails cleanly rather than half-working.
  if (!isSession(parsed)) throw new TokenError('malformed');
  return parsed;
}

function isGrant(g: unknown, v: 1 | 2): g is Grant {
  if (typeof g !== 'object' || g === null) return false;
  const o = g as Record<string, unknown>;
  // A policy's fields only in a version-2 token, which every release that reads them knows.
  if (v === 1 && (o.level !== undefined || o.only !== undefined)) return false;
  return typeof o.bucket === 'string' && (o.prefix === undefined || typeof o.prefix === 'string') &&
    Array.isArray(o.actions) && o.actions.every((a) => ACTIONS.includes(a as Action)) &&
    (o.level === undefined || o.level === 'object' || o.level === 'bucket') &&
    (o.only === undefined || (o.level !== undefined && Array.isArray(o.only) && o.only.every((a) => typeof a === 'string')));
}

function isSession(x: unknown): x is Session {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  const v = s.v;
  return (v === 1 || v === 2) && typeof s.ak === 'string' && typeof s.sk === 'string' && typeof s.iat === 'number' && typeof s.exp === 'number' &&
    typeof s.role === 'string' && typeof s.rsn === 'string' && typeof s.src === 'string' && Array.isArray(s.allow) && s.allow.every((g) => isGrant(g, v)) &&
    (s.vars === undefined || (typeof s.vars === 'object' && s.vars !== null && Object.values(s.vars).every((x) => typeof x === 'string')));
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A fresh temporary key pair, in AWS's shapes: ASIA + 16 base32 characters, a 40-character secret. */
export function newCredentials(): { accessKeyId: string; secretAccessKey: string } {
  const r = randomBytes(16);
  let id = 'ASIA';
  for (let i = 0; i < 16; i++) id += BASE32[r[i]! & 31];
  return { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64') };
}
