// `s3gate serve --config FILE`: validate the config, then serve. A config mistake stops here,
// before any socket opens, with every problem named by its field.
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { startGateway } from '../listen/server.js';

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
  let config: GatewayConfig;
  try {
    config = loadConfig(values.config!);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`s3gate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const gw = await startGateway(config);
  demoBanner(config, gw.urls);
  // Reload on SIGHUP and when the file changes (a ConfigMap update, an editor's save).
  process.on('SIGHUP', () => gw.reload());
  let debounce: NodeJS.Timeout | undefined;
  const file = config.source!;
  const watcher = watch(dirname(file), (_event, name) => {
    if (name !== basename(file)) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => gw.reload(), 300);
  });
  const stop = (signal: string) => {
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
