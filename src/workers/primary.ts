// The primary of a multi-process gateway: it serves no S3 request itself. It forks the workers,
// keeps one of each index alive (a dead one is logged, counted and replaced), validates each
// config reload once and hands the accepted text to every worker, answers the admin listener for
// the whole gateway (/metrics merged from every worker, kept monotonic across their deaths:
// src/metrics/worker-totals.ts), holds the host-wide per-key limits, and drains every worker on
// SIGTERM.
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { startAdmin, type Admin } from '../listen/admin.js';
import { ClusterMetrics, Metrics } from '../metrics/metrics.js';
import { renderSnapshots, type MetricSnapshot } from '../metrics/prometheus.js';
import { WorkerTotals } from '../metrics/worker-totals.js';
import { HostLimits } from './host-limits.js';
import { ENV_INDEX, ENV_PORTS, ENV_REUSE_PORT, isMessage, type FromWorker, type ToWorker } from './messages.js';
import { configFromText } from './config-text.js';

export interface PrimaryOptions {
  count: number;
  /** each worker binds its own socket with SO_REUSEPORT (the kernel spreads connections), or node:cluster's primary accepts and hands them out */
  reusePort: boolean;
  config: GatewayConfig;
  log: Logger;
}

export interface Primary {
  urls: string[];
  adminUrl?: string;
  /**
   * re-read and validate the config file once; every worker gets it, or none. `ok` says the
   * primary accepted it; it counts as reloaded (`config reloaded`, result="ok") once every worker
   * has applied it.
   */
  reload(): { ok: true } | { ok: false; error: string };
  /** drain every worker within timeouts.shutdown, then stop */
  close(): Promise<void>;
}

interface Slot {
  worker?: Worker;
  started: number;
  up: boolean;
}

// A worker that dies within this long after its start is replaced only after the same delay,
// so a worker that cannot start does not become a fork loop.
const QUICK_DEATH_MS = 1000;
// A worker that does not answer a scrape in time does not hold it up: its last snapshot stands in.
const SCRAPE_MS = 2000;

/** Each worker's own request count, the one series the merge would otherwise sum away. */
function perWorker(got: { index: number; snapshot: MetricSnapshot[] }[]): MetricSnapshot {
  const series = got.sort((a, b) => a.index - b.index).map(({ index, snapshot }) => ({
    labels: `worker="${index}"`,
    value: (snapshot.find((m) => m.name === 's3gate_requests_total')?.series ?? []).reduce((n, s) => n + s.value!, 0),
  }));
  return { name: 's3gate_worker_requests_total', help: 'Requests served by the worker of this index since it started', type: 'counter', series };
}

