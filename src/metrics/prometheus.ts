// A small Prometheus client in place of prom-client, which cost ~12 MiB RSS at import and
// hashed and validated a label object on every inc/observe (measured again for workers:
// `node bench/metrics-hot-path.mjs`, docs/performance.md#prom-client-against-the-in-house-registry). Only what s3gate uses:
// counters, gauges and histograms in a registry, exposed in text format 0.0.4, and plain-data
// snapshots that a primary merges over its workers (what prom-client's AggregatorRegistry does).
// The config objects keep prom-client's shape so metrics.ts reads the same.

export type Labels<L extends string> = Readonly<Record<L, string | number>>;

export interface MetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers?: Registry[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Lets `inc()` on an unlabelled metric look up its one series without allocating.
const NO_LABELS: Readonly<Record<string, never>> = Object.freeze({});

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeValue = (s: string) => escapeHelp(s).replace(/"/g, '\\"');

/** As prom-client prints values, except NaN, which it spells "Nan". */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** One series as a worker sends it to the primary: its rendered labels and its values. */
export interface SeriesSnapshot {
  labels: string;
  value?: number;
  /** histograms: per-bucket (not cumulative) counts, the last above every bound */
  counts?: number[];
  sum?: number;
  count?: number;
}

/** A metric with its series, plain data that goes over IPC and merges with other processes'. */
export interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  bounds?: number[];
  series: SeriesSnapshot[];
}

export abstract class Metric<L extends string, S extends { readonly labels: string }> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, S>();

  constructor(cfg: MetricConfig<L>) {
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = [...(cfg.labelNames ?? [])];
    if (!NAME.test(this.name)) throw new Error(`invalid metric name ${this.name}`);
    for (const l of this.labelNames) if (!LABEL.test(l)) throw new Error(`invalid label name ${l} in ${this.name}`);
    for (const r of cfg.registers ?? []) r.register(this);
  }

  protected abstract create(labels: string): S;
  /** This metric's series as plain data. */
  abstract snapshot(): MetricSnapshot;

  // Series of two or more labels are found through one Map per label, by each value in turn:
  // no key string is built per update (joined, it was a new string for V8 to flatten and hash
  // every request). The joined key (the values in declared order, joined by NUL) names the series
  // once, when it is made. Two label sets can share that key only if a value other than the last
  // holds a NUL; ours are fixed words, config names and key ids there, and the one client-chosen
  // value (a bucket name, which may decode to NUL) comes alone or before a fixed word.
  private readonly tree = new Map<string, unknown>();

  protected find(labels: Labels<L>): S {
    const names = this.labelNames;
    const n = names.length;
    return this.at(
      n > 0 ? String(labels[names[0]!]) : '', n > 1 ? String(labels[names[1]!]) : '',
      n > 2 ? String(labels[names[2]!]) : '', n > 3 ? String(labels[names[3]!]) : '', labels,
    );
  }

  /**
   * The series of these label values, given in labelNames' order (up to four; past four, `labels`
   * names them all). What the per-request updates call with their values as they are: reading
   * them from a label object by name was a keyed load over every metric's label shapes, which V8
   * leaves megamorphic, seven per GET (docs/performance.md, "Session 12: shapes").
   */
  protected at(a: string, b: string, c: string, d: string, labels?: Labels<L>): S {
    const names = this.labelNames;
    const n = names.length;
    if (labels === undefined && n > 4) throw new Error(`${this.name} has ${n} labels: name them`);
    if (n < 2) {
      const key = n === 0 ? '' : a;
      return this.series.get(key) ?? this.add(labels ?? this.labelsOf(a, b, c, d), key);
    }
    let level = this.tree;
    const last = n - 1;
    for (let i = 0; i < last; i++) {
      const v = i === 0 ? a : i === 1 ? b : i === 2 ? c : String(labels![names[i]!]);
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) level.set(v, (next = new Map()));
      level = next;
    }
    const v = last === 1 ? b : last === 2 ? c : last === 3 ? d : String(labels![names[last]!]);
    let s = level.get(v) as S | undefined;
    if (s === undefined) {
      const all = labels ?? this.labelsOf(a, b, c, d);
      let key = String(all[names[0]!]);
      for (let i = 1; i < n; i++) key += '\u0000' + all[names[i]!];
      level.set(v, (s = this.series.get(key) ?? this.add(all, key)));
    }
    return s;
  }

  private labelsOf(a: string, b: string, c: string, d: string): Labels<L> {
    const names = this.labelNames;
    const values = [a, b, c, d];
    const out = {} as Record<L, string>;
    for (let i = 0; i < names.length; i++) out[names[i]!] = values[i]!;
    return out;
  }

  private add(labels: Labels<L>, key: string): S {
    // Rendered once per series so a scrape only concatenates.
    const s = this.create(this.labelNames.map((n) => `${n}="${escapeValue(String(labels[n]))}"`).join(','));
    this.series.set(key, s);
    return s;
  }

  /** prom-client shows an unlabelled metric at zero before its first update; so do we. */
  protected initUnlabelled(): void {
    if (this.labelNames.length === 0) this.find(NO_LABELS);
  }
}

