// Copies s3gate itself is writing into a provider (copy-on-read), by provider key, so that a
// client's write or delete of the same key, served by this process, always wins: a copy that has
// not started to commit is cancelled; one that is committing is waited for, so the client's
// request reaches the provider after it. Other processes are covered by the copy's own checks
// right before it commits (copy-on-read.ts); this only closes the window between those checks
// and the commit for requests served here.

export class Superseded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Superseded';
  }
}

export class InflightCopy {
  state: 'streaming' | 'committing' | 'done' = 'streaming';
  cancelled?: Superseded;
  private settledPromise: Promise<void>;
  private settle!: () => void;
  private readonly onCancel: ((e: Superseded) => void)[] = [];

  constructor(readonly key: string) {
    this.settledPromise = new Promise((r) => (this.settle = r));
  }

  /** Called right before the last bytes go: throws if a write or delete got here first. */
  beginCommit(): void {
    if (this.cancelled) throw this.cancelled;
    this.state = 'committing';
  }

  cancel(reason: Superseded): void {
    if (this.state !== 'streaming' || this.cancelled) return;
    this.cancelled = reason;
    for (const f of this.onCancel) f(reason);
  }

  whenCancelled(f: (e: Superseded) => void): void {
    this.onCancel.push(f);
  }

  finish(): void {
    this.state = 'done';
    this.settle();
  }

  settled(): Promise<void> {
    return this.settledPromise;
  }
}

export class InflightCopies {
  private readonly byKey = new Map<string, Set<InflightCopy>>();

  begin(key: string): InflightCopy {
    const c = new InflightCopy(key);
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(c);
    void c.settled().then(() => {
      set!.delete(c);
      if (set!.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    });
    return c;
  }

  /** A client write or delete of `key` is about to be sent: copies of it give way first. */
  async supersede(key: string, why: string): Promise<void> {
    const set = this.byKey.get(key);
    if (!set) return;
    const waits: Promise<void>[] = [];
    for (const c of set) {
      if (c.state === 'streaming') c.cancel(new Superseded(why));
      else if (c.state === 'committing') waits.push(c.settled());
    }
    await Promise.all(waits);
  }

  get size(): number {
    return this.byKey.size;
  }
}
