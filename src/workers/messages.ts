// What the primary and its workers say to each other over the cluster's IPC channel. Every
// message carries `s3gate` (its kind), so other users of the channel are ignored.
import type { Limits } from '../config/types.js';
import type { LimitKind } from '../limits/limiter.js';
import type { MetricSnapshot } from '../metrics/prometheus.js';

export type ToWorker =
  /**
   * the config text in force (the primary has validated it): at start and on every reload; with
   * `serve --listen`'s addresses, which replace the file's listen in every worker
   */
  | { s3gate: 'config'; text: string; file: string; seq: number; listen?: string[] }
  /** stop accepting, finish in-flight requests within timeouts.shutdown, exit */
  | { s3gate: 'drain' }
  | { s3gate: 'metrics'; id: number }
  /** the host-wide limiter's answer: a slot, or the limit that refused it */
  | { s3gate: 'slot'; id: number; refused?: LimitKind };

export type FromWorker =
  /** listening for the primary's messages (one sent earlier would be lost): send the config */
  | { s3gate: 'hello' }
  | { s3gate: 'listening'; urls: string[]; reqIdPrefix: string }
  | { s3gate: 'reloaded'; seq: number; ok: boolean; error?: string }
  | { s3gate: 'metrics'; id: number; snapshot: MetricSnapshot[] }
  | { s3gate: 'acquire'; id: number; key: string; limits: Limits }
  | { s3gate: 'release'; id: number };

export function isMessage<T extends { s3gate: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { s3gate?: unknown }).s3gate === 'string';
}

/** Environment a worker is forked with. */
export const ENV_INDEX = 'S3GATE_WORKER';
export const ENV_REUSE_PORT = 'S3GATE_WORKER_REUSE_PORT';
/** the listeners' ports as the first worker bound them (port 0 in the config resolves once) */
export const ENV_PORTS = 'S3GATE_WORKER_PORTS';
