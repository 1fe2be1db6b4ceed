// The migration loop: list the source page by page, decide per object, copy with bounded
// concurrency, and journal what is settled so a restart picks up where this run stopped.
import { planAcl, readCannedAcl } from '../route/object-acl.js';
import { readTagging, tagCount } from '../route/object-tags.js';
import { sameTagging } from '../s3/tagging.js';
import { abortUpload, copyObject, DestinationChanged, listParts, withRetry, type Expectation, type UploadRef } from './copy.js';
import { createHash } from 'node:crypto';
import { emptyState, JournalError, JournalWriter, readJournal, type JournalState, type OpenUpload } from './journal.js';
import { listAll, type ListedObject } from './list.js';
import { migrateCounters, migrateEvents } from './metrics.js';
import { compare, isMultipartEtag, isOurCopy, partRanges, sameInstant, type ObjectState, type Verdict } from './plan.js';
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
  shard?: Shard;
  /** verify: read both objects' bytes too, not only their metadata */
  verifyContent?: boolean;
  /** the journal; in dry-run and verify it is only read */
  journalPath?: string;
  /** stop: no new objects, in-flight copies aborted (multipart uploads too) */
  signal: AbortSignal;
  /** per-object outcomes worth telling the user about as they happen */
  onObject?: (e: ObjectEvent) => void;
  pageSize?: number;
}

export type ObjectEvent =
  | { event: 'copied'; key: string; size: number; multipart: boolean; verified: boolean; windowMs?: number }
  /** the destination holds a version this migration did not write: left alone */
  | { event: 'newer-at-destination'; key: string; detail: string }
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
  /** objects left alone because the destination holds a version this migration did not write */
  newerAtDestination: number;
  /** copies with nothing to check their bytes against (the source's ETag is not an MD5) */
  unverified: number;
  failed: number;
  /** up to 1000, the rest counted in `failed` */
  failures: { key: string; reason: string }[];
  /** dry-run: objects (and their bytes) that would be copied */
  wouldCopy?: { objects: number; bytes: number };
  /** verify: differences by kind */
  differences?: Record<string, number>;
  /** bytes of the objects copied */
  bytes: number;
  durationMs: number;
  /** interrupted by a signal before the end */
  stopped: boolean;
  /** resumed after this key */
  resumedAfter?: string;
}

export const label = (ep: Endpoint) => `${ep.up.name}/${ep.bucket}`;

/**
 * Where both providers keep object ACLs: a copy whose canned ACL is not its source's (made by
 * something else, or before ACLs were carried) would open or close the object at cut-over.
 */
async function aclDiffers(src: Endpoint, dst: Endpoint, key: string): Promise<string | undefined> {
  if (!src.up.profile.cannedAcls || !dst.up.profile.cannedAcls) return undefined;
  const [a, b] = await Promise.all([readCannedAcl(src.up, src.bucket, key), readCannedAcl(dst.up, dst.bucket, key)]);
  const say = (r: typeof a) => ('acl' in r ? r.acl : r.why);
  return say(a) === say(b) ? undefined : `the source's ACL is ${say(a)}, the destination's ${say(b)}`;
}

/** An object left at the source because its ACL could not go with it. */
export class AclNotCarried extends Error {
  constructor(detail: string) {
    super(`not copied: ${detail}`);
    this.name = 'AclNotCarried';
  }
}

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
    const tags = header(res, 'x-amz-tagging-count') !== undefined ? { tagCount: tagCount(res.headers) } : {};
    return { size: Number(header(res, 'content-length')), etag: bareEtag(header(res, 'etag')), ...(lm ? { lastModified: lm } : {}), checksums: sums, ...tags };
  });
}

interface PageTrack {
  remaining: number;
  failed: boolean;
  lastKey: string;
  listed: boolean;
}