interface Scalar { readonly labels: string; value: number }

abstract class ScalarMetric<L extends string> extends Metric<L, Scalar> {
  constructor(cfg: MetricConfig<L>) {
    super(cfg);
    this.initUnlabelled();
  }
  protected create(labels: string): Scalar {
    return { labels, value: 0 };
  }
  snapshot(): MetricSnapshot {
    return { name: this.name, help: this.help, type: this.type, series: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

export class Counter<L extends string = never> extends ScalarMetric<L> {
  readonly type = 'counter';
  inc(labels: Labels<L>, n?: number): void;
  inc(n?: number): void;
  inc(a: Labels<L> | number = NO_LABELS, n = 1): void {
    if (typeof a === 'number') { n = a; a = NO_LABELS; }
    // NaN and Infinity would make the series useless for rate(); prom-client lets NaN through.
    if (!(n >= 0 && n !== Infinity)) throw new Error(`counter ${this.name} can only increase by a finite amount, not ${n}`);
    this.find(a).value += n;
  }

  /** inc() with the label values in labelNames' order (at most four), for updates made per request. */
  incAt(n: number, a: string, b = '', c = '', d = ''): void {
    if (!(n >= 0 && n !== Infinity)) throw new Error(`counter ${this.name} can only increase by a finite amount, not ${n}`);
    this.at(a, b, c, d).value += n;
  }
}

export class Gauge<L extends string = never> extends ScalarMetric<L> {
  readonly type = 'gauge';
  inc(labels: Labels<L>, n?: number): void;
  inc(n?: number): void;
  inc(a: Labels<L> | number = NO_LABELS, n = 1): void {
    if (typeof a === 'number') { n = a; a = NO_LABELS; }
    this.find(a).value += n;
  }
  dec(labels: Labels<L>, n?: number): void;
  dec(n?: number): void;
  dec(a: Labels<L> | number = NO_LABELS, n = 1): void {
    if (typeof a === 'number') { n = a; a = NO_LABELS; }
    this.find(a).value -= n;
  }
  set(labels: Labels<L>, v: number): void;
  set(v: number): void;
  set(a: Labels<L> | number, v?: number): void {
    if (typeof a === 'number') { v = a; a = NO_LABELS; }
    this.find(a).value = v!;
  }
}

/** Per-bucket (not cumulative) counts; the last slot takes values above every bound. */
interface Buckets { readonly labels: string; readonly counts: Float64Array; sum: number; count: number }

export class Histogram<L extends string = never> extends Metric<L, Buckets> {
  readonly type = 'histogram';
  readonly bounds: readonly number[];

  constructor(cfg: MetricConfig<L> & { buckets: readonly number[] }) {
    super(cfg);
    if (this.labelNames.includes('le' as L)) throw new Error(`le is reserved, in ${this.name}`);
    // The bucket search stops at the first bound not below the value, so order matters.
    if (cfg.buckets.some((b, i) => i > 0 && b <= cfg.buckets[i - 1]!)) throw new Error(`buckets of ${this.name} must increase`);
    this.bounds = [...cfg.buckets];
    this.initUnlabelled();
  }

  protected create(labels: string): Buckets {
    return { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  observe(labels: Labels<L>, v: number): void;
  observe(v: number): void;
  observe(a: Labels<L> | number, v?: number): void {
    if (typeof a === 'number') { v = a; a = NO_LABELS; }
    if (!Number.isFinite(v)) throw new Error(`histogram ${this.name} observed ${v}`);
    this.into(this.find(a), v!);
  }

  /** observe() with the label values in labelNames' order (at most four), for updates made per request. */
  observeAt(v: number, a: string, b = '', c = '', d = ''): void {
    if (!Number.isFinite(v)) throw new Error(`histogram ${this.name} observed ${v}`);
    this.into(this.at(a, b, c, d), v);
  }

  private into(s: Buckets, v: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += v;
    s.count++;
  }

  snapshot(): MetricSnapshot {
    return {
      name: this.name, help: this.help, type: this.type, bounds: [...this.bounds],
      series: [...this.series.values()].map((s) => ({ labels: s.labels, counts: [...s.counts], sum: s.sum, count: s.count })),
    };
  }
}

type AnyMetric = Metric<string, { readonly labels: string }>;

export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly byName = new Map<string, AnyMetric>();

  register(m: AnyMetric): void {
    if (this.byName.has(m.name)) throw new Error(`a metric named ${m.name} is already registered`);
    this.byName.set(m.name, m);
  }

  /** The metric's HELP, TYPE and sample lines, without a final newline, as prom-client gives them. */
  async getSingleMetricAsString(name: string): Promise<string> {
    const m = this.byName.get(name);
    if (!m) throw new Error(`no metric named ${name}`);
    return render(m.snapshot());
  }

  /** Every metric's series as plain data, for a primary to merge with its other workers'. */
  snapshot(): MetricSnapshot[] {
    return [...this.byName.values()].map((m) => m.snapshot());
  }

  /** Promise-returning, like prom-client's, so callers need not change. */
  async metrics(): Promise<string> {
    return renderSnapshots([this.snapshot()]);
  }
}

/** The exposition text of several processes' registries as one gateway's (mergeSnapshots). */
export function renderSnapshots(processes: readonly MetricSnapshot[][]): string {
  return mergeSnapshots(processes).map(render).join('\n\n') + '\n';
}

/**
 * Several processes' registries as one: counters and gauges summed per label set, histograms
 * merged bucket by bucket. A metric keeps the place it has in the first snapshot that names it.
 * The inputs are not changed.
 */
export function mergeSnapshots(processes: readonly MetricSnapshot[][]): MetricSnapshot[] {
  const merged = new Map<string, MetricSnapshot & { byLabels: Map<string, SeriesSnapshot> }>();
  for (const snapshot of processes) {
    for (const m of snapshot) {
      let into = merged.get(m.name);
      if (!into) merged.set(m.name, (into = { ...m, series: [], byLabels: new Map() }));
      for (const s of m.series) {
        const have = into.byLabels.get(s.labels);
        if (!have) {
          const copy = { ...s, ...(s.counts ? { counts: [...s.counts] } : {}) };
          into.byLabels.set(s.labels, copy);
          into.series.push(copy);
        } else if (have.counts && s.counts) {
          s.counts.forEach((c, i) => (have.counts![i]! += c));
          have.sum! += s.sum!;
          have.count! += s.count!;
        } else {
          have.value! += s.value!;
        }
      }
    }
  }
  return [...merged.values()].map(({ byLabels: _, ...m }) => m);
}

function render(m: MetricSnapshot): string {
  const out = [`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`];
  if (m.type !== 'histogram') {
    for (const s of m.series) out.push(`${m.name}${s.labels ? `{${s.labels}}` : ''} ${formatValue(s.value!)}`);
    return out.join('\n');
  }
  const le = [...m.bounds!.map(formatValue), '+Inf'].map((b) => `le="${b}"`);
  for (const s of m.series) {
    const pre = s.labels ? `${s.labels},` : '';
    const own = s.labels ? `{${s.labels}}` : '';
    let cum = 0;
    for (let i = 0; i < le.length; i++) {
      cum += s.counts![i]!;
      out.push(`${m.name}_bucket{${pre}${le[i]}} ${formatValue(cum)}`);
    }
    out.push(`${m.name}_sum${own} ${formatValue(s.sum!)}`, `${m.name}_count${own} ${formatValue(s.count!)}`);
  }
  return out.join('\n');
}
