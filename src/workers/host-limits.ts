// Per-key limits for the whole host. The primary holds the one Limiter (token bucket and
// concurrency count per key); a worker asks it for a slot over IPC and gives the slot back when
// the request ends. A worker that dies gives back every slot it held. The round trip is paid only
// by keys that have a limit: a key with none never leaves its worker.
import type { Worker } from 'node:cluster';
import type { Limits } from '../config/types.js';
import { Limiter, type LimitKind } from '../limits/limiter.js';
import { S3Error } from '../s3/errors.js';
import type { FromWorker, ToWorker } from './messages.js';

type Release = () => void;

/** The primary's side: answers `acquire` and `release` from every worker. */
export class HostLimits {
  private readonly limiter = new Limiter();
  private readonly held = new Map<Worker, Map<number, Release>>();

  handle(worker: Worker, m: FromWorker): boolean {
    if (m.s3gate === 'acquire') {
      let refused: LimitKind | undefined;
      try {
        const release = this.limiter.acquire(m.key, m.limits, (kind) => (refused = kind));
        let mine = this.held.get(worker);
        if (!mine) this.held.set(worker, (mine = new Map()));
        mine.set(m.id, release);
      } catch {
        refused ??= 'rate';
      }
      const reply: ToWorker = refused ? { s3gate: 'slot', id: m.id, refused } : { s3gate: 'slot', id: m.id };
      if (worker.isConnected()) worker.send(reply);
      return true;
    }
    if (m.s3gate === 'release') {
      const mine = this.held.get(worker);
      mine?.get(m.id)?.();
      mine?.delete(m.id);
      return true;
    }
    return false;
  }

  /** A worker is gone: what it held is free again. */
  forget(worker: Worker): void {
    for (const release of this.held.get(worker)?.values() ?? []) release();
    this.held.delete(worker);
  }
}

/** A worker's side: the pipeline's limiter, asking the primary when the key has a limit. */
export class RemoteLimiter {
  private next = 0;
  private readonly waiting = new Map<number, (refused: LimitKind | undefined) => void>();

  constructor(private readonly send: (m: FromWorker) => void) {}

  acquire(keyId: string, limits: Limits, onRefuse?: (kind: LimitKind, keyId: string) => void): Release | Promise<Release> {
    if (limits.requestsPerSecond <= 0 && limits.concurrent <= 0) return noop;
    const id = this.next++;
    return new Promise<Release>((resolve, reject) => {
      this.waiting.set(id, (refused) => {
        if (refused) {
          onRefuse?.(refused, keyId);
          reject(new S3Error('SlowDown'));
          return;
        }
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.send({ s3gate: 'release', id });
        });
      });
      this.send({ s3gate: 'acquire', id, key: keyId, limits });
    });
  }

  /** The primary's answer to one `acquire`. */
  answer(m: Extract<ToWorker, { s3gate: 'slot' }>): void {
    const done = this.waiting.get(m.id);
    this.waiting.delete(m.id);
    done?.(m.refused);
  }
}

function noop(): void {}
