// The primary of a multi-process gateway: it serves no S3 request itself. It forks the workers,
// keeps one of each index alive (a dead one is logged, counted and replaced), validates each
// config reload once and hands the accepted text to every worker, answers the admin listener for
// the whole gateway (/metrics merged from every worker), holds the host-wide per-key limits, and
// drains every worker on SIGTERM.
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { startAdmin, type Admin } from '../listen/admin.js';
import { ClusterMetrics, Metrics } from '../metrics/metrics.js';
import { renderSnapshots, type MetricSnapshot } from '../metrics/prometheus.js';
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
  /** re-read and validate the config file once; every worker gets it, or none */
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
// A worker that does not answer a scrape in time is left out of it rather than holding it up.
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
  const slots = new Map<number, Slot>();
  const metrics = new Metrics();
  const cluster_ = new ClusterMetrics(metrics.registry);
  const limits = new HostLimits();
  const scrapes = new Map<number, { want: number; got: { index: number; snapshot: MetricSnapshot[] }[]; done: () => void }>();
  let scrapeId = 0;
  const exited = new Set<() => void>();
  // The reload being applied: which workers have yet to say they serve it.
  let seq = 0;
  let applying: { seq: number; waiting: Set<Worker>; done: () => void } | undefined;
  const applied = (w: Worker) => {
    if (!applying || !applying.waiting.delete(w) || applying.waiting.size) return;
    applying.done();
    applying = undefined;
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
        const s = scrapes.get(m.id);
        if (s) {
          s.got.push({ index, snapshot: m.snapshot });
          if (s.got.length === s.want) s.done();
        }
      } else if (m.s3gate === 'reloaded') {
        if (!m.ok) log.error({ worker: index, error: m.error }, 'a worker refused the config the primary accepted; it keeps its previous one');
        if (applying?.seq === m.seq) applied(w);
      }
    });
    w.on('exit', (code, signal) => {
      limits.forget(w);
      applied(w);
      slot.up = false;
      cluster_.up.set({ worker: String(index) }, 0);
      for (const s of scrapes.values()) s.want--, s.got.length >= s.want && s.done();
      for (const f of exited) f();
      if (closing || slots.get(index) !== slot) return;
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

  const merged = async (): Promise<string> => {
    const live = [...slots.values()].filter((s) => s.up && s.worker?.isConnected()).map((s) => s.worker!);
    const id = scrapeId++;
    const got: { index: number; snapshot: MetricSnapshot[] }[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SCRAPE_MS);
      scrapes.set(id, { want: live.length, got, done: () => (clearTimeout(timer), resolve()) });
      if (!live.length) resolve();
      for (const w of live) w.send({ s3gate: 'metrics', id } satisfies ToWorker);
    });
    scrapes.delete(id);
    return renderSnapshots([metrics.registry.snapshot(), ...got.map((g) => g.snapshot), [perWorker(got)]]);
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
        metrics.reloads.inc({ result: 'ok' });
        // Logged once every worker serves it (a worker started meanwhile gets it at its start).
        const live = [...slots.values()].filter((s) => s.worker?.isConnected()).map((s) => s.worker!);
        const info = { keys: cfg.keys.size, upstreams: [...cfg.upstreams.keys()], buckets: [...cfg.buckets.keys()], workers: live.length };
        applying = { seq, waiting: new Set(live), done: () => log.info(info, 'config reloaded') };
        for (const w of live) w.send({ s3gate: 'config', text, file, seq, ...flags } satisfies ToWorker);
        if (!live.length) {
          applying.done();
          applying = undefined;
        }
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
