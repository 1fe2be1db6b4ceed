// Memory for request bodies s3gate must hold whole (CompleteMultipartUpload, DeleteObjects) is
// admitted before a byte is read: the signature verified, but nothing yet says the upload id or
// the keys are real, so a key holder could otherwise pin megabytes per connection (20 connections
// of one prefix-limited key held 229 MiB in the #17 review). Each key gets a share, the process a
// total; past either the request is refused with SlowDown at once and its body never read.

export interface BodyBudgetLimits {
  /** bytes one access key may hold in whole bodies at once */
  perKey: number;
  /** bytes all keys together may hold */
  total: number;
}

// Four of the largest CompleteMultipartUpload bodies per key, sixteen in all: 32 MiB at most,
// which keeps a gateway that idles at about 80 MiB under its 100 MiB + burst target
// (bench/hostile-bodies.mjs measures it with 1,000 connections of one key).
export const DEFAULT_BODY_BUDGET: BodyBudgetLimits = { perKey: 8 * 1024 * 1024, total: 32 * 1024 * 1024 };

export class BodyBudget {
  private used = 0;
  private readonly byKey = new Map<string, number>();

  constructor(private readonly limits: BodyBudgetLimits = DEFAULT_BODY_BUDGET) {}

  /** Reserves `bytes` for `key`; the returned function gives them back (once), or undefined when refused. */
  reserve(key: string, bytes: number): (() => void) | undefined {
    const mine = this.byKey.get(key) ?? 0;
    if (mine + bytes > this.limits.perKey || this.used + bytes > this.limits.total) return undefined;
    this.byKey.set(key, mine + bytes);
    this.used += bytes;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= bytes;
      const left = (this.byKey.get(key) ?? bytes) - bytes;
      if (left <= 0) this.byKey.delete(key);
      else this.byKey.set(key, left);
    };
  }

  /** bytes held now (metrics, tests) */
  get held(): number {
    return this.used;
  }
}

/** The process's budget: one per worker process, like the rest of a worker's memory. */
export const processBodyBudget = new BodyBudget();
