// Per-key rate (token bucket) and concurrency limits. State is keyed by access key id (a session:
// who asked for it under its role, sts/inbound.ts limitKey, never its RoleSessionName) and lives
// in this process: with N replicas the effective limit is N times the configured one, which
// docs/deployment.md says. A refused request gets 503 SlowDown, as S3 answers.
import type { Limits } from '../config/types.js';
import { S3Error } from '../s3/errors.js';

interface KeyState {
  tokens: number;
  updated: number;
  inflight: number;
}

export type LimitKind = 'rate' | 'concurrency';

export class Limiter {
  private readonly state = new Map<string, KeyState>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Takes a slot for the key or throws SlowDown; call the returned function when done. `onRefuse`
   * is told the key, so one function serves every request (no closure per request).
   */
  acquire(keyId: string, limits: Limits, onRefuse?: (kind: LimitKind, keyId: string) => void): () => void {
    if (limits.requestsPerSecond <= 0 && limits.concurrent <= 0) return noop;
    let s = this.state.get(keyId);
    const t = this.now();
    if (!s) {
      s = { tokens: limits.burst, updated: t, inflight: 0 };
      this.state.set(keyId, s);
    }
    if (limits.concurrent > 0 && s.inflight >= limits.concurrent) {
      onRefuse?.('concurrency', keyId);
      throw new S3Error('SlowDown');
    }
    if (limits.requestsPerSecond > 0) {
      s.tokens = Math.min(limits.burst, s.tokens + ((t - s.updated) / 1000) * limits.requestsPerSecond);
      s.updated = t;
      if (s.tokens < 1) {
        onRefuse?.('rate', keyId);
        throw new S3Error('SlowDown');
      }
      s.tokens -= 1;
    }
    s.inflight++;
    let released = false;
    const st = s;
    return () => {
      if (released) return;
      released = true;
      st.inflight--;
    };
  }
}

function noop(): void {}
