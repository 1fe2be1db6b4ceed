// The config a primary sends its workers, read back from its text. Its own module so that the
// primary, which never serves a request, does not load the request pipeline that worker.ts starts
// (docs/performance.md, "idle").
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { buildConfig, ConfigError, protectReferences } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';

/** The config a primary sent: loadConfig's steps, from text the primary has read and validated. */
export function configFromText(text: string, file: string, listen?: string[]): GatewayConfig {
  let doc: unknown;
  try {
    doc = parseYaml(protectReferences(text));
  } catch (e) {
    throw new ConfigError([`${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  const cfg = buildConfig(doc, dirname(resolve(file)), listen?.length ? { listen } : {});
  cfg.source = resolve(file);
  if (listen?.length) cfg.listenFlags = listen;
  return cfg;
}
