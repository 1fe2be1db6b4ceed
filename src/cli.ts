#!/usr/bin/env node
// s3gate --config FILE: validate the config, then serve. A config mistake stops here, before any
// socket opens, with every problem named by its field.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { startGateway } from './listen/server.js';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c', default: 'proxy.yaml' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write('usage: s3gate --config proxy.yaml\n');
    return 0;
  }
  let config;
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
  const stop = (signal: string) => {
    gw.log.info({ signal }, 'shutting down');
    void gw.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`s3gate: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
