// Streaming bodies must not pile up dead chunk buffers until V8 gets round to them: when body
// bytes went through and the memory outside V8's heap grew by 4 MiB since the last look, a
// minor GC (a scavenge) runs, seen here through node's own GC performance entries; when it did
// not grow (V8 collected on its own, as under mixed load), none is forced.
import { PerformanceObserver, constants, performance, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { getHeapSpaceStatistics } from 'node:v8';
import { bodyBytes, burstShrinks, forcedCollections, requestStarted, shrinkIfQuiet } from '../../src/listen/memory.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function minorGcsDuring(work: () => void): Promise<number> {
  const seen: PerformanceEntry[] = [];
  const obs = new PerformanceObserver((list) => seen.push(...list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  work();
  const t1 = performance.now();
  // GC entries are delivered asynchronously
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return seen.filter((e) => e.startTime >= t0 && e.startTime <= t1 && (e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR).length;
}

/** What a streamed body does: a fresh 64 KiB buffer outside the heap per chunk, dropped once passed on. */
function stream(bytes: number): void {
  for (let sent = 0; sent < bytes; sent += 64 * KiB) {
    const chunk = Buffer.allocUnsafeSlow(64 * KiB);
    chunk[0] = 1;
    bodyBytes(chunk.length);
  }
}

describe('body memory', () => {
  it('collects the young generation while dead chunks pile up outside the heap', async () => {
    const before = forcedCollections();
    const minor = await minorGcsDuring(() => stream(64 * MiB));
    const forced = forcedCollections() - before;
    // 64 MiB of dead chunks, a look every 2 MiB, a collection per 4 MiB of growth.
    expect(forced).toBeGreaterThanOrEqual(8);
    expect(forced).toBeLessThanOrEqual(32);
    // and V8 reports them as scavenges (one may fall just outside the timed window)
    expect(minor).toBeGreaterThanOrEqual(forced - 2);
    expect(minor).toBeGreaterThan(0);
  });

  it('forces nothing when the memory outside the heap does not grow', async () => {
    const before = forcedCollections();
    // Body bytes counted, but no buffers made: as when V8 already collected them.
    const minor = await minorGcsDuring(() => {
      for (let i = 0; i < 64; i++) bodyBytes(MiB);
    });
    expect(forcedCollections() - before).toBe(0);
    expect(minor).toBe(0);
  });
});

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

/** What a burst of concurrent requests does to V8: many objects, a window of them alive at once, so the young generation grows. */
function burst(): void {
  let live: unknown[] = [];
  for (let i = 0; i < 400_000; i++) {
    live.push({ i, s: 'r' + i, a: [i, i + 1, i + 2] });
    if (live.length > 4000) live = live.slice(2000);
  }
  for (let i = 0; i < 1000; i++) requestStarted();
}

describe('memory after a burst of requests', () => {
  // The gateway waits 30 quiet seconds; the looks here are made by hand, with a 3-second period.
  const Q = 3;

  it('gives the grown young generation back once a quiet period follows a burst, once', () => {
    shrinkIfQuiet(Q);
    burst();
    const grown = newSpace();
    expect(grown).toBeGreaterThanOrEqual(4 * MiB);
    const before = burstShrinks();
    expect(shrinkIfQuiet(Q)).toBe(false); // the burst's own second
    expect(shrinkIfQuiet(Q)).toBe(false); // quiet 1 s
    expect(shrinkIfQuiet(Q)).toBe(false); // quiet 2 s
    expect(shrinkIfQuiet(Q)).toBe(true); // quiet 3 s
    expect(burstShrinks() - before).toBe(1);
    expect(newSpace()).toBeLessThan(grown / 2);
    // more quiet seconds with no new burst behind them: nothing more
    for (let i = 0; i < 5; i++) expect(shrinkIfQuiet(Q)).toBe(false);
  });

  it('leaves the heap alone while requests keep coming, even slowly', () => {
    shrinkIfQuiet(Q);
    burst();
    const before = burstShrinks();
    for (let s = 0; s < 10; s++) {
      // a second with a few requests resets the quiet period
      if (s % 2 === 0) for (let i = 0; i < 5; i++) requestStarted();
      expect(shrinkIfQuiet(Q)).toBe(false);
    }
    expect(burstShrinks()).toBe(before);
    for (let s = 0; s < Q; s++) shrinkIfQuiet(Q); // then a quiet period does shrink
    expect(burstShrinks()).toBe(before + 1);
  });
});
