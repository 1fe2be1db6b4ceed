// Streaming bodies must not pile up dead chunk buffers until V8 gets round to them: every
// 4 MiB of body bytes ends in a minor GC (a scavenge), seen here through node's own GC
// performance entries.
import { PerformanceObserver, constants, performance, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { bodyBytes } from '../../src/listen/memory.js';

const MiB = 1024 * 1024;

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
  // Only what happened while `work` ran, which allocates nothing itself: any scavenge V8 started
  // on its own falls outside the window.
  return seen.filter((e) => e.startTime >= t0 && e.startTime <= t1 && (e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR).length;
}

describe('body memory', () => {
  it('collects the young generation once per 4 MiB of body bytes, and not before', async () => {
    // Start from a known place in the count: 4 MiB in one go always reaches it.
    bodyBytes(4 * MiB);
    // Below the threshold: no collection.
    expect(await minorGcsDuring(() => {
      for (let i = 0; i < 3; i++) bodyBytes(MiB);
    })).toBe(0);
    expect(await minorGcsDuring(() => bodyBytes(MiB))).toBe(1);
    expect(await minorGcsDuring(() => {
      for (let i = 0; i < 16; i++) bodyBytes(MiB);
    })).toBe(4);
  });
});
