// A real Prometheus (Debian's 2.42, installed by test/system-deps.sh) scraping s3gate, and its
// promtool: what an operator's Prometheus parses and what the dashboard's PromQL evaluates to,
// rather than our own reading of either.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './cli.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/** `promtool check metrics`: the text format parsed by Prometheus's own parser, then its lint. */
export function promtoolCheck(exposition: string): { code: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** A sample of an instant vector (`value`) or the samples of a range (`values`): [unix seconds, value]. */
export interface Series { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }
export interface QueryAnswer { status: string; error?: string; data?: { resultType: string; result: Series[] } }

export interface Prometheus {
  url: string;
  query(expr: string): Promise<QueryAnswer>;
  /** resolves once a scrape of every target has completed after this call (the targets up) */
  nextScrapes(count: number): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts Prometheus scraping `targets` (host:port, path /metrics) every second. */
export async function startPrometheus(dir: string, targets: string[]): Promise<Prometheus> {
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }
scrape_configs:
  - job_name: s3gate
    static_configs: [{ targets: ${JSON.stringify(targets)} }]
`);
  const child = spawn(PROMETHEUS, [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const query = async (expr: string): Promise<QueryAnswer> => (await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`)).json() as Promise<QueryAnswer>;
  let ready = false;
  const poll = setInterval(() => { fetch(`${url}/-/ready`).then((r) => { ready = r.ok; }, () => undefined); }, 100);
  try {
    await waitFor(() => ready || child.exitCode !== null, 30_000);
  } finally {
    clearInterval(poll);
  }
  if (!ready) throw new Error(`prometheus did not start: ${err}`);
  return {
    url,
    query,
    async nextScrapes(count) {
      // A sample's timestamp is when its scrape began, so a scrape begun after `since` saw
      // everything done before this call.
      const since = Date.now() / 1000;
      const end = Date.now() + 10_000 + count * 2_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const window = Math.ceil(Date.now() / 1000 - since) + 1;
        const series = (await query(`up{job="s3gate"}[${window}s]`)).data?.result ?? [];
        if (series.length > 0 && series.every((s) => (s.values ?? []).filter(([t, v]) => t > since && v === '1').length >= count)) return;
        if (Date.now() > end) throw new Error(`prometheus made no ${count} scrapes in time: ${err}`);
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
