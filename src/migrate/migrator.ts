// The migration loop: list the source page by page, decide per object, copy with bounded
// concurrency, and journal what is settled so a restart picks up where this run stopped.
import { abortUpload, copyObject, listParts, withRetry, type UploadRef } from './copy.js';
import { emptyState, JournalWriter, readJournal, type JournalState, type OpenUpload } from './journal.js';
import { listAll, type ListedObject } from './list.js';
import { migrateCounters, migrateEvents } from './metrics.js';
import { compare, isMultipartEtag, partRanges, type ObjectState, type Verdict } from './plan.js';
import type { ProgressSnapshot } from './progress.js';
import { bareEtag, drain, fail, header, send, UpstreamError, type Endpoint } from './s3.js';
import { inShard, shardLabel, type Shard } from './shard.js';

export type MigrateMode = 'copy' | 'dry-run' | 'verify';

export interface MigrateOptions {
  src: Endpoint;
  dst: Endpoint;
  mode: MigrateMode;
  concurrency: number;
  multipartThreshold: number;
  partSize: number;
  partConcurrency?: number;
  shard?: Shard;
  /** the journal; in dry-run and verify it is only read */
  journalPath?: string;
  /** stop: no new objects, in-flight copies aborted (multipart uploads too) */
  signal: AbortSignal;
  /** per-object outcomes worth telling the user about as they happen */
  onObject?: (e: ObjectEvent) => void;
  pageSize?: number;
}

export type ObjectEvent =
  | { event: 'copied'; key: string; size: number; multipart: boolean }
  | { event: 'would-copy'; key: string; size: number; reason: string }
  | { event: 'difference'; key: string; kind: string; detail: string }
  | { event: 'failed'; key: string; reason: string };

export interface Report {
  mode: MigrateMode;
  from: string;
  to: string;
  shard: string;
  listed: number;
  copied: number;
  skipped: number;
  failed: number;
  /** up to 1000, the rest counted in `failed` */
  failures: { key: string; reason: string }[];
  /** dry-run: objects (and their bytes) that would be copied */
  wouldCopy?: { objects: number; bytes: number };
  /** verify: differences by kind */
  differences?: Record<string, number>;
  bytes: number;
  durationMs: number;
  /** interrupted by a signal before the end */
  stopped: boolean;
  /** resumed after this key */
  resumedAfter?: string;
}

export const label = (ep: Endpoint) => `${ep.up.name}/${ep.bucket}`;

/** A HEAD as object state, undefined when there is no such object. */
export async function headState(ep: Endpoint, key: string, signal: AbortSignal, checksums: boolean): Promise<ObjectState | undefined> {
  return withRetry(3, signal, async () => {
    const res = await send(ep, { operation: 'HeadObject', method: 'HEAD', key, signal, ...(checksums ? { headers: { 'x-amz-checksum-mode': 'ENABLED' } } : {}) });
    drain(res.body);
    if (res.status === 404) return undefined;
    if (res.status !== 200) await fail('HeadObject', res);
    const sums: Record<string, string> = {};
    for (const [n, v] of Object.entries(res.headers)) {
      const m = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/.exec(n.toLowerCase());
      if (m && typeof v === 'string') sums[m[1]!] = v;
    }
    const lm = header(res, 'last-modified');
    return { size: Number(header(res, 'content-length')), etag: bareEtag(header(res, 'etag')), ...(lm ? { lastModified: lm } : {}), checksums: sums };
  });
}

interface PageTrack {
  remaining: number;
  failed: boolean;
  lastKey: string;
  listed: boolean;
}

export class Migrator {
  private readonly stats = { listed: 0, listedBytes: 0, listingDone: false, copied: 0, skipped: 0, failed: 0, reported: 0, bytes: 0, settledBytes: 0 };
  private readonly failures: { key: string; reason: string }[] = [];
  private readonly differences: Record<string, number> = {};
  private readonly would = { objects: 0, bytes: 0 };
  private started = 0;
  private state!: JournalState;
  private journal: JournalWriter | undefined;
  private readonly pages: PageTrack[] = [];
  private pagesSettled = 0;
  private cursorBlocked = false;

