// `s3gate serve --config FILE`: validate the config, then serve. A config mistake stops here,
// before any socket opens, with every problem named by its field.
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { startGateway, type Gateway } from '../listen/server.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c', default: 'proxy.yaml' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write('usage: s3gate [serve] --config proxy.yaml\n');
    return 0;
  }
  // The fingerprint is taken before loading, so a change made while starting is still noticed.
  let seen = fingerprint(values.config!);
  // A ConfigError reaches the bin's handler: its field-named problems, exit 2.
  const config = loadConfig(values.config!);
  // Reload on SIGHUP and when the file's content changes. The whole directory is watched and the
  // content compared, because a Kubernetes ConfigMap update swaps a `..data` symlink and never
  // touches the file's own name, and editors save by rename.
  const file = config.source!;
  let gw: Gateway | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const check = () => {
    const now = fingerprint(file);
    if (!gw || now === seen || now === '') return;
    seen = now;
    gw.reload();
  };
  const watcher = watch(dirname(file), () => {
    clearTimeout(debounce);
    debounce = setTimeout(check, 300);
  });
  gw = await startGateway(config);
  check();
  demoBanner(config, gw.urls);
  process.on('SIGHUP', () => gw.reload());
  const live = gw;
  const stop = (signal: string) => {
    const gw = live;
    gw.log.info({ signal, deadlineMs: gw.config().timeouts.shutdown }, 'shutting down: finishing in-flight requests');
    watcher.close();
    void gw.close().then(() => {
      gw.log.info('stopped');
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
