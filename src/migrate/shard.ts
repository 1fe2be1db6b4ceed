// Splits one bucket between N workers that never talk to each other: each key belongs to exactly
// one shard, decided from the key alone, so any worker (or a restarted one) agrees on it.
import { createHash } from 'node:crypto';

export interface Shard {
  index: number;
  count: number;
}

/** sha1 rather than a string hash: well mixed for prefixes that share long runs like `2024/01/`. */
export function shardOf(key: string, count: number): number {
  return createHash('sha1').update(key, 'utf8').digest().readUInt32BE(0) % count;
}

export function inShard(key: string, shard: Shard | undefined): boolean {
  return shard === undefined || shard.count === 1 || shardOf(key, shard.count) === shard.index;
}

/**
 * `i/N`, or `auto/N` for a Kubernetes Indexed Job, where each pod gets its completion index in
 * JOB_COMPLETION_INDEX.
 */
export function parseShard(spec: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^(auto|\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`--shard: "${spec}" is not i/N or auto/N`);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`--shard: N must be at least 1`);
  let raw = m[1]!;
  if (raw === 'auto') {
    const v = env.JOB_COMPLETION_INDEX;
    if (v === undefined || !/^\d+$/.test(v)) throw new Error('--shard auto/N: JOB_COMPLETION_INDEX is not set to a number (set it, or give i/N)');
    raw = v;
  }
  const index = Number(raw);
  if (index >= count) throw new Error(`--shard: index ${index} is not below ${count}`);
  return { index, count };
}

export const shardLabel = (s: Shard | undefined): string => (s ? `${s.index}/${s.count}` : 'all');
