// The migration's state: an append-only JSON-lines file. Appending never rewrites what a crash
// could tear, a torn last line is simply dropped on replay, and replaying the lines in order
// rebuilds everything a restart needs: what was copied, where the listing can resume, and
// which multipart uploads were left open.
//
// Each line carries `h`, a hash over the previous line's `h` and its own content, starting from
// the `begin` line's hash of the migration it belongs to (source, destination, shard). Replay
// checks the chain, so a line that was torn and then continued from, edited, duplicated or moved
// refuses the journal instead of skipping objects; a torn line with nothing chained to it is
// what a killed run leaves, and is dropped.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, existsSync, fsyncSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CopiedRecord } from './plan.js';

export type JournalRecord =
  | { t: 'begin'; v: 2; from: string; to: string; shard: string; at: string }
  /** a copy finished: the source's size/ETag/Last-Modified then, and the destination's ETag and Last-Modified */
  | { t: 'copied'; k: string; s: number; e: string; m: string; de?: string; dm?: string }
  /** a multipart upload was created (`tg`: the digest of the tags it carries); written durably before its first part */
  | { t: 'mpu'; k: string; u: string; ps: number; s: number; e: string; m: string; tg?: string }
  /** that upload was completed or aborted */
  | { t: 'mpu-end'; k: string; u: string }
  /** every object of the listing up to and including this key is settled */
  | { t: 'cursor'; after: string; pages: number }
  /** a full pass finished; the next run lists from the start again */
  | { t: 'complete'; at: string };

export interface OpenUpload {
  key: string;
  uploadId: string;
  partSize: number;
  size: number;
  etag: string;
  lastModified: string;
  tagging?: string;
}

export interface JournalState {
  begin?: { from: string; to: string; shard: string };
  /** what we copied, and in which pass (a pass ends with a `complete` record) */
  copied: Map<string, CopiedRecord & { pass: number }>;
  /** passes completed */
  pass: number;
  uploads: Map<string, OpenUpload>;
  /** resume the listing after this key */
  cursor?: string;
  pagesDone: number;
  /** lines that did not parse (a torn last write) */
  skippedLines: number;
  /** the chain's last hash: the next line continues from it */
  head: string;
}

export function emptyState(): JournalState {
  return { copied: new Map(), pass: 0, uploads: new Map(), pagesDone: 0, skippedLines: 0, head: '' };
}

/** A journal that is not a whole record of one migration; exit 2, like a config mistake. */
export class JournalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalError';
  }
}

type Chained = JournalRecord & { h?: string };

/** The line's hash: over the previous one and the record as written, without its own `h`. */
export function chainHash(prev: string, r: JournalRecord): string {
  return createHash('sha256').update(prev).update('\n').update(JSON.stringify(r)).digest('hex').slice(0, 24);
}

/** Checks one parsed line against the chain and applies it; throws on any break. */
function accept(state: JournalState, raw: Chained, lineNo: number): void {
  const { h, ...r } = raw;
  if (r.t === 'begin' && (r as { v?: number }).v !== 2) {
    throw new JournalError(`line ${lineNo} is a format-${String((r as { v?: number }).v)} journal from an older s3gate, whose lines carry no checksums; move it away (or give another --state) and the next run starts a new one, skipping by HEAD what is already copied`);
  }
  if (!state.begin && r.t !== 'begin') throw new JournalError(`line ${lineNo}: the journal does not start with a whole begin line (torn or edited)`);
  if (typeof h !== 'string' || h !== chainHash(state.head, r as JournalRecord)) {
    throw new JournalError(`line ${lineNo} does not follow from the line before it (edited, duplicated, reordered, or written after a torn begin)`);
  }
  state.head = h;
  apply(state, r as JournalRecord);
}

