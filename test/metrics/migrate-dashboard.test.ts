// `s3gate migrate --metrics HOST:PORT` serves the copier's progress while it runs, and the Grafana
// dashboard's s3gate migrate panels query only what it serves: the built CLI copies three objects
// through a proxy that holds the third object's PUT, and the test scrapes in between, so the
// figures are a run's middle, not its end; a real Prometheus scrapes it there too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { tmpDir } from '../helpers/gateway.js';
import { promtoolCheck, startPrometheus } from '../helpers/prometheus.js';
import { bytesFor, report, runCli } from '../migrate/helpers.js';
import { startFaultProxy, type FaultProxy } from '../migrate/proxy.js';
import { MigrateMetrics } from '../../src/metrics/migrate.js';
import { Metric } from '../../src/metrics/prometheus.js';

const ROOT = join(import.meta.dirname, '../..');
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/s3gate-dashboard.json'), 'utf8'));
const KEY = { accessKeyId: 'PROVIDERKEY', secretAccessKey: 'provider-secret-abcdefghijklmnopqrstuvw' };
const OBJECTS = [{ key: 'a/one.bin', size: 1000 }, { key: 'b/two.bin', size: 3000 }, { key: 'c/three.bin', size: 5000 }];

let up: StrictUpstream;
let proxy: FaultProxy;
let dir: string;
let config: string;

beforeAll(async () => {
  up = await startStrictUpstream({ ...KEY, region: 'us-east-1' });
  proxy = await startFaultProxy(up.url);
  dir = tmpDir('s3gate-migrate-metrics-');
  config = join(dir, 'proxy.yaml');
  writeFileSync(config, `
upstreams:
  p: { provider: linode, endpoint: ${proxy.url}, credentials: { accessKeyId: ${KEY.accessKeyId}, secretAccessKey: \${UP_SECRET} } }
buckets:
  unused: { upstream: p }
`);
  const handle = (method: string, bucket: string, key?: string, headers: Record<string, string> = {}, body?: Buffer) =>
    up.store.handle({ method, bucket, ...(key !== undefined ? { key } : {}), query: new URLSearchParams(), headers, body: Readable.from(body ? [body] : []) });
  await handle('PUT', 'mm-src');
  await handle('PUT', 'mm-dst');
  for (const o of OBJECTS) await handle('PUT', 'mm-src', o.key, { 'content-length': String(o.size) }, bytesFor(o.key, o.size));
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await up?.close();
});

/** The s3gate_migrate_* metrics and the labels one dashboard query uses. */
function migrateQueries(): { panel: string; expr: string; metrics: string[]; labels: string[] }[] {
  const out = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      const metrics = [...new Set([...(t.expr as string).matchAll(/\bs3gate_migrate_[a-z0-9_]+/g)].map((m) => m[0]))];
      if (!metrics.length) continue;
      const labels = new Set<string>();
      for (const m of (t.expr as string).matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',')) labels.add(l.trim());
      for (const m of (t.expr as string).matchAll(/\{([^}]*)\}/g)) for (const s of m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) labels.add(s[1]!);
      for (const m of ((t.legendFormat ?? '') as string).matchAll(/\{\{\s*(\w+)\s*\}\}/g)) labels.add(m[1]!);
      out.push({ panel: p.title as string, expr: t.expr as string, metrics, labels: [...labels].filter((l) => l && l !== 'instance' && l !== 'job') });
    }
  }
  return out;
}

describe('s3gate migrate --metrics', () => {
  it('serves the run\'s progress mid-run, and every s3gate migrate panel of the dashboard queries what it serves', { timeout: 120_000 }, async () => {
    const qs = migrateQueries();
    expect(qs.length).toBeGreaterThanOrEqual(3);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    proxy.decide = async (r) => {
      if (r.kind === 'put' && r.url.startsWith('/mm-dst/c/')) {
        held = true;
        await released;
      }
      return { do: 'pass' };
    };
    const run = runCli(['migrate', '--config', config, '--from', 'p/mm-src', '--to', 'p/mm-dst', '--concurrency', '1', '--no-state', '--json', '--metrics', '127.0.0.1:0'], dir, { UP_SECRET: KEY.secretAccessKey });
    try {
      for (let i = 0; i < 3000 && !held; i++) {
        if (run.child.exitCode !== null) throw new Error(`exited early: ${run.err()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(held).toBe(true);
      const url = run.events().find((e) => e.event === 'metrics')?.url as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      const sample = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1]);
      // Two objects settled, the third on its way.
      expect(sample('s3gate_migrate_objects_total', 'bucket="mm-dst",shard="all",result="copied"')).toBe(2);
      expect(sample('s3gate_migrate_objects_total', 'bucket="mm-dst",shard="all",result="failed"')).toBe(0);
      expect(sample('s3gate_migrate_listed_objects', 'bucket="mm-dst",shard="all"')).toBe(3);
      expect(sample('s3gate_migrate_listed_bytes', 'bucket="mm-dst",shard="all"')).toBe(9000);
      expect(sample('s3gate_migrate_settled_bytes', 'bucket="mm-dst",shard="all"')).toBe(4000);
      expect(sample('s3gate_migrate_bytes_total', 'bucket="mm-dst",shard="all"')).toBeGreaterThanOrEqual(4000);
      expect(sample('s3gate_migrate_listing_done', 'bucket="mm-dst",shard="all"')).toBe(1);

      const types = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
      const declared = new Map(Object.values(new MigrateMetrics({ bucket: 'b', shard: 'all' })).filter((m): m is Metric<string, { labels: string }> => m instanceof Metric).map((m) => [m.name, [...m.labelNames]]));
      const problems: string[] = [];
      for (const q of qs) {
        for (const metric of q.metrics) {
          if (!types.has(metric)) problems.push(`${q.panel}: ${metric} is not in s3gate migrate's /metrics`);
          for (const l of q.labels) {
            if (!declared.get(metric)?.includes(l)) problems.push(`${q.panel}: ${metric} has no label ${l}`);
            if (!new RegExp(`^${metric}\\{[^}]*\\b${l}="`, 'm').test(text)) problems.push(`${q.panel}: ${metric}'s samples have no label ${l}`);
          }
        }
      }
      expect(problems).toEqual([]);

      // What an operator's Prometheus makes of it, mid-run: it parses, and every panel has a series.
      expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
      const prom = await startPrometheus(dir, [new URL(url).host]);
      try {
        await prom.nextScrapes(2);
        for (const q of qs) {
          const a = await prom.query(q.expr.replaceAll('$__rate_interval', '1m'));
          expect(a.status, `${q.panel}: ${a.error}`).toBe('success');
          expect(a.data!.result.length, q.panel).toBeGreaterThan(0);
        }
        const progress = await prom.query('sum by (bucket) (s3gate_migrate_settled_bytes) / sum by (bucket) (s3gate_migrate_listed_bytes)');
        expect(Number(progress.data!.result[0]!.value![1])).toBeCloseTo(4000 / 9000, 6);
      } finally {
        await prom.stop();
      }
    } finally {
      release();
    }
    expect((await run.exited).code).toBe(0);
    expect(report(run).copied).toBe(3);
  });

  it('refuses an address that is not HOST:PORT, before copying anything', async () => {
    const run = runCli(['migrate', '--config', config, '--from', 'p/mm-src', '--to', 'p/mm-none', '--no-state', '--metrics', 'nine'], dir, { UP_SECRET: KEY.secretAccessKey });
    expect((await run.exited).code).toBe(2);
    expect(run.err()).toContain('--metrics: "nine" is not HOST:PORT');
  });
});
