// What a primary exports for its workers' registries, kept monotonic for the primary's life.
// Summing only the workers that answered a scrape made the gateway's counters go backwards when a
// worker died (its totals vanished with it: sum(s3gate_requests_total) fell 884 → 793 after a
// kill -9) or missed one scrape's deadline, and Prometheus reads any drop as a counter reset:
// rate() and increase() then count the whole remaining total again, traffic that never happened.
// So each worker's latest snapshot is kept; a worker that misses a scrape contributes that one,
// and a dead worker's counters and histograms are folded into a retained base. Its gauges (what
// it had in flight) end with it. What a worker served after its last snapshot is lost with it:
// the totals undercount by that much, and never go down.
import { mergeSnapshots, type MetricSnapshot } from './prometheus.js';

export class WorkerTotals {
  /** dead workers' counters and histograms, summed */
  private base: MetricSnapshot[] = [];
  private readonly last = new Map<number, MetricSnapshot[]>();

  /** The latest snapshot of the worker of this index (its own totals since it started). */
  seen(worker: number, snapshot: MetricSnapshot[]): void {
    this.last.set(worker, snapshot);
  }

  /** The worker of this index has exited: its totals stay, its gauges go. */
  gone(worker: number): void {
    const s = this.last.get(worker);
    if (!s) return;
    this.last.delete(worker);
    this.base = mergeSnapshots([this.base, s.map((m) => (m.type === 'gauge' ? { ...m, series: [] } : m))]);
  }

  /** Every snapshot that makes up the workers' part of the gateway's totals, for mergeSnapshots. */
  processes(): MetricSnapshot[][] {
    return [this.base, ...this.last.values()];
  }

  /** Each live worker's latest snapshot, by index. */
  latest(): { index: number; snapshot: MetricSnapshot[] }[] {
    return [...this.last].map(([index, snapshot]) => ({ index, snapshot }));
  }
}