export function apply(state: JournalState, r: JournalRecord): void {
  switch (r.t) {
    case 'begin':
      state.begin ??= { from: r.from, to: r.to, shard: r.shard };
      break;
    case 'copied':
      state.copied.set(r.k, { size: r.s, etag: r.e, lastModified: r.m, pass: state.pass, ...(r.de !== undefined ? { destEtag: r.de } : {}), ...(r.dm !== undefined ? { destLastModified: r.dm } : {}) });
      break;
    case 'mpu':
      state.uploads.set(r.k, { key: r.k, uploadId: r.u, partSize: r.ps, size: r.s, etag: r.e, lastModified: r.m, ...(r.tg !== undefined ? { tagging: r.tg } : {}) });
      break;
    case 'mpu-end':
      if (state.uploads.get(r.k)?.uploadId === r.u) state.uploads.delete(r.k);
      break;
    case 'cursor':
      state.cursor = r.after;
      state.pagesDone = r.pages;
      break;
    case 'complete':
      delete state.cursor;
      state.pagesDone = 0;
      state.pass++;
      break;
  }
}

export function parseLine(line: string): JournalRecord | undefined {
  if (!line.trim()) return undefined;
  try {
    const r = JSON.parse(line) as JournalRecord;
    return r && typeof r === 'object' && typeof r.t === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

export function replayLines(lines: Iterable<string>): JournalState {
  const state = emptyState();
  let n = 0;
  for (const line of lines) {
    n++;
    if (!line.trim()) continue;
    const r = parseLine(line);
    if (r) accept(state, r, n);
    else state.skippedLines++;
  }
  return state;
}

export async function readJournal(path: string): Promise<JournalState> {
  const state = emptyState();
  if (!existsSync(path)) return state;
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  let error: unknown;
  rl.on('line', (line) => {
    n++;
    if (error || !line.trim()) return;
    const r = parseLine(line);
    try {
      if (r) accept(state, r, n);
      else state.skippedLines++;
    } catch (e) {
      error = e;
    }
  });
  await once(rl, 'close');
  if (error) throw error instanceof JournalError ? new JournalError(`the journal ${path}: ${error.message}`) : error;
  return state;
}

export interface JournalWriterOptions {
  /** fsync at least this often while records are pending (ms) */
  syncEveryMs?: number;
  /** or after this many records */
  syncEveryRecords?: number;
}

/**
 * Writes go straight to the file (a killed process loses nothing the kernel has); fsync, which
 * is what survives a machine crash, runs on a cadence so it does not cost one disk flush per
 * object.
 */
export class JournalWriter {
  private readonly fd: number;
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly syncEveryMs: number;
  readonly syncEveryRecords: number;

  /** `head`: the chain's last hash, from the replay of what the file already holds. */
  constructor(readonly path: string, opts: JournalWriterOptions = {}, private head = '') {
    this.syncEveryMs = opts.syncEveryMs ?? 1000;
    this.syncEveryRecords = opts.syncEveryRecords ?? 512;
    this.fd = openSync(path, 'a+');
    // A torn last line from a killed run must not swallow the first record we append.
    const size = fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(this.fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) writeSync(this.fd, '\n');
    }
  }

  /** `durable`: fsync before returning (records a restart cannot do without, e.g. an upload id). */
  append(r: JournalRecord, durable = false): void {
    if (this.closed) return;
    this.head = chainHash(this.head, r);
    writeSync(this.fd, JSON.stringify({ ...r, h: this.head }) + '\n');
    this.pending++;
    if (durable || this.pending >= this.syncEveryRecords) this.sync();
    else this.timer ??= setTimeout(() => this.sync(), this.syncEveryMs).unref();
  }

  sync(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.pending === 0) return;
    fsyncSync(this.fd);
    this.pending = 0;
  }

  close(): void {
    if (this.closed) return;
    this.sync();
    this.closed = true;
    closeSync(this.fd);
  }
}

/** `.s3gate-migrate-<bucket>.jsonl`, one file per shard so workers sharing a volume never collide. */
export function defaultJournalPath(bucket: string, shard?: { index: number; count: number }): string {
  const safe = bucket.replace(/[^A-Za-z0-9._-]/g, '_');
  return shard && shard.count > 1 ? `.s3gate-migrate-${safe}.shard-${shard.index}-of-${shard.count}.jsonl` : `.s3gate-migrate-${safe}.jsonl`;
}