export class Migrator {
  private readonly stats = { listed: 0, listedBytes: 0, listingDone: false, copied: 0, skipped: 0, failed: 0, reported: 0, bytes: 0, settledBytes: 0, copiedBytes: 0, newer: 0, unverified: 0 };
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
      throw new JournalError(`the journal ${o.journalPath} belongs to another migration (${b.from} → ${b.to}, shard ${b.shard}); use another --state file`);
    }
    const resumedAfter = o.mode === 'copy' ? this.state.cursor : undefined;
    this.pagesSettled = this.state.pagesDone;
    if (o.mode === 'copy' && o.journalPath) {
      this.journal = new JournalWriter(o.journalPath, {}, this.state.head);
      this.journal.append({ t: 'begin', v: 2, ...identity, at: new Date().toISOString() }, true);
    }
    try {
      await this.pump(resumedAfter).catch((e: unknown) => {
        // The listing failed for good: what it did not reach was not copied, and says so.
        const reason = `listing the source: ${e instanceof UpstreamError ? e.message : `${(e as Error).name}: ${(e as Error).message}`}`;
        this.stats.failed++;
        migrateCounters.failed++;
        this.failures.push({ key: '', reason });
        o.onObject?.({ event: 'failed', key: '', reason });
      });
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
      listed: this.stats.listed, copied: this.stats.copied, skipped: this.stats.skipped,
      newerAtDestination: this.stats.newer, unverified: this.stats.unverified, failed: this.stats.failed,
      failures: this.failures,
      ...(o.mode === 'dry-run' ? { wouldCopy: { ...this.would } } : {}),
      ...(o.mode === 'verify' ? { differences: { ...this.differences } } : {}),
      bytes: this.stats.copiedBytes, durationMs: Date.now() - this.started, stopped: o.signal.aborted,
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

  private newer(key: string, detail: string): 'newer' {
    this.stats.newer++;
    migrateEvents.emit('skipped', { key, reason: `newer at destination: ${detail}` });
    this.o.onObject?.({ event: 'newer-at-destination', key, detail });
    return 'newer';
  }

  private async abandon(key: string, open: OpenUpload | undefined): Promise<void> {
    if (this.o.mode !== 'copy' || !open) return;
    await abortUpload(this.o.dst, key, open.uploadId).catch(() => {});
    this.state.uploads.delete(key);
    this.journal?.append({ t: 'mpu-end', k: key, u: open.uploadId });
  }

  private async decideAndAct(obj: ListedObject): Promise<'copied' | 'skipped' | 'interrupted' | 'reported' | 'newer'> {
    const o = this.o;
    const copied = this.state.copied.get(obj.key);
    const open = this.state.uploads.get(obj.key);
    // Resuming an unfinished pass, the journal's word is enough: no HEAD for what this pass
    // already copied. A new pass checks everything again, so it repairs what changed since.
    if (o.mode === 'copy' && copied && copied.pass === this.state.pass && !open && copied.size === obj.size && copied.etag === obj.etag) return this.skip(obj.key, 'journal');

    const decided = performance.now();
    const dest = await headState(o.dst, obj.key, o.signal, o.dst.up.profile.checksums?.checksumMode === true);
    let v = await this.verdict(obj, dest);
    if (!v.same && open && dest && this.completedByUs(obj, open, dest)) {
      // Killed between CompleteMultipartUpload and its journal line: the upload is gone and
      // the destination holds exactly the layout it would have produced.
      const parts = await listParts(o.dst, obj.key, open.uploadId, o.signal).catch(() => null);
      if (parts === undefined) {
        this.state.uploads.delete(obj.key);
        this.journal?.append({ t: 'mpu-end', k: obj.key, u: open.uploadId });
        this.record(obj.key, { size: open.size, etag: open.etag, lastModified: open.lastModified, destEtag: dest.etag, ...(dest.lastModified ? { destLastModified: dest.lastModified } : {}) });
        v = { same: true, by: 'journal' };
      }
    }
    if (v.same) {
      await this.abandon(obj.key, open);
      if (o.mode === 'verify' && o.verifyContent) {
        const read = await contentDiffers(o.src, o.dst, obj.key, o.signal);
        if (read.differs) return this.difference(obj.key, 'content', read.differs);
        const tags = await tagsDiffer(o.src, o.dst, obj.key, read.tagCounts, o.signal);
        if (tags) return this.difference(obj.key, 'tags', tags);
      } else if (o.mode === 'verify' && dest && (dest.tagCount ?? 0) > 0) {
        // Without reading the objects, only the destination's HEAD may say there are tags to compare.
        const tags = await tagsDiffer(o.src, o.dst, obj.key, undefined, o.signal);
        if (tags) return this.difference(obj.key, 'tags', tags);
      }
      if (o.mode === 'verify') {
        const differs = await aclDiffers(o.src, o.dst, obj.key);
        if (differs) return this.difference(obj.key, 'acl', differs);
      }
      return this.skip(obj.key, v.by);
    }
    // Only two states of the destination may be written over: no object at all, or exactly the
    // copy this migration made (the journal's record and the ETag agree). Anything else was
    // written there by someone else, through the gateway under mode: migrate most likely, and
    // is newer than the source.
    let expect: Expectation;
    const read = !dest || isOurCopy(copied, dest) || !(o.mode === 'verify' && o.verifyContent) ? undefined : await contentDiffers(o.src, o.dst, obj.key, o.signal);
    if (!dest) expect = { absent: true };
    else if (isOurCopy(copied, dest)) expect = { etag: dest.etag, lastModified: dest.lastModified! };
    else if (read && !read.differs) {
      // The same bytes, which nothing else could vouch for: their tags still count.
      const tags = await tagsDiffer(o.src, o.dst, obj.key, read.tagCounts, o.signal);
      return tags ? this.difference(obj.key, 'tags', tags) : this.skip(obj.key, 'content');
    } else {
      await this.abandon(obj.key, open);
      const seen = dest.lastModified ? `, Last-Modified ${dest.lastModified}` : '';
      return this.newer(obj.key, `the destination holds ETag ${dest.etag} (${dest.size} bytes${seen}), not written by this migration; the source has ETag ${obj.etag} (${obj.size} bytes)`);
    }
    if (o.mode === 'dry-run') {
      this.would.objects++;
      this.would.bytes += obj.size;
      o.onObject?.({ event: 'would-copy', key: obj.key, size: obj.size, reason: v.difference });
      this.stats.reported++;
      return 'reported';
    }
    if (o.mode === 'verify') return this.difference(obj.key, v.difference, v.detail);
    // The object's canned ACL goes with it, or, where it cannot, the object stays where it is:
    // a copy must not open a private object or close a public one.
    const acl = await withRetry(3, o.signal, async () => {
      const plan = await planAcl(o.src.up, o.src.bucket, o.dst.up, obj.key, false);
      // The provider failed to answer (as opposed to an ACL that cannot go): retried like any read.
      if ('skip' in plan && plan.status !== undefined && plan.status !== 404) throw new UpstreamError('GetObjectAcl', plan.status, plan.code ?? `HTTP${plan.status}`);
      return plan;
    });
    if ('skip' in acl) {
      if (acl.status === 404) return this.skip(obj.key, 'gone from the source');
      throw new AclNotCarried(acl.skip);
    }
    const res = await copyObject(o.src, o.dst, obj, {
      headers: acl.headers,
      multipartThreshold: o.multipartThreshold,
      partSize: o.partSize,
      signal: o.signal,
      expect,
      onBytes: (n) => (this.stats.bytes += n),
      ...(open ? { resume: open satisfies UploadRef } : {}),
      onUploadCreated: (u) => {
        this.state.uploads.set(obj.key, { key: obj.key, ...u });
        this.journal?.append({ t: 'mpu', k: obj.key, u: u.uploadId, ps: u.partSize, s: u.size, e: u.etag, m: u.lastModified, ...(u.tagging ? { tg: u.tagging } : {}) }, true);
      },
      onUploadEnded: (id) => {
        if (this.state.uploads.get(obj.key)?.uploadId === id) this.state.uploads.delete(obj.key);
        this.journal?.append({ t: 'mpu-end', k: obj.key, u: id });
      },
    }).catch((e: unknown) => {
      if (o.signal.aborted) return 'interrupted' as const;
      // Deleted between the listing and the copy: nothing to migrate.
      if (e instanceof UpstreamError && e.status === 404 && (e.operation === 'GetObject' || e.operation === 'HeadObject')) return 'gone' as const;
      if (e instanceof DestinationChanged) return e;
      throw e;
    });
    const doneAt = performance.now();
    if (res === 'interrupted') return 'interrupted';
    if (res === 'gone') return this.skip(obj.key, 'gone from the source');
    if (res instanceof DestinationChanged) return this.newer(obj.key, res.message);
    // Our copy is known by its ETag and its Last-Modified together. Providers do not answer a PUT
    // with Last-Modified: a HEAD reads it, and counts only if it still shows our ETag (a write
    // that landed since makes the key not provably ours, so it is left alone from then on).
    const [srcNow, destLastModified] = await Promise.all([
      headState(o.src, obj.key, o.signal, false),
      res.destLastModified !== undefined ? res.destLastModified : headState(o.dst, obj.key, o.signal, false).then(
        (d) => (d && d.etag === res.destEtag ? d.lastModified : undefined), () => undefined),
    ]);
    const ours = { destEtag: res.destEtag, ...(destLastModified ? { destLastModified } : {}) };
    this.record(obj.key, { size: res.size, etag: res.etag, lastModified: res.lastModified, ...ours });
    if (res.uploadId !== undefined) {
      if (this.state.uploads.get(obj.key)?.uploadId === res.uploadId) this.state.uploads.delete(obj.key);
      this.journal?.append({ t: 'mpu-end', k: obj.key, u: res.uploadId });
    }
    // A delete through the gateway while the copy streamed removed the key from both sides, and
    // the copy has just put it back: take it away again, as long as it is still our copy.
    if (!srcNow) {
      await this.undo(obj.key, ours);
      return this.skip(obj.key, 'deleted at the source during the copy');
    }
    // Likewise an ACL changed at the source while the copy streamed: the copy goes, the next run copies again.
    if (acl.acl !== undefined) {
      const now = await readCannedAcl(o.src.up, o.src.bucket, obj.key);
      if (!('acl' in now) || now.acl !== acl.acl) {
        await this.undo(obj.key, ours);
        throw new AclNotCarried(`its ACL changed during the copy (${acl.acl} → ${'acl' in now ? now.acl : now.why}); the copy was removed`);
      }
    }
    this.stats.copied++;
    this.stats.copiedBytes += res.size;
    if (!res.proof.verified) this.stats.unverified++;
    migrateCounters.copied++;
    migrateCounters.bytes += res.size;
    migrateEvents.emit('copied', { key: obj.key, size: res.size, multipart: res.multipart });
    // The unguarded window, where one remains: an unchecked single PUT's starts at the deciding HEAD.
    const windowMs = res.windowMs === undefined ? undefined : Math.round(res.fromDecision ? doneAt - decided : res.windowMs);
    o.onObject?.({ event: 'copied', key: obj.key, size: res.size, multipart: res.multipart, verified: res.proof.verified, ...(windowMs !== undefined ? { windowMs } : {}) });
    return 'copied';
  }

  private async undo(key: string, ours: { destEtag: string; destLastModified?: string }): Promise<void> {
    const o = this.o;
    const now = await headState(o.dst, key, o.signal, false);
    if (!now || now.etag !== ours.destEtag || (ours.destLastModified !== undefined && !sameInstant(now.lastModified, ours.destLastModified))) return;
    await withRetry(3, o.signal, async () => {
      const res = await send(o.dst, { operation: 'DeleteObject', method: 'DELETE', key, signal: o.signal });
      drain(res.body);
      if (res.status !== 204 && res.status !== 200 && res.status !== 404) await fail('DeleteObject', res);
    });
  }

  private difference(key: string, kind: string, detail: string): 'reported' {
    this.differences[kind] = (this.differences[kind] ?? 0) + 1;
    this.o.onObject?.({ event: 'difference', key, kind, detail });
    this.stats.reported++;
    return 'reported';
  }

  private completedByUs(obj: ListedObject, open: OpenUpload, dest: ObjectState): boolean {
    return open.size === obj.size && open.etag === obj.etag && dest.size === open.size && dest.etag.endsWith(`-${partRanges(open.size, open.partSize).length}`);
  }

  private record(key: string, r: { size: number; etag: string; lastModified: string; destEtag: string; destLastModified?: string }): void {
    this.state.copied.set(key, { ...r, pass: this.state.pass });
    this.journal?.append({ t: 'copied', k: key, s: r.size, e: r.etag, m: r.lastModified, ...(r.destEtag ? { de: r.destEtag } : {}), ...(r.destLastModified ? { dm: r.destLastModified } : {}) });
  }
}

