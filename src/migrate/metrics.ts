// Process-wide counters for `s3gate migrate`, kept apart from any one run so a metrics
// exporter can read or subscribe to them without knowing about the command.
import { EventEmitter } from 'node:events';

export const migrateCounters = {
  /** objects written to the destination */
  copied: 0,
  /** objects found already in place */
  skipped: 0,
  failed: 0,
  /** bytes of the objects copied */
  bytes: 0,
};

export interface MigrateEventMap {
  copied: [{ key: string; size: number; multipart: boolean }];
  skipped: [{ key: string; reason: string }];
  failed: [{ key: string; reason: string }];
}

/** 'copied', 'skipped' and 'failed', one event per object. */
export const migrateEvents = new EventEmitter<MigrateEventMap>();