  constructor(private readonly o: MigrateOptions) {}

  snapshot(): ProgressSnapshot {
    return { ...this.stats, elapsedMs: this.started ? Date.now() - this.started : 0 };
  }

  async run(): Promise<Report> {
    const o = this.o;
    this.started = Date.now();
    const identity = { from: label(o.src), to: label(o.dst), shard: shardLabel(o.shard) };
    this.state = o.journalPath ? await readJournal(o.journalPath) : emptyState();
    const b = this.state.begin;
    if (b && (b.from !== identity.from || b.to !== identity.to || b.shard !== identity.shard)) {
      throw new Error(`the journal ${o.journalPath} belongs to another migration (${b.from} → ${b.to}, shard ${b.shard}); use another --state file`);
    }
    const resumedAfter = o.mode === 'copy' ? this.state.cursor : undefined;
    this.pagesSettled = this.state.pagesDone;
    if (o.mode === 'copy' && o.journalPath) {
      this.journal = new JournalWriter(o.journalPath);
      this.journal.append({ t: 'begin', v: 1, ...identity, at: new Date().toISOString() }, true);
    }
    try {
      await this.pump(resumedAfter);
      if (!o.signal.aborted && this.stats.listingDone && o.mode === 'copy') {
        // Uploads the journal left open for keys this listing never reached (deleted since).
        for (const u of this.state.uploads.values()) {
          await abortUpload(o.dst, u.key, u.uploadId).catch(() => {});
          this.journal?.append({ t: 'mpu-end', k: u.key, u: u.uploadId });
        }
        this.journal?.append({ t: 'complete', at: new Date().toISOString() });
      }
    } finally {
      this.journal?.close();
    }
    return {
      mode: o.mode, ...identity,
      listed: this.stats.listed, copied: this.stats.copied, skipped: this.stats.skipped, failed: this.stats.failed,
      failures: this.failures,
      ...(o.mode === 'dry-run' ? { wouldCopy: { ...this.would } } : {}),
      ...(o.mode === 'verify' ? { differences: { ...this.differences } } : {}),
      bytes: this.stats.bytes, durationMs: Date.now() - this.started, stopped: o.signal.aborted,
      ...(resumedAfter !== undefined ? { resumedAfter } : {}),
    };
  }

