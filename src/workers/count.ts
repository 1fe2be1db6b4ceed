// How many workers: `auto` is one per CPU the process may run on (os.availableParallelism, which
// follows the CPU affinity a container or taskset gives), as nginx's `worker_processes auto`.
import { availableParallelism } from 'node:os';

export type WorkersSetting = 'auto' | number;

export function workerCount(w: WorkersSetting | undefined): number {
  if (w === undefined) return 1;
  return w === 'auto' ? availableParallelism() : w;
}

export const WORKERS_EXPECTED = 'auto or a whole number from 1 to 1024';

/** `auto` or a whole number of workers, from the config or the `--workers` flag; else undefined. */
export function parseWorkers(v: string): WorkersSetting | undefined {
  if (v === 'auto') return 'auto';
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  return n >= 1 && n <= 1024 ? n : undefined;
}
