// deploy/grafana/s3gate-dashboard.json queries only what s3gate exports: every metric it names is
// in a real gateway's /metrics (two workers, scraped from the primary), and every label it groups,
// filters or names a legend by is one that metric carries: in the scraped samples where the traffic
// below makes them, and always among the labels the registry declares. Then a real Prometheus
// parses the exposition (promtool) and scrapes the gateway, and every query of the dashboard is
// evaluated there as Grafana would send it. The s3gate migrate panels' metrics come from
// `s3gate migrate --metrics`, not the gateway: migrate-dashboard.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { promtoolCheck, startPrometheus } from '../helpers/prometheus.js';
import { tmpDir } from '../helpers/gateway.js';
import { ClusterMetrics, Metrics } from '../../src/metrics/metrics.js';
import { Metric, Registry } from '../../src/metrics/prometheus.js';

const ROOT = join(import.meta.dirname, '../..');
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/s3gate-dashboard.json'), 'utf8'));
// Labels Prometheus adds to every series it scrapes, and a histogram's own bucket label.
const SCRAPE_LABELS = new Set(['instance', 'job']);

interface Query { expr: string; legend: string; panel: string }
function queries(): Query[] {
  const out: Query[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ expr: t.expr, legend: t.legendFormat ?? '', panel: p.title });
  return out;
}
const fromGateway = (q: Query) => !/\bs3gate_migrate_/.test(q.expr);

