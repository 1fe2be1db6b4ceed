// The in-house Prometheus client that replaced prom-client: exact text format 0.0.4 for known
// series, the refusals prom-client made, and the Metrics set the gateway and tests rely on.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Counter, formatValue, Gauge, Histogram, Registry, renderSnapshots } from '../../src/metrics/prometheus.js';
import { WorkerTotals } from '../../src/metrics/worker-totals.js';
import { Metrics } from '../../src/metrics/metrics.js';

const LABEL = String.raw`[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"`;
const LINE = new RegExp(
  String.raw`^(?:# (?:HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*` +
  String.raw`|[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{${LABEL}(?:,${LABEL})*\})? (?:[-+]?(?:\d+(?:\.\d+)?(?:e[-+]\d+)?|Inf)|NaN))$`,
);

function known() {
  const registry = new Registry();
  const requests = new Counter({ name: 't_requests_total', help: 'Requests by method and path', labelNames: ['method', 'path'] as const, registers: [registry] });
  const inflight = new Gauge({ name: 't_inflight', help: 'In flight\nnow, C:\\ style', registers: [registry] });
  const duration = new Histogram({ name: 't_duration_seconds', help: 'Duration', labelNames: ['op'] as const, buckets: [0.5, 1], registers: [registry] });
  return { registry, requests, inflight, duration };
}

