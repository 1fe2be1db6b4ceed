// How many workers: the config field and the flag, with field-named refusals; and the log's
// line-aligned pieces that keep several processes' lines whole on one stdout.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildConfig, ConfigError, protectReferences } from '../../src/config/load.js';
import { linePieces } from '../../src/listen/log.js';
import { cpuQuota, workerCount } from '../../src/workers/count.js';
import { CLI, startCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/gateway.js';

const BASE = `
listen: [{ address: 127.0.0.1:0 }]
upstreams: { disk: { provider: local, path: ./data } }
buckets: { "*": { upstream: disk } }
`;
const build = (extra: string, env: NodeJS.ProcessEnv = {}) => buildConfig(parse(protectReferences(BASE + extra)), '/tmp', { env });

describe('workers setting', () => {
  it('takes auto, a whole number, or ${S3GATE_WORKERS:-1} as proxy.yaml writes it', () => {
    expect(build('workers: auto').workers).toBe('auto');
    expect(build('workers: 4').workers).toBe(4);
    expect(build('workers: ${S3GATE_WORKERS:-1}').workers).toBe(1);
    expect(build('workers: ${S3GATE_WORKERS:-1}', { S3GATE_WORKERS: 'auto' }).workers).toBe('auto');
    expect(build('').workers).toBeUndefined();
    expect(workerCount(undefined)).toBe(1);
    expect(workerCount('auto')).toBe(availableParallelism());
    expect(workerCount(3)).toBe(3);
  });

  it('refuses anything else, naming the field', () => {
    for (const bad of ['workers: 0', 'workers: 2.5', 'workers: many', 'workers: -1', 'workers: 2000']) {
      expect(() => build(bad)).toThrow(ConfigError);
      expect(() => build(bad)).toThrow(/workers: must be auto or a whole number from 1 to 1024/);
    }
  });

  it('s3gate serve --workers with a bad value stops before any socket opens, exit 2', () => {
    const dir = tmpDir('s3gate-wk-flag-');
    writeFileSync(join(dir, 'proxy.yaml'), BASE);
    const r = spawnSync(process.execPath, [CLI, '--config', join(dir, 'proxy.yaml'), '--workers', 'lots'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--workers: must be auto or a whole number from 1 to 1024, not "lots"');
  });
});

describe('auto under a CPU quota', () => {
  it('is capped by cgroup v2 cpu.max or v1 CFS quota, rounded up; no quota, no cap', () => {
    const v2 = tmpDir('s3gate-cg2-');
    writeFileSync(join(v2, 'cpu.max'), 'max 100000\n');
    expect(cpuQuota(v2)).toBeUndefined();
    expect(workerCount('auto', v2)).toBe(availableParallelism());
    writeFileSync(join(v2, 'cpu.max'), '50000 100000\n');
    expect(cpuQuota(v2)).toBe(0.5);
    expect(workerCount('auto', v2)).toBe(1);
    const v1 = tmpDir('s3gate-cg1-');
    mkdirSync(join(v1, 'cpu'));
    writeFileSync(join(v1, 'cpu', 'cpu.cfs_quota_us'), '100000\n');
    writeFileSync(join(v1, 'cpu', 'cpu.cfs_period_us'), '100000\n');
    expect(workerCount('auto', v1)).toBe(1);
    writeFileSync(join(v1, 'cpu', 'cpu.cfs_quota_us'), '-1\n');
    expect(cpuQuota(v1)).toBeUndefined();
    // A quota never raises the count above the CPUs the process may run on, nor an explicit N.
    writeFileSync(join(v2, 'cpu.max'), '6400000 100000\n');
    expect(workerCount('auto', v2)).toBe(availableParallelism());
    expect(workerCount(3, v2)).toBe(3);
  });
});

describe('S3GATE_WORKERS, the default the Docker image sets', () => {
  it('applies to a config that says nothing of workers, and a bad value stops start-up naming it', async () => {
    const dir = tmpDir('s3gate-wk-env-');
    writeFileSync(join(dir, 'proxy.yaml'), BASE);
    const bad = spawnSync(process.execPath, [CLI, '--config', join(dir, 'proxy.yaml')], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, S3GATE_WORKERS: 'x' } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('S3GATE_WORKERS: must be auto or a whole number from 1 to 1024, not "x"');
    const gw = await startCli(['--config', join(dir, 'proxy.yaml')], { env: { S3GATE_WORKERS: '2' }, startMs: 60_000 });
    try {
      expect(gw.lines().find((l) => l.msg === 's3gate listening')).toMatchObject({ workers: 2 });
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }, 120_000);
});

describe('log pieces for a shared stdout', () => {
  it('are whole lines of at most 4096 bytes (a longer line alone), and add up to the input', () => {
    const lines = Array.from({ length: 300 }, (_, i) => `{"n":${i},"pad":"${'é'.repeat(i % 97)}${i === 150 ? 'x'.repeat(5000) : ''}"}\n`);
    const all = Buffer.from(lines.join(''));
    const pieces = linePieces(all);
    expect(Buffer.concat(pieces).equals(all)).toBe(true);
    for (const p of pieces) {
      expect(p[p.length - 1]).toBe(10);
      if (p.length > 4096) expect(p.indexOf(10)).toBe(p.length - 1);
    }
    expect(pieces.some((p) => p.length > 4096)).toBe(true);
  });
});