  /** The listing feeds a bounded queue; `concurrency` workers drain it. */
  private async pump(startAfter: string | undefined): Promise<void> {
    const o = this.o;
    const queue: { obj: ListedObject; page: number }[] = [];
    const limit = Math.max(1000, o.concurrency * 4);
    let listingError: unknown;
    let wake: (() => void) | undefined;
    let space: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const producer = (async () => {
      try {
        for await (const page of listAll(o.src, { ...(startAfter !== undefined ? { startAfter } : {}), signal: o.signal, ...(o.pageSize ? { pageSize: o.pageSize } : {}) })) {
          if (o.signal.aborted) return;
          const mine = page.objects.filter((x) => inShard(x.key, o.shard));
          const index = this.pages.length;
          this.pages.push({ remaining: mine.length, failed: false, lastKey: page.objects.at(-1)?.key ?? '', listed: true });
          this.stats.listed += mine.length;
          for (const obj of mine) {
            this.stats.listedBytes += obj.size;
            queue.push({ obj, page: index });
          }
          notify();
          this.advanceCursor();
          while (queue.length > limit && !o.signal.aborted) await new Promise<void>((r) => (space = r));
        }
        this.stats.listingDone = true;
      } catch (e) {
        if (!o.signal.aborted) listingError = e;
      } finally {
        notify();
      }
    })();
    let producing = true;
    void producer.finally(() => {
      producing = false;
      notify();
    });
    const stopped = new Promise<void>((r) => o.signal.addEventListener('abort', () => r(), { once: true }));
    void stopped.then(() => {
      notify();
      space?.();
    });
    const worker = async () => {
      for (;;) {
        if (o.signal.aborted) return;
        const next = queue.shift();
        if (!next) {
          if (!producing) return;
          await new Promise<void>((r) => (wake = chain(wake, r)));
          continue;
        }
        if (queue.length <= limit) {
          const s = space;
          space = undefined;
          s?.();
        }
        await this.one(next.obj, next.page);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    await producer;
    if (listingError) throw listingError;
  }

  private async one(obj: ListedObject, page: number): Promise<void> {
    const o = this.o;
    let failed = false;
    try {
      const outcome = await this.decideAndAct(obj);
      if (outcome === 'interrupted') return;
    } catch (e) {
      if (o.signal.aborted) return;
      failed = true;
      const reason = e instanceof UpstreamError ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
      this.stats.failed++;
      migrateCounters.failed++;
      if (this.failures.length < 1000) this.failures.push({ key: obj.key, reason });
      migrateEvents.emit('failed', { key: obj.key, reason });
      o.onObject?.({ event: 'failed', key: obj.key, reason });
    } finally {
      if (!o.signal.aborted || failed) this.settle(page, obj.size, failed);
    }
  }

  private settle(page: number, size: number, failed: boolean): void {
    this.stats.settledBytes += size;
    const p = this.pages[page]!;
    p.remaining--;
    if (failed) p.failed = true;
    this.advanceCursor();
  }

  /** Journals the listing position once every object before it is settled without failure. */
  private advanceCursor(): void {
    if (this.cursorBlocked || !this.journal) return;
    const base = this.state.pagesDone;
    for (;;) {
      const i = this.pagesSettled - base;
      const p = this.pages[i];
      if (!p || p.remaining > 0) return;
      // A failed object pins the cursor before its page, so a restart lists it again.
      if (p.failed) {
        this.cursorBlocked = true;
        return;
      }
      this.pagesSettled++;
      if (p.lastKey) this.journal.append({ t: 'cursor', after: p.lastKey, pages: this.pagesSettled });
    }
  }

  private skip(key: string, reason: string): 'skipped' {
    this.stats.skipped++;
    migrateCounters.skipped++;
    migrateEvents.emit('skipped', { key, reason });
    return 'skipped';
  }

  private async verdict(obj: ListedObject, dest: ObjectState | undefined): Promise<Verdict> {
    const o = this.o;
    const src: ObjectState = { size: obj.size, etag: obj.etag, lastModified: obj.lastModified };
    const copied = this.state.copied.get(obj.key);
    let v = compare(src, dest, copied);
    // Part layouts differ and the journal cannot vouch: checksums are the last witness.
    if (!v.same && v.difference === 'etag' && dest && (isMultipartEtag(src.etag) || isMultipartEtag(dest.etag)) && Object.keys(dest.checksums ?? {}).length) {
      const full = await headState(o.src, obj.key, o.signal, o.src.up.profile.checksums?.checksumMode !== false);
      if (full) v = compare({ ...full, lastModified: obj.lastModified }, dest, copied);
    }
    return v;
  }

  private async decideAndAct(obj: ListedObject): Promise<'copied' | 'skipped' | 'interrupted' | 'reported'> {
    const o = this.o;
    const copied = this.state.copied.get(obj.key);
    const open = this.state.uploads.get(obj.key);
    // Resuming an unfinished pass, the journal's word is enough: no HEAD for what this pass
    // already copied. A new pass checks everything again, so it repairs what changed since.
    if (o.mode === 'copy' && copied && copied.pass === this.state.pass && !open && copied.size === obj.size && copied.etag === obj.etag) return this.skip(obj.key, 'journal');

    const dest = await headState(o.dst, obj.key, o.signal, o.dst.up.profile.checksums?.checksumMode === true);
    let v = await this.verdict(obj, dest);
    if (!v.same && open && dest && this.completedByUs(obj, open, dest)) {
      // Killed between CompleteMultipartUpload and its journal line: the upload is gone and
      // the destination holds exactly the layout it would have produced.
      const parts = await listParts(o.dst, obj.key, open.uploadId, o.signal).catch(() => null);
      if (parts === undefined) {
        this.state.uploads.delete(obj.key);
        this.journal?.append({ t: 'mpu-end', k: obj.key, u: open.uploadId });
        this.record(obj.key, { size: open.size, etag: open.etag, lastModified: open.lastModified, destEtag: dest.etag });
        v = { same: true, by: 'journal' };
      }
    }
    if (v.same) {
      if (o.mode === 'copy' && open) {
        await abortUpload(o.dst, obj.key, open.uploadId).catch(() => {});
        this.state.uploads.delete(obj.key);
        this.journal?.append({ t: 'mpu-end', k: obj.key, u: open.uploadId });
      }
      return this.skip(obj.key, v.by);
    }
    if (o.mode === 'dry-run') {
      this.would.objects++;
      this.would.bytes += obj.size;
      o.onObject?.({ event: 'would-copy', key: obj.key, size: obj.size, reason: v.difference });
      this.stats.reported++;
      return 'reported';
    }
    if (o.mode === 'verify') {
      this.differences[v.difference] = (this.differences[v.difference] ?? 0) + 1;
      o.onObject?.({ event: 'difference', key: obj.key, kind: v.difference, detail: v.detail });
      this.stats.reported++;
      return 'reported';
    }
    const res = await copyObject(o.src, o.dst, obj, {
      multipartThreshold: o.multipartThreshold,
      partSize: o.partSize,
      partConcurrency: o.partConcurrency ?? 4,
      signal: o.signal,
      onBytes: (n) => (this.stats.bytes += n),
      ...(open ? { resume: open satisfies UploadRef } : {}),
      onUploadCreated: (u) => {
        this.state.uploads.set(obj.key, { key: obj.key, ...u });
        this.journal?.append({ t: 'mpu', k: obj.key, u: u.uploadId, ps: u.partSize, s: u.size, e: u.etag, m: u.lastModified }, true);
      },
      onUploadEnded: (id) => {
        if (this.state.uploads.get(obj.key)?.uploadId === id) this.state.uploads.delete(obj.key);
        this.journal?.append({ t: 'mpu-end', k: obj.key, u: id });
      },
    }).catch((e: unknown) => {
      if (o.signal.aborted) return 'interrupted' as const;
      // Deleted between the listing and the copy: nothing to migrate.
      if (e instanceof UpstreamError && e.status === 404 && (e.operation === 'GetObject' || e.operation === 'HeadObject')) return 'gone' as const;
      throw e;
    });
    if (res === 'interrupted') return 'interrupted';
    if (res === 'gone') return this.skip(obj.key, 'gone from the source');
    this.record(obj.key, { size: res.size, etag: res.etag, lastModified: res.lastModified, destEtag: res.destEtag });
    this.stats.copied++;
    migrateCounters.copied++;
    migrateCounters.bytes += res.size;
    migrateEvents.emit('copied', { key: obj.key, size: res.size, multipart: res.multipart });
    o.onObject?.({ event: 'copied', key: obj.key, size: res.size, multipart: res.multipart });
    return 'copied';
  }

  private completedByUs(obj: ListedObject, open: OpenUpload, dest: ObjectState): boolean {
    return open.size === obj.size && open.etag === obj.etag && dest.size === open.size && dest.etag.endsWith(`-${partRanges(open.size, open.partSize).length}`);
  }

  private record(key: string, r: { size: number; etag: string; lastModified: string; destEtag: string }): void {
    this.state.copied.set(key, { ...r, pass: this.state.pass });
    this.journal?.append({ t: 'copied', k: key, s: r.size, e: r.etag, m: r.lastModified, ...(r.destEtag ? { de: r.destEtag } : {}) });
  }
}

function chain(prev: (() => void) | undefined, next: () => void): () => void {
  return prev ? () => (prev(), next()) : next;
}
