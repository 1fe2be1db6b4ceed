// What a person or a log collector sees while a migration runs: one redrawn line on a
// terminal, JSON lines on a cadence everywhere else.

export interface ProgressSnapshot {
  listed: number;
  listedBytes: number;
  listingDone: boolean;
  copied: number;
  skipped: number;
  failed: number;
  /** dry-run objects that would be copied, verify differences */
  reported: number;
  /** left alone: the destination holds a newer version */
  newer: number;
  /** bytes sent to the destination so far, including parts of unfinished objects */
  bytes: number;
  /** sizes of the objects settled (copied, skipped or failed) */
  settledBytes: number;
  elapsedMs: number;
}

const MiB = 1024 * 1024;

export function rate(s: ProgressSnapshot): number {
  return s.elapsedMs > 0 ? s.bytes / (s.elapsedMs / 1000) : 0;
}

/** Seconds left, once the listing is complete and so the total is known. */
export function eta(s: ProgressSnapshot): number | undefined {
  if (!s.listingDone) return undefined;
  const done = s.copied + s.skipped + s.failed + s.reported + s.newer;
  if (done >= s.listed) return 0;
  const r = rate(s);
  const left = s.listedBytes - s.settledBytes;
  if (r > 0 && left > 0) return left / r;
  return done > 0 ? ((s.listed - done) * s.elapsedMs) / done / 1000 : undefined;
}

export function formatDuration(seconds: number): string {
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < MiB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024 / MiB).toFixed(2)} GiB`;
}

export function progressLine(s: ProgressSnapshot): string {
  const done = s.copied + s.skipped + s.failed + s.reported + s.newer;
  const e = eta(s);
  return [
    `${done}/${s.listed}${s.listingDone ? '' : '+'} objects`,
    `${s.copied} copied, ${s.skipped} skipped${s.newer ? `, ${s.newer} newer at destination` : ''}${s.reported ? `, ${s.reported} to report` : ''}${s.failed ? `, ${s.failed} FAILED` : ''}`,
    formatBytes(s.bytes),
    `${(rate(s) / MiB).toFixed(1)} MiB/s`,
    e === undefined ? 'listing…' : `ETA ${formatDuration(e)}`,
  ].join('  ');
}

export function progressJson(s: ProgressSnapshot): Record<string, unknown> {
  const e = eta(s);
  return {
    event: 'progress',
    done: s.copied + s.skipped + s.failed + s.reported + s.newer,
    listed: s.listed,
    listingDone: s.listingDone,
    copied: s.copied,
    skipped: s.skipped,
    failed: s.failed,
    bytes: s.bytes,
    mibPerSec: Math.round((rate(s) / MiB) * 100) / 100,
    elapsedSec: Math.round(s.elapsedMs / 100) / 10,
    ...(e !== undefined ? { etaSec: Math.round(e) } : {}),
  };
}

/** Drives the display: `tty` redraws one line in place, otherwise JSON lines every `intervalMs`. */
export class ProgressDisplay {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly snapshot: () => ProgressSnapshot,
    private readonly opts: { tty: boolean; intervalMs: number },
  ) {}

  start(): void {
    const every = this.opts.tty ? Math.min(this.opts.intervalMs, 250) : this.opts.intervalMs;
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  tick(): void {
    const s = this.snapshot();
    if (this.opts.tty) {
      this.out.write(`\r\x1b[2K${progressLine(s)}`);
      this.drawn = true;
    } else this.out.write(JSON.stringify(progressJson(s)) + '\n');
  }

  /** Something else must be printed: clear the line first so it is not glued to it. */
  clearLine(): void {
    if (this.opts.tty && this.drawn) this.out.write('\r\x1b[2K');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.opts.tty && this.drawn) this.out.write('\n');
    else if (!this.opts.tty) this.tick();
  }
}