/**
 * Reads both objects whole and compares their MD5s; says how they differ. The GETs also say how
 * many tags each side has (x-amz-tagging-count), for tagsDiffer.
 */
async function contentDiffers(src: Endpoint, dst: Endpoint, key: string, signal: AbortSignal): Promise<{ differs?: string; tagCounts: [number, number] }> {
  const hashOf = (ep: Endpoint) => withRetry(3, signal, async () => {
    const res = await send(ep, { operation: 'GetObject', method: 'GET', key, signal });
    if (res.status !== 200) await fail('GetObject', res);
    const h = createHash('md5');
    let n = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      h.update(c);
      n += c.length;
    }
    return { md5: h.digest('hex'), n, tags: tagCount(res.headers) };
  });
  const [a, b] = await Promise.all([hashOf(src), hashOf(dst)]);
  const tagCounts: [number, number] = [a.tags, b.tags];
  if (a.md5 === b.md5 && a.n === b.n) return { tagCounts };
  return { differs: `the bytes differ: MD5 ${b.md5} (${b.n} bytes) at the destination, ${a.md5} (${a.n} bytes) at the source`, tagCounts };
}

/**
 * Whether the two sides' tags differ, read with GetObjectTagging where a count says there are
 * some (`counts`: source, destination; undefined: the caller knows only that one side has tags).
 * Both counts 0: nothing to read, the same (no tags on either side).
 */
async function tagsDiffer(src: Endpoint, dst: Endpoint, key: string, counts: [number, number] | undefined, signal: AbortSignal): Promise<string | undefined> {
  if (counts && counts[0] === 0 && counts[1] === 0) return undefined;
  const read = (ep: Endpoint) => withRetry(3, signal, async () => {
    const got = await readTagging(ep.up, ep.bucket, key);
    if ('why' in got) throw new UpstreamError('GetObjectTagging', got.status ?? 0, got.code ?? 'TagsUnreadable', got.why);
    return got.tagging;
  });
  const [a, b] = await Promise.all([read(src), read(dst)]);
  if (sameTagging(a, b)) return undefined;
  const say = (t: string) => (t === '' ? 'no tags' : decodeURIComponent(t.replace(/&/g, ', ')));
  return `the source has ${say(a)}, the destination ${say(b)}`;
}

function chain(prev: (() => void) | undefined, next: () => void): () => void {
  return prev ? () => (prev(), next()) : next;
}