export async function startPrimary(o: PrimaryOptions): Promise<Primary> {
  const { log, count } = o;
  const file = o.config.source!;
  // `serve --listen`: every worker listens on each of these addresses instead of the file's.
  const listen = o.config.listenFlags;
  const flags = listen?.length ? { listen } : {};
  let text = readFileSync(file, 'utf8');
  let current = o.config;
  let ports: number[] | undefined;
  let closing = false;
  // Until every worker listens: a worker's exit then fails the start, and is not replaced.
  let starting = true;
  const slots = new Map<number, Slot>();
  const metrics = new Metrics();
  const cluster_ = new ClusterMetrics(metrics.registry);
  const limits = new HostLimits();
  const totals = new WorkerTotals();
  const scrapes = new Map<number, { waiting: Set<Worker>; done: () => void }>();
  let scrapeId = 0;
  const exited = new Set<() => void>();
  // Series a dashboard's increase() needs from the start, not from their first change.
  for (let i = 1; i <= count; i++) {
    cluster_.restarts.inc({ worker: String(i) }, 0);
    cluster_.up.set({ worker: String(i) }, 0);
  }
  // The reloads being applied, by seq: which workers have yet to answer, and who refused.
  let seq = 0;
  interface Applying { waiting: Set<Worker>; refused: { worker: number; error: string }[]; done: (refused: Applying['refused']) => void }
  const applying = new Map<number, Applying>();
  const answered = (w: Worker, seq_: number | undefined, refusal?: { worker: number; error: string }) => {
    for (const [s_, a] of applying) {
      if (seq_ !== undefined && s_ !== seq_) continue;
      if (!a.waiting.delete(w)) continue;
      if (refusal) a.refused.push(refusal);
      if (a.waiting.size) continue;
      applying.delete(s_);
      a.done(a.refused);
    }
  };

  cluster.setupPrimary({ args: process.argv.slice(2) });

  const fork = (index: number): Worker => {
    const env: Record<string, string> = { [ENV_INDEX]: String(index), [ENV_REUSE_PORT]: o.reusePort ? '1' : '' };
    if (ports) env[ENV_PORTS] = ports.join(',');
    const w = cluster.fork(env);
    const slot: Slot = { worker: w, started: Date.now(), up: false };
    slots.set(index, slot);
    w.on('message', (m: unknown) => {
      if (!isMessage<FromWorker>(m)) return;
      if (limits.handle(w, m)) return;
      if (m.s3gate === 'hello') {
        w.send({ s3gate: 'config', text, file, seq, ...flags } satisfies ToWorker);
      } else if (m.s3gate === 'listening') {
        slot.up = true;
        cluster_.up.set({ worker: String(index) }, 1);
        log.info({ worker: index, pid: w.process.pid, reqIdPrefix: m.reqIdPrefix }, 'worker started');
        w.emit('s3gate:listening', m.urls);
      } else if (m.s3gate === 'metrics') {
        // Kept at once, not when the scrape ends: a worker that exits meanwhile is folded into
        // the retained totals from this snapshot, and counted once.
        if (!w.isDead()) totals.seen(index, m.snapshot);
        const s = scrapes.get(m.id);
        if (s?.waiting.delete(w) && !s.waiting.size) s.done();
      } else if (m.s3gate === 'reloaded') {
        if (!m.ok) log.error({ worker: index, error: m.error }, 'a worker refused the config the primary accepted; it keeps its previous one');
        answered(w, m.seq, m.ok ? undefined : { worker: index, error: m.error ?? '' });
      }
    });
    w.on('exit', (code, signal) => {
      limits.forget(w);
      answered(w, undefined);
      totals.gone(index);
      slot.up = false;
      cluster_.up.set({ worker: String(index) }, 0);
      for (const s of scrapes.values()) if (s.waiting.delete(w) && !s.waiting.size) s.done();
      for (const f of exited) f();
      // At start-up a worker that exits fails the start as a whole (startPrimary throws): it is
      // not replaced, and "worker died; starting a replacement" would say otherwise.
      if (starting || closing || slots.get(index) !== slot) return;
      const lived = Date.now() - slot.started;
      cluster_.restarts.inc({ worker: String(index) });
      log.error({ worker: index, pid: w.process.pid, code, signal, livedMs: lived }, 'worker died; starting a replacement');
      setTimeout(() => {
        if (!closing) fork(index);
      }, lived < QUICK_DEATH_MS ? QUICK_DEATH_MS : 0).unref();
    });
    return w;
  };

  // The first worker binds the configured ports (port 0 resolves there); the others then bind
  // the same ones. Start-up fails as a whole if any worker cannot listen.
  const listening = (w: Worker) => new Promise<string[]>((resolve, reject) => {
    w.once('s3gate:listening', resolve);
    w.once('exit', (code) => reject(new Error(`worker exited with code ${code} before listening`)));
  });
  let urls: string[];
  try {
    urls = await listening(fork(1));
    ports = urls.map((u) => Number(new URL(u).port));
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => listening(fork(i + 2))));
  } catch (e) {
    closing = true;
    for (const s of slots.values()) s.worker?.process.kill('SIGKILL');
    throw e;
  }
  starting = false;

  const merged = async (): Promise<string> => {
    const live = [...slots.values()].filter((s) => s.up && s.worker?.isConnected()).map((s) => s.worker!);
    const id = scrapeId++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SCRAPE_MS);
      scrapes.set(id, { waiting: new Set(live), done: () => (clearTimeout(timer), resolve()) });
      if (!live.length) resolve();
      for (const w of live) w.send({ s3gate: 'metrics', id } satisfies ToWorker);
    });
    scrapes.delete(id);
    return renderSnapshots([metrics.registry.snapshot(), ...totals.processes(), [perWorker(totals.latest())]]);
  };

  let admin: Admin | undefined;
  if (current.admin) admin = await startAdmin(current.admin, { config: () => current, metrics: merged, contentType: metrics.registry.contentType });

  log.info({ listen: urls, admin: admin?.url, workers: count, distribution: o.reusePort ? 'reusePort' : 'cluster', upstreams: [...current.upstreams.keys()], buckets: [...current.buckets.keys()] }, 's3gate listening');

  return {
    urls,
    ...(admin ? { adminUrl: admin.url } : {}),
    reload: () => {
      try {
        // loadConfig refuses a file caught halfway through a write; the text the workers get is
        // then read once and must build too.
        loadConfig(file, flags);
        const next = readFileSync(file, 'utf8');
        const cfg = configFromText(next, file, listen);
        text = next;
        current = cfg;
        seq++;
        // Counted and logged once every worker has answered (a worker started meanwhile gets it
        // at its start): reloaded if each applied it. A worker refuses a config only as a whole
        // (its validation reads the files the text names again, and one may have changed since
        // the primary's read); it then serves its previous one, and the next SIGHUP sends this
        // text again.
        const live = [...slots.values()].filter((s) => s.worker?.isConnected()).map((s) => s.worker!);
        const info = { keys: cfg.keys.size, upstreams: [...cfg.upstreams.keys()], buckets: [...cfg.buckets.keys()], workers: live.length };
        const done = (refused: Applying['refused']) => {
          metrics.reloads.inc({ result: refused.length ? 'refused' : 'ok' });
          if (!refused.length) return log.info(info, 'config reloaded');
          log.error({ refusedBy: refused.map((r) => r.worker), error: refused[0]!.error, workers: live.length },
            'config reload refused by a worker; it keeps its previous config (the others, if any, serve the new one): SIGHUP to send it again');
        };
        if (!live.length) done([]);
        else applying.set(seq, { waiting: new Set(live), refused: [], done });
        for (const w of live) w.send({ s3gate: 'config', text, file, seq, ...flags } satisfies ToWorker);
        return { ok: true };
      } catch (e) {
        metrics.reloads.inc({ result: 'refused' });
        const error = (e as Error).message;
        log.error({ error }, 'config reload refused; the previous config stays in force');
        return { ok: false, error };
      }
    },
    close: async () => {
      closing = true;
      admin?.setDraining();
      const alive = () => [...slots.values()].filter((s) => s.worker && !s.worker.isDead());
      for (const s of alive()) if (s.worker!.isConnected()) s.worker!.send({ s3gate: 'drain' } satisfies ToWorker);
      // Each worker keeps the deadline itself; this one only catches a worker that hangs.
      const deadline = setTimeout(() => alive().forEach((s) => s.worker!.process.kill('SIGKILL')), current.timeouts.shutdown + 5000);
      await new Promise<void>((resolve) => {
        const check = () => {
          if (alive().length) return;
          exited.delete(check);
          resolve();
        };
        exited.add(check);
        check();
      });
      clearTimeout(deadline);
      await admin?.close();
    },
  };
}
