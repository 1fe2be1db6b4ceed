// `s3gate migrate --metrics HOST:PORT`: the bulk copier's progress as Prometheus metrics, on a
// listener of its own for as long as the run lasts (a Kubernetes Job's pod is scraped like any
// other). The figures are the migrator's own progress snapshot, read at each scrape, so what
// Prometheus sees and what the progress line prints are the same numbers.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProgressSnapshot } from '../migrate/progress.js';
import { Counter, Gauge, Registry } from './prometheus.js';

/** How each settled object ended: written, already in place, newer at the destination, failed. */
export const MIGRATE_RESULTS = ['copied', 'skipped', 'newer', 'failed'] as const;

export class MigrateMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];
  readonly objects = new Counter({
    name: 's3gate_migrate_objects_total', help: 'Objects settled by s3gate migrate, by result (copied, skipped: already in place, newer: newer at the destination, left alone, failed)',
    labelNames: ['bucket', 'shard', 'result'] as const, registers: this.r,
  });
  readonly bytes = new Counter({
    name: 's3gate_migrate_bytes_total', help: 'Bytes s3gate migrate sent to the destination, parts of unfinished objects included',
    labelNames: ['bucket', 'shard'] as const, registers: this.r,
  });
  readonly listedObjects = new Gauge({
    name: 's3gate_migrate_listed_objects', help: 'Objects listed at the source so far (of this shard)', labelNames: ['bucket', 'shard'] as const, registers: this.r,
  });
  readonly listedBytes = new Gauge({
    name: 's3gate_migrate_listed_bytes', help: 'Bytes of the objects listed at the source so far (of this shard)', labelNames: ['bucket', 'shard'] as const, registers: this.r,
  });
  readonly settledBytes = new Gauge({
    name: 's3gate_migrate_settled_bytes', help: 'Bytes of the objects settled (copied, skipped, newer or failed)', labelNames: ['bucket', 'shard'] as const, registers: this.r,
  });
  readonly listingDone = new Gauge({
    name: 's3gate_migrate_listing_done', help: '1 once the source listing is complete: listed objects and bytes are then the total', labelNames: ['bucket', 'shard'] as const, registers: this.r,
  });
  private readonly last = { copied: 0, skipped: 0, newer: 0, failed: 0, bytes: 0 };

  constructor(private readonly labels: { bucket: string; shard: string }) {
    for (const result of MIGRATE_RESULTS) this.objects.inc({ ...labels, result }, 0);
    this.bytes.inc(labels, 0);
  }

  /** Brings the series up to the snapshot: counters by what was added since the last one. */
  update(s: ProgressSnapshot): void {
    const l = this.labels;
    for (const result of MIGRATE_RESULTS) {
      const add = s[result] - this.last[result];
      if (add > 0) this.objects.inc({ ...l, result }, add);
      this.last[result] = Math.max(this.last[result], s[result]);
    }
    if (s.bytes > this.last.bytes) this.bytes.inc(l, s.bytes - this.last.bytes);
    this.last.bytes = Math.max(this.last.bytes, s.bytes);
    this.listedObjects.set(l, s.listed);
    this.listedBytes.set(l, s.listedBytes);
    this.settledBytes.set(l, s.settledBytes);
    this.listingDone.set(l, s.listingDone ? 1 : 0);
  }
}

/** HOST:PORT (IPv6 in brackets); a missing host is 0.0.0.0, as a scrape target needs. */
export function parseMetricsAddress(spec: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`"${spec}" is not HOST:PORT (for example 0.0.0.0:9464)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics from `metrics`, brought up to `snapshot()` at each scrape. */
export async function serveMigrateMetrics(address: { host: string; port: number }, metrics: MigrateMetrics, snapshot: () => ProgressSnapshot): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.update(snapshot());
    void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
