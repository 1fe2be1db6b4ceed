// `s3gate serve --config FILE [--workers N|auto]`: validate the config, then serve. A config
// mistake stops here, before any socket opens, with every problem named by its field. With more
// than one worker this process becomes the primary (src/workers/primary.ts) and the workers, forked
// from it, run this same command (src/workers/worker.ts).
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { createLogger } from '../listen/log.js';
import { parseWorkers, workerCount, WORKERS_EXPECTED } from '../workers/count.js';
import { ENV_INDEX } from '../workers/messages.js';

/** How often the config file is stat-polled for a change. */
const WATCH_MS = 1000;

/** What serves, for the signals and the file watcher: one gateway, or a primary and its workers. */
interface Serving {
  urls: string[];
  reload(): unknown;
  close(): Promise<void>;
}

// node:cluster (with child_process) and the primary's and worker's modules are loaded only where
// there are workers: one process serving does not hold them; and the primary, which serves no
// request, does not hold the request pipeline (docs/performance.md, "idle").
export async function run(argv: string[]): Promise<number> {
  if (process.env[ENV_INDEX] && (await import('node:cluster')).default.isWorker) return (await import('../workers/worker.js')).runWorker();
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c', default: 'proxy.yaml' },
      workers: { type: 'string', short: 'w' },
      listen: { type: 'string', short: 'l', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write('usage: s3gate [serve] --config proxy.yaml [--workers auto|N] [--listen HOST:PORT ...]\n' +
      '  --listen HOST:PORT   listen here (plain HTTP) instead of the config\'s listen; repeatable\n');
    return 0;
  }
  const flag = values.workers === undefined ? undefined : parseWorkers(values.workers);
  if (values.workers !== undefined && flag === undefined) throw new ConfigError([`--workers: must be ${WORKERS_EXPECTED}, not "${values.workers}"`]);
  // The fingerprint is taken before loading, so a change made while starting is still noticed.
  let seen = fingerprint(values.config!);
  // A ConfigError reaches the bin's handler: its field-named problems, exit 2.
  const config = loadConfig(values.config!, values.listen?.length ? { listen: values.listen } : {});
  // S3GATE_WORKERS is the default where neither the flag nor the config says (the Docker image
  // sets it to auto, whatever config is mounted).
  const fromEnv = process.env.S3GATE_WORKERS ? parseWorkers(process.env.S3GATE_WORKERS) : undefined;
  if (process.env.S3GATE_WORKERS && fromEnv === undefined) throw new ConfigError([`S3GATE_WORKERS: must be ${WORKERS_EXPECTED}, not "${process.env.S3GATE_WORKERS}"`]);
  const count = workerCount(flag ?? config.workers ?? fromEnv);
  const log = createLogger(config.log.level, undefined, { shared: count > 1 });
  // Reload on SIGHUP and when the file's content changes. The file is stat-polled once a second
  // and its content compared: stat follows the path, so a Kubernetes ConfigMap update (a swapped
  // `..data` symlink) and an editor's save by rename are both seen. A watch on the directory
  // (inotify) saw those too, but also woke the gateway at every write to any file beside the
  // config: a log redirected there woke a two-worker gateway's primary about once per 16
  // requests (docs/performance.md, "Two workers: where the CPU goes").
  const file = config.source!;
  let serving: Serving | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const check = () => {
    const now = fingerprint(file);
    if (!serving || now === seen || now === '') return;
    seen = now;
    serving.reload();
  };
  const changed = () => {
    clearTimeout(debounce);
    debounce = setTimeout(check, 300);
  };
  watchFile(file, { interval: WATCH_MS, persistent: false }, changed);
  if (count === 1) {
    const { startGateway } = await import('../listen/server.js');
    serving = await startGateway(config, { log });
  } else {
    // The kernel spreads connections over the workers' own SO_REUSEPORT sockets where it
    // balances them (Linux, FreeBSD; elsewhere Node refuses reusePort), unless
    // S3GATE_ACCEPT=primary asks for node:cluster's primary to hand them out (docs/deployment.md).
    const reusePort = ['linux', 'freebsd'].includes(process.platform) && process.env.S3GATE_ACCEPT !== 'primary';
    const { startPrimary } = await import('../workers/primary.js');
    serving = await startPrimary({ count, reusePort, config, log });
  }
  check();
  demoBanner(config, serving.urls);
  const live = serving;
  // A signal that follows an edit reloads it: the watcher, seeing the same content, does not again.
  process.on('SIGHUP', () => {
    seen = fingerprint(file);
    live.reload();
  });
  const stop = (signal: string) => {
    log.info({ signal, deadlineMs: config.timeouts.shutdown, workers: count }, 'shutting down: finishing in-flight requests');
    unwatchFile(file, changed);
    void live.close().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Serving: the process lives on its listeners.
  return -1;
}

function fingerprint(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
}

/**
 * Keys marked `demo: true` are published in proxy.yaml anyway; printing them (to stderr, never to
 * the log) is what lets a newcomer point a client at the gateway within a minute.
 */
function demoBanner(config: GatewayConfig, urls: string[]): void {
  const demo = [...config.keys.values()].filter((k) => k.demo);
  if (!demo.length) return;
  const url = (urls[0] ?? '').replace('127.0.0.1', 'localhost');
  const lines = ['', `s3gate is serving S3 on ${url}`];
  for (const k of demo) {
    lines.push(`  demo key:    ${k.accessKeyId}`, `  demo secret: ${k.secretAccessKey}`);
    lines.push(`  try: AWS_ACCESS_KEY_ID=${k.accessKeyId} AWS_SECRET_ACCESS_KEY=${k.secretAccessKey} aws --endpoint-url ${url} --region ${config.region} s3 ls`);
  }
  lines.push('  (demo keys are for trying s3gate out: replace them before real use)', '');
  process.stderr.write(lines.join('\n') + '\n');
}