describe('exposition', () => {
  it('prints a known series exactly, with escaping and cumulative buckets', async () => {
    const { registry, requests, inflight, duration } = known();
    requests.inc({ method: 'GET', path: 'a"b\\c\nd' });
    requests.inc({ method: 'GET', path: 'a"b\\c\nd' }, 2);
    requests.inc({ method: 'PUT', path: '/x' });
    inflight.inc();
    inflight.inc(3);
    inflight.dec();
    for (const v of [0.25, 0.5, 0.75, 4]) duration.observe({ op: 'Get' }, v);
    expect(await registry.metrics()).toBe([
      '# HELP t_requests_total Requests by method and path',
      '# TYPE t_requests_total counter',
      't_requests_total{method="GET",path="a\\"b\\\\c\\nd"} 3',
      't_requests_total{method="PUT",path="/x"} 1',
      '',
      '# HELP t_inflight In flight\\nnow, C:\\\\ style',
      '# TYPE t_inflight gauge',
      't_inflight 3',
      '',
      '# HELP t_duration_seconds Duration',
      '# TYPE t_duration_seconds histogram',
      't_duration_seconds_bucket{op="Get",le="0.5"} 2',
      't_duration_seconds_bucket{op="Get",le="1"} 3',
      't_duration_seconds_bucket{op="Get",le="+Inf"} 4',
      't_duration_seconds_sum{op="Get"} 5.5',
      't_duration_seconds_count{op="Get"} 4',
      '',
    ].join('\n'));
  });

  it('a labelled metric with no series shows only HELP and TYPE; an unlabelled one shows 0', async () => {
    const { registry } = known();
    expect(await registry.getSingleMetricAsString('t_requests_total')).toBe('# HELP t_requests_total Requests by method and path\n# TYPE t_requests_total counter');
    expect(await registry.getSingleMetricAsString('t_inflight')).toMatch(/\nt_inflight 0$/);
    const unlabelled = new Histogram({ name: 't_h', help: 'h', buckets: [1], registers: [registry] });
    expect(await registry.getSingleMetricAsString(unlabelled.name)).toBe(
      '# HELP t_h h\n# TYPE t_h histogram\nt_h_bucket{le="1"} 0\nt_h_bucket{le="+Inf"} 0\nt_h_sum 0\nt_h_count 0');
  });

  it('getSingleMetricAsString gives one metric without a final newline; an unknown name rejects', async () => {
    const { registry, requests } = known();
    requests.inc({ method: 'GET', path: '/' }, 0.1);
    requests.inc({ method: 'GET', path: '/' }, 0.2);
    expect(await registry.getSingleMetricAsString('t_requests_total')).toBe(
      '# HELP t_requests_total Requests by method and path\n# TYPE t_requests_total counter\nt_requests_total{method="GET",path="/"} 0.30000000000000004');
    await expect(registry.getSingleMetricAsString('t_nope')).rejects.toThrow(/t_nope/);
    expect(registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('spells special values as Prometheus does', () => {
    expect([1, 0.001, 1e21, Infinity, -Infinity, NaN].map(formatValue)).toEqual(['1', '0.001', '1e+21', '+Inf', '-Inf', 'NaN']);
  });
});

describe('series lookup', () => {
  // Series of several labels are found through a Map per label (no joined key per update): every
  // label set must still count into its own series, as a plain count by label values says.
  it('any sequence of updates over three labels counts each label set apart', () => {
    const value = fc.constantFrom('', 'a', 'ab', 'b', '1', 1, 'a\u0000b', '\u0000', 'GetObject');
    fc.assert(fc.property(fc.array(fc.tuple(value, value, value, fc.integer({ min: 0, max: 3 })), { maxLength: 60 }), (updates) => {
      const registry = new Registry();
      const c = new Counter({ name: 't_total', help: 'h', labelNames: ['x', 'y', 'z'] as const, registers: [registry] });
      const expected = new Map<string, number>();
      for (const [x, y, z, n] of updates) {
        c.inc({ x, y, z }, n);
        const k = JSON.stringify([String(x), String(y), String(z)]);
        expected.set(k, (expected.get(k) ?? 0) + n);
      }
      const got = new Map(c.snapshot().series.map((s) => [s.labels, s.value]));
      // NUL joins the series' name only where the last value is not the one that holds it.
      const distinct = new Map<string, number>();
      for (const [k, n] of expected) {
        const [x, y, z] = JSON.parse(k) as string[];
        const labels = `x="${x}",y="${y}",z="${z}"`;
        distinct.set(labels, (distinct.get(labels) ?? 0) + n);
      }
      for (const [labels, n] of distinct) {
        if (!labels.includes('\u0000')) expect(got.get(labels)).toBe(n);
      }
      expect([...got.values()].reduce((a, b) => a! + b!, 0)).toBe(updates.reduce((a, u) => a + u[3], 0));
    }));
  });
});

describe('updates by position', () => {
  // incAt/observeAt take the label values in labelNames' order (the per-request updates, which
  // make no label object): any mix of them with inc/observe by name counts into the same series,
  // and the scrape reads as if every update had named its labels.
  it('incAt and observeAt land where inc and observe by name do, for one to four labels', async () => {
    const value = fc.constantFrom('', 'a', 'ab', 'b', '1', 'a\u0000b', '\u0000', 'GetObject');
    const update = fc.tuple(fc.boolean(), value, value, value, value, fc.integer({ min: 0, max: 3 }));
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(update, { maxLength: 40 }), async (n, updates) => {
      const names = ['w', 'x', 'y', 'z'].slice(0, n) as ('w' | 'x' | 'y' | 'z')[];
      const make = (r: Registry) => ({
        c: new Counter({ name: 't_total', help: 'h', labelNames: names, registers: [r] }),
        h: new Histogram({ name: 't_seconds', help: 'h', labelNames: names, buckets: [1, 2], registers: [r] }),
      });
      const mixed = new Registry();
      const named = new Registry();
      const m = make(mixed);
      const b = make(named);
      for (const [positional, w, x, y, z, k] of updates) {
        const values = [w, x, y, z].slice(0, n);
        const labels = Object.fromEntries(names.map((l, i) => [l, values[i]!])) as Record<'w' | 'x' | 'y' | 'z', string>;
        if (positional) {
          m.c.incAt(k, w, x, y, z);
          m.h.observeAt(k, w, x, y, z);
        } else {
          m.c.inc(labels, k);
          m.h.observe(labels, k);
        }
        b.c.inc(labels, k);
        b.h.observe(labels, k);
      }
      expect(await mixed.metrics()).toBe(await named.metrics());
    }));
  });

  it('refuse what inc and observe refuse, and a metric of more than four labels', () => {
    const { requests, duration } = known();
    expect(() => requests.incAt(-1, 'GET', '/')).toThrow();
    expect(() => requests.incAt(Infinity, 'GET', '/')).toThrow();
    expect(() => duration.observeAt(NaN, 'Get')).toThrow();
    const five = new Counter({ name: 't5', help: 'h', labelNames: ['a', 'b', 'c', 'd', 'e'] as const });
    expect(() => five.incAt(1, 'a', 'b', 'c', 'd')).toThrow(/name them/);
    five.inc({ a: 'a', b: 'b', c: 'c', d: 'd', e: 'e' });
    expect(five.snapshot().series).toEqual([{ labels: 'a="a",b="b",c="c",d="d",e="e"', value: 1 }]);
  });
});

describe('refusals', () => {
  it('a counter cannot go down or take a non-finite step', () => {
    const { requests } = known();
    expect(() => requests.inc({ method: 'GET', path: '/' }, -1)).toThrow();
    expect(() => requests.inc({ method: 'GET', path: '/' }, NaN)).toThrow();
    expect(() => requests.inc({ method: 'GET', path: '/' }, Infinity)).toThrow();
  });

  it('a histogram refuses non-finite values, le as a label and unordered buckets; names are checked; a name registers once', () => {
    const { registry, duration } = known();
    expect(() => duration.observe({ op: 'Get' }, NaN)).toThrow();
    expect(() => new Histogram({ name: 'h', help: 'h', labelNames: ['le'], buckets: [1] })).toThrow(/le/);
    expect(() => new Histogram({ name: 'h', help: 'h', buckets: [1, 0.5] })).toThrow(/increase/);
    expect(() => new Counter({ name: 'bad-name', help: 'h' })).toThrow();
    expect(() => new Counter({ name: 'c', help: 'h', labelNames: ['bad-label'] })).toThrow();
    expect(() => new Counter({ name: 't_inflight', help: 'h', registers: [registry] })).toThrow(/already/);
  });

  it('labels are checked at compile time', () => {
    const { requests } = known();
    // @ts-expect-error a declared label is missing
    requests.inc({ method: 'GET' });
  });
});

describe('the gateway metrics', () => {
  it('every line of a scrape after traffic parses', async () => {
    const m = new Metrics();
    m.inflight.inc();
    m.requests.inc({ operation: 'GetObject', status: '200', upstream: 'up', key: 'AK' });
    m.bytes.inc({ direction: 'out', upstream: 'up' }, 4096);
    m.duration.observe({ operation: 'GetObject' }, 0.003);
    m.upstreamDuration.observe({ upstream: 'up' }, 120);
    m.authFailures.inc({ reason: 'SignatureDoesNotMatch' });
    m.upstreamErrors.inc({ upstream: 'up', kind: '5xx' });
    m.upstreamRetries.inc({ upstream: 'up' });
    m.reloads.inc({ result: 'ok' });
    m.throttled.inc({ limit: 'rate', key: 'AK' });
    m.fallbackReads.inc({ bucket: 'media' });
    m.copies.inc({ bucket: 'media', result: 'ok' });
    m.bytesMoved.inc({ bucket: 'media' }, 300000);
    m.mirrorWrites.inc({ bucket: 'media', result: 'failed' });
    m.mirrorLag.observe({ bucket: 'media' }, 0.02);
    m.inflight.dec();
    const text = await m.registry.metrics();
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.slice(0, -1).split('\n')) if (line !== '') expect(line).toMatch(LINE);
    expect(text.match(/^# TYPE /gm)).toHaveLength(17);
    expect(text).toContain('\ns3gate_inflight_requests 0\n');
    expect(text).toContain('\ns3gate_request_duration_seconds_bucket{operation="GetObject",le="0.001"} 0\n');
    expect(text).toContain('\ns3gate_request_duration_seconds_bucket{operation="GetObject",le="0.005"} 1\n');
    expect(text).toContain('\ns3gate_upstream_duration_seconds_bucket{upstream="up",le="60"} 0\n');
    expect(text).toContain('\ns3gate_upstream_duration_seconds_bucket{upstream="up",le="+Inf"} 1\n');
    expect(text).toContain('\ns3gate_migration_bytes_total{bucket="media"} 300000\n');
    expect(await m.registry.getSingleMetricAsString('s3gate_upstream_retries_total')).toMatch(/s3gate_upstream_retries_total\{upstream="up"\} 1$/);
  });

  it('two gateways in one process keep their own counts', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.reloads.inc({ result: 'ok' });
    expect(await a.registry.getSingleMetricAsString('s3gate_config_reloads_total')).toMatch(/\{result="ok"\} 1\n/);
    expect(await b.registry.getSingleMetricAsString('s3gate_config_reloads_total')).toMatch(/\{result="ok"\} 0\n/);
  });

  it('exports both reload results at 0 from the start, so increase() sees the first reload', async () => {
    const text = await new Metrics().registry.getSingleMetricAsString('s3gate_config_reloads_total');
    expect(text.split('\n').slice(2)).toEqual(['s3gate_config_reloads_total{result="ok"} 0', 's3gate_config_reloads_total{result="refused"} 0']);
  });
});

describe('a primary\'s totals over its workers', () => {
  /** One worker's registry after `n` requests, one of them still in flight. */
  const worker = (n: number) => {
    const m = new Metrics();
    for (let i = 0; i < n; i++) {
      m.requests.inc({ operation: 'GetObject', status: 200, upstream: 'up', key: 'K' });
      m.duration.observe({ operation: 'GetObject' }, 0.002);
    }
    m.inflight.inc();
    return m.registry.snapshot();
  };
  const render = (t: WorkerTotals) => renderSnapshots(t.processes());
  const line = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

  it('keep a dead worker\'s counters and histograms, drop its gauges, and add its replacement\'s', () => {
    const t = new WorkerTotals();
    t.seen(1, worker(5));
    t.seen(2, worker(3));
    expect(line(render(t), 's3gate_requests_total{')).toBe('s3gate_requests_total{operation="GetObject",status="200",upstream="up",key="K"} 8');
    expect(line(render(t), 's3gate_inflight_requests ')).toBe('s3gate_inflight_requests 2');
    t.gone(1);
    const dead = render(t);
    expect(line(dead, 's3gate_requests_total{')).toMatch(/ 8$/);
    expect(line(dead, 's3gate_request_duration_seconds_count{')).toMatch(/ 8$/);
    expect(line(dead, 's3gate_request_duration_seconds_bucket{operation="GetObject",le="0.0025"}')).toMatch(/ 8$/);
    expect(line(dead, 's3gate_inflight_requests ')).toBe('s3gate_inflight_requests 1');
    // The replacement counts from 0; the gateway's totals go on from 8.
    t.seen(1, worker(2));
    expect(line(render(t), 's3gate_requests_total{')).toMatch(/ 10$/);
    expect(t.latest().map((w) => w.index).sort()).toEqual([1, 2]);
    // A second exit without a new snapshot adds nothing twice.
    t.gone(1);
    t.gone(1);
    expect(line(render(t), 's3gate_requests_total{')).toMatch(/ 10$/);
  });
});
