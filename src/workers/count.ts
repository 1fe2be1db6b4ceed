// How many workers: `auto` is one per CPU the process may use, as nginx's `worker_processes auto`:
// os.availableParallelism (the CPU affinity a container or taskset gives), capped by a cgroup CPU
// quota where one is set (a container's `--cpus`, a pod's CPU limit), which affinity does not show.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export type WorkersSetting = 'auto' | number;

export function workerCount(w: WorkersSetting | undefined, cgroupRoot = '/sys/fs/cgroup'): number {
  if (w === undefined) return 1;
  if (w !== 'auto') return w;
  const quota = cpuQuota(cgroupRoot);
  return Math.max(1, Math.min(availableParallelism(), quota === undefined ? Infinity : Math.ceil(quota)));
}

/** CPUs' worth of time the cgroup may use per period, if limited: cgroup v2's cpu.max, else v1's CFS quota. */
export function cpuQuota(root: string): number | undefined {
  const read = (f: string) => {
    try {
      return readFileSync(`${root}/${f}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const v2 = read('cpu.max')?.split(/\s+/);
  if (v2) return v2[0] === 'max' ? undefined : Number(v2[0]) / Number(v2[1]) || undefined;
  const quota = Number(read('cpu/cpu.cfs_quota_us') ?? read('cpu,cpuacct/cpu.cfs_quota_us'));
  const period = Number(read('cpu/cpu.cfs_period_us') ?? read('cpu,cpuacct/cpu.cfs_period_us'));
  return quota > 0 && period > 0 ? quota / period : undefined;
}

export const WORKERS_EXPECTED = 'auto or a whole number from 1 to 1024';

/** `auto` or a whole number of workers, from the config or the `--workers` flag; else undefined. */
export function parseWorkers(v: string): WorkersSetting | undefined {
  if (v === 'auto') return 'auto';
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  return n >= 1 && n <= 1024 ? n : undefined;
}
