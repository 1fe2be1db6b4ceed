// Prometheus metrics, served on the admin listener. One registry per gateway, so tests and
// several gateways in one process do not share counts.
import { Counter, Gauge, Histogram, Registry } from './prometheus.js';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 's3gate_requests_total', help: 'Requests by S3 operation, HTTP status, upstream and access key id',
    labelNames: ['operation', 'status', 'upstream', 'key'] as const, registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 's3gate_bytes_total', help: 'Body bytes received from clients (in) and sent to them (out)',
    labelNames: ['direction', 'upstream'] as const, registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 's3gate_request_duration_seconds', help: 'Total request time, first byte in to last byte out',
    labelNames: ['operation'] as const, buckets: DURATION_BUCKETS, registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 's3gate_upstream_duration_seconds', help: 'Time from sending to the provider to its response headers',
    labelNames: ['upstream'] as const, buckets: DURATION_BUCKETS, registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 's3gate_auth_failures_total', help: 'Refused authentications and authorizations by reason (the S3 error code)',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 's3gate_upstream_errors_total', help: 'Provider requests that failed: connection errors and 5xx answers',
    labelNames: ['upstream', 'kind'] as const, registers: [this.registry],
  });
  readonly upstreamRetries = new Counter({
    name: 's3gate_upstream_retries_total', help: 'Idempotent provider requests retried before any byte reached the client',
    labelNames: ['upstream'] as const, registers: [this.registry],
  });
  readonly inflight = new Gauge({
    name: 's3gate_inflight_requests', help: 'Requests being served now', registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 's3gate_config_reloads_total', help: 'Config reloads by result', labelNames: ['result'] as const, registers: [this.registry],
  });
  readonly throttled = new Counter({
    name: 's3gate_throttled_total', help: 'Requests refused with SlowDown by limit (rate or concurrency) and key',
    labelNames: ['limit', 'key'] as const, registers: [this.registry],
  });
  readonly stsSessions = new Counter({
    name: 's3gate_sts_sessions_issued_total', help: 'Temporary sessions issued by role and STS action',
    labelNames: ['role', 'action'] as const, registers: [this.registry],
  });
  readonly stsRefused = new Counter({
    name: 's3gate_sts_tokens_refused_total', help: 'Session tokens refused by reason (expired, forged, unknown-key, role-removed, key-mismatch, malformed, unsigned)',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly fallbackReads = new Counter({
    name: 's3gate_migration_fallback_reads_total', help: 'Reads served from the old provider during a migration',
    labelNames: ['bucket'] as const, registers: [this.registry],
  });
  readonly copies = new Counter({
    name: 's3gate_migration_copies_total', help: 'Copy-on-read copies into the new provider by result (skipped: the copy would not keep who may read the object)',
    labelNames: ['bucket', 'result'] as const, registers: [this.registry],
  });
  readonly mirrorWrites = new Counter({
    name: 's3gate_mirror_writes_total', help: 'Writes repeated on a mirror by result: ok, failed (the mirror is behind), skipped (the primary did not accept it)',
    labelNames: ['bucket', 'result'] as const, registers: [this.registry],
  });
  readonly mirrorLag = new Histogram({
    name: 's3gate_mirror_lag_seconds', help: 'Time from the primary\'s answer to the mirror\'s commit of the same write',
    labelNames: ['bucket'] as const, buckets: DURATION_BUCKETS, registers: [this.registry],
  });
  readonly bytesMoved = new Counter({
    name: 's3gate_migration_bytes_total', help: 'Bytes copied into the new provider by copy-on-read',
    labelNames: ['bucket'] as const, registers: [this.registry],
  });

  constructor() {
    // Both results from the start: a series that appears at its first reload is missing from
    // increase() over that reload (Prometheus sees no earlier sample to compare with).
    for (const result of ['ok', 'refused']) this.reloads.inc({ result }, 0);
  }
}

/** The primary's own series when the gateway runs workers: one per worker index (1..N, from the start). */
export class ClusterMetrics {
  readonly up: Gauge<'worker'>;
  readonly restarts: Counter<'worker'>;
  constructor(registry: Registry) {
    this.up = new Gauge({
      name: 's3gate_worker_up', help: 'Whether the worker of this index is serving (1) or being replaced (0)',
      labelNames: ['worker'] as const, registers: [registry],
    });
    this.restarts = new Counter({
      name: 's3gate_worker_restarts_total', help: 'Workers of this index that died and were replaced',
      labelNames: ['worker'] as const, registers: [registry],
    });
  }
}