/** The metric (histogram series folded to their metric) and the labels one query uses. */
function uses(q: Query): { metrics: string[]; labels: string[] } {
  const metrics = [...new Set([...q.expr.matchAll(/\bs3gate_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')))];
  const labels = new Set<string>();
  for (const m of q.expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',')) labels.add(l.trim());
  for (const m of q.expr.matchAll(/\{([^}]*)\}/g)) for (const s of m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) labels.add(s[1]!);
  for (const m of q.legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) labels.add(m[1]!);
  return { metrics, labels: [...labels].filter((l) => l && !SCRAPE_LABELS.has(l) && l !== 'le') };
}

function declaredLabels(): Map<string, string[]> {
  const registry = new Registry();
  const all = [...Object.values(new Metrics()), ...Object.values(new ClusterMetrics(registry))].filter((m): m is Metric<string, { labels: string }> => m instanceof Metric);
  const out = new Map(all.map((m) => [m.name, [...m.labelNames]]));
  // Made by the primary at each scrape from its workers' counts (src/workers/primary.ts).
  out.set('s3gate_worker_requests_total', ['worker']);
  return out;
}

// Metrics the traffic below makes samples of, and how many requests it sends: a CreateBucket,
// six PutObjects, one with a wrong secret, three of a key allowed one request, one to a provider
// that is not there.
const FED = ['s3gate_requests_total', 's3gate_request_duration_seconds', 's3gate_auth_failures_total', 's3gate_throttled_total', 's3gate_upstream_errors_total', 's3gate_worker_up', 's3gate_worker_requests_total', 's3gate_bytes_total'];
const REQUESTS = 12;

describe('the Grafana dashboard', () => {
  it('is a dashboard whose every panel queries s3gate metrics', () => {
    expect(dashboard.uid).toBe('s3gate-overview');
    const qs = queries();
    expect(qs.length).toBeGreaterThan(15);
    for (const q of qs) expect(uses(q).metrics.length, q.panel).toBeGreaterThan(0);
    // Each of the subjects has a panel.
    const titles = dashboard.panels.map((p: { title: string }) => p.title.toLowerCase()).join('\n');
    for (const t of ['requests per second', 'errors', 'latency', 'failures by reason', 'upstream errors', 'throttled', 'old provider', 'per worker', 's3gate migrate']) expect(titles).toContain(t);
  });

  let gw: CliProcess;
  let dir: string;
  let admin: string;
  let text: string;
  beforeAll(async () => {
    dir = tmpDir('s3gate-dash-');
    const key = { accessKeyId: 'DASHKEY', secretAccessKey: 'dash-key-secret-abcdefghijklmnopqrstuvwxy' };
    const slow = { accessKeyId: 'DASHSLOW', secretAccessKey: 'dash-slow-secret-abcdefghijklmnopqrstuvwx' };
    writeFileSync(join(dir, 'proxy.yaml'), `
listen: [{ address: 127.0.0.1:0 }]
admin: { address: 127.0.0.1:0 }
domains: [localhost]
workers: 2
keys:
  - { accessKeyId: ${key.accessKeyId}, secretAccessKey: ${key.secretAccessKey}, allow: [{ bucket: "*", actions: [read, write, list, delete, admin] }] }
  - { accessKeyId: ${slow.accessKeyId}, secretAccessKey: ${slow.secretAccessKey}, allow: [{ bucket: "*", actions: [read, write, list, delete, admin] }], limits: { requestsPerSecond: 0.001, burst: 1 } }
upstreams:
  disk: { provider: local, path: ./data }
  gone: { provider: minio, endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: up, secretAccessKey: up-secret-abcdefghijklmnop } }
buckets:
  dead-end: { upstream: gone }
  "*": { upstream: disk }
`);
    gw = await startCli(['--config', join(dir, 'proxy.yaml')], { startMs: 60_000 });
    const client = (creds: typeof key) => new S3Client({
      endpoint: `http://localhost:${gw.port}`, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: false }) }),
    });
    const ignore = () => undefined;
    await client(key).send(new CreateBucketCommand({ Bucket: 'dash' }));
    for (let i = 0; i < 6; i++) await client(key).send(new PutObjectCommand({ Bucket: 'dash', Key: `k${i}`, Body: 'x' }));
    await client({ ...key, secretAccessKey: 'wrong-secret-abcdefghijklmnopqrstuvwxyz0' }).send(new PutObjectCommand({ Bucket: 'dash', Key: 'no', Body: 'x' })).catch(ignore);
    for (let i = 0; i < 3; i++) await client(slow).send(new PutObjectCommand({ Bucket: 'dash', Key: `s${i}`, Body: 'x' })).catch(ignore);
    await client(key).send(new PutObjectCommand({ Bucket: 'dead-end', Key: 'k', Body: 'x' })).catch(ignore);

    admin = gw.lines().find((l) => l.msg === 's3gate listening')!.admin as string;
    text = await (await fetch(`${admin}/metrics`)).text();
  }, 180_000);
  afterAll(async () => {
    gw?.child.kill('SIGTERM');
    await gw?.exited;
  });

  it('queries only metrics and labels a two-worker gateway exports', () => {
    const types = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const sampled = new Map<string, Set<string>>();
    for (const m of text.matchAll(/^([a-z_:][\w:]*?)(?:_bucket|_sum|_count)?\{([^}]*)\} /gm)) {
      const name = types.has(m[1]!) ? m[1]! : m[1]!.replace(/_(bucket|sum|count)$/, '');
      const set = sampled.get(name) ?? new Set<string>();
      for (const l of m[2]!.matchAll(/(\w+)="/g)) set.add(l[1]!);
      sampled.set(name, set);
    }
    const declared = declaredLabels();
    const problems: string[] = [];
    for (const q of queries().filter(fromGateway)) {
      const { metrics, labels } = uses(q);
      for (const metric of metrics) {
        if (!types.has(metric)) problems.push(`${q.panel}: ${metric} is not in /metrics`);
        for (const l of labels) {
          if (!declared.get(metric)?.includes(l)) problems.push(`${q.panel}: ${metric} has no label ${l}`);
          if (sampled.has(metric) && !sampled.get(metric)!.has(l)) problems.push(`${q.panel}: ${metric}'s samples have no label ${l}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The traffic above made samples for most of what the dashboard shows, not only HELP lines.
    for (const m of FED) expect(sampled.has(m), m).toBe(true);
  });

  it("parses with Prometheus's own parser and passes promtool's lint", () => {
    const { code, output } = promtoolCheck(text);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('evaluates in a real Prometheus scraping the gateway: every query, and a series for each panel the traffic feeds', { timeout: 90_000 }, async () => {
    const prom = await startPrometheus(dir, [new URL(admin).host]);
    try {
      await prom.nextScrapes(2);
      // What Grafana puts in place of the dashboard's variables, with "All" instances chosen.
      const asGrafana = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('"$instance"', '".*"');
      const answers = await Promise.all(queries().map(async (q) => ({ q, a: await prom.query(asGrafana(q.expr)) })));
      expect(answers.filter(({ a }) => a.status !== 'success').map(({ q, a }) => `${q.panel}: ${a.error}`)).toEqual([]);
      const fed = answers.filter(({ q }) => uses(q).metrics.some((m) => FED.includes(m)));
      expect(fed.length).toBeGreaterThan(10);
      expect(fed.filter(({ a }) => a.data!.result.length === 0).map(({ q }) => `${q.panel}: ${q.expr}`)).toEqual([]);
      // One scrape of the primary is the whole gateway: both workers, each request counted once.
      const value = async (expr: string) => Number((await prom.query(expr)).data!.result[0]?.value?.[1]);
      expect(await value('count(s3gate_worker_up)')).toBe(2);
      expect(await value('sum(s3gate_worker_up)')).toBe(2);
      expect(await value('sum(s3gate_requests_total)')).toBe(REQUESTS);
      expect(await value('sum(s3gate_worker_requests_total)')).toBe(REQUESTS);
      expect(await value('sum(s3gate_request_duration_seconds_count)')).toBe(REQUESTS);
      expect(await value('sum(s3gate_auth_failures_total)')).toBe(1);
      expect(await value('sum(s3gate_throttled_total)')).toBe(2);
      // Series increase() needs before their first change: every worker slot, both reload results.
      expect(await value('count(s3gate_worker_restarts_total == 0)')).toBe(2);
      expect(await value('count(s3gate_config_reloads_total == 0)')).toBe(2);
    } finally {
      await prom.stop();
    }
  });
});
