// Keeps RSS flat while bodies stream. Every chunk of a body arrives in a fresh buffer outside
// V8's heap (node's HTTP parser copies request bodies out; undici's socket reads allocate per
// read), and it is only freed when V8 collects the small object that holds it. Streaming makes
// little else, so V8's own triggers come late: dead chunks piled up to 80–90 MiB at the peak of a
// 1 GiB transfer on Node 24, 15–50 MiB on Node 20. So every CHECK_EVERY bytes of bodies, if the
// memory outside the heap grew by SLACK since the last look, s3gate runs a minor GC (a scavenge,
// well under a millisecond when few objects live). When V8 collected on its own in between, the
// look finds nothing to do. It is a trade where small requests run beside a big upload: there
// the scavenges also copy what those requests hold, and the gateway served about 8% fewer of
// them than with no forced GC, for a peak of 119 rather than 150 MiB (docs/performance.md,
// `node bench/rss.mjs`).
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const CHECK_EVERY = 2 * 1024 * 1024;
const SLACK = 4 * 1024 * 1024;

type Gc = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/**
 * V8's gc(), without --expose-gc on the command line (so it holds however s3gate is started):
 * the flag exposes it to contexts made while it is set, and it is cleared again so no other
 * context gets it. undefined if this V8 refuses.
 */
function obtainGc(): Gc | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Gc;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

const gc = obtainGc();

// undici parses HTTP with llhttp compiled to WebAssembly. V8 first compiles it with its baseline
// compiler, then, once hot, recompiles it with its optimising one, which holds 30–35 MiB for a
// moment for llhttp's one huge parsing function: that was the whole difference between a fresh
// gateway's first 1 GiB GET peaking at 111 MiB and at 79 (`node bench/rss.mjs`). Baseline code
// measured the same CPU per request (`node bench/quick.mjs gw gw+--liftoff-only`). Set before the
// first upstream connection, when undici compiles llhttp; s3gate runs no other WebAssembly.
// Node 24's V8 ignores the flag set this late (the GET still peaked at 113 MiB), so the Docker
// image, on Node 24, also passes it on the command line.
setFlagsFromString('--liftoff-only');
let streamed = 0;
let forced = 0;
// Memory outside V8's heap after the last collection of ours (or lower, when seen lower).
let floor = getHeapStatistics().external_memory;

/** Notes `n` bytes of a body that went through; collects the young generation when its dead chunks pile up. */
export function bodyBytes(n: number): void {
  streamed += n;
  if (streamed < CHECK_EVERY) return;
  streamed = 0;
  const external = getHeapStatistics().external_memory;
  if (external - floor < SLACK || !gc) {
    if (external < floor) floor = external;
    return;
  }
  gc({ type: 'minor' });
  forced++;
  floor = getHeapStatistics().external_memory;
}

/** How many collections bodyBytes has run (for tests). */
export function forcedCollections(): number {
  return forced;
}

// After a burst of requests V8 keeps its heap at the size the burst grew it to: the young
// generation at its largest (2 × 16 MiB on Node 22, about 106 MiB on Node 24) and the old
// generation's emptied pages. Its memory reducer did not give them back within 20 s of idling
// here (`node bench/rss.mjs`), so a gateway that served a burst sat at 140–170 MiB instead of
// about 85. When QUIET_SECONDS pass with almost no requests after at least BURST of them, and
// the young generation is still grown, one memory-reducing collection (V8's "last resort": full
// GCs until nothing more is freed, then the young generation shrunk back) gives them back.
// Not sooner: the next burst pays for growing the heap again (fresh pages, scavenges of a small
// young generation that promote more), which measured 100 µs more CPU per 4 KiB request when
// it came every round of `bench/quick.mjs` (a 1 s quiet period; docs/performance.md).
const QUIET_SECONDS = 30;
const QUIET_REQUESTS = 5;
const BURST = 1000;
const GROWN_NEW_SPACE = 4 * 1024 * 1024;
let startedNow = 0;
let sinceShrink = 0;
let quietSeconds = 0;
let shrinks = 0;

/** Counts a request for the quiet-period check. */
export function requestStarted(): void {
  startedNow++;
}

function newSpaceSize(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size;
  return 0;
}

/** One look, once a second: shrinks the heap when a burst was followed by a quiet period (exported for tests). */
export function shrinkIfQuiet(quietFor = QUIET_SECONDS): boolean {
  const n = startedNow;
  startedNow = 0;
  sinceShrink += n;
  quietSeconds = n < QUIET_REQUESTS ? quietSeconds + 1 : 0;
  if (!gc || quietSeconds < quietFor || sinceShrink < BURST || newSpaceSize() < GROWN_NEW_SPACE) return false;
  sinceShrink = 0;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  shrinks++;
  return true;
}

let watching: NodeJS.Timeout | undefined;
/** Starts the once-a-second look (the gateway calls it when it starts listening). */
export function watchBursts(): void {
  watching ??= setInterval(() => shrinkIfQuiet(), 1000).unref();
}

/** How many memory-reducing collections have run (for tests). */
export function burstShrinks(): number {
  return shrinks;
}
