// Opens the configured listeners and hands every request to the pipeline. Owns the process
// lifecycle: the config in force, and a graceful close.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { closeAgents } from '../forward/forward.js';
import { handle } from './pipeline.js';
import { createLogger } from './log.js';

export interface Gateway {
  servers: Server[];
  /** actual bound addresses, in the order of config.listen (port 0 resolves here) */
  urls: string[];
  config(): GatewayConfig;
  setConfig(c: GatewayConfig): void;
  close(): Promise<void>;
  log: Logger;
}

export async function startGateway(initial: GatewayConfig, opts: { log?: Logger } = {}): Promise<Gateway> {
  let current = initial;
  const log = opts.log ?? createLogger(initial.log.level);
  const deps = { config: () => current, log };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handle(deps, req, res);
  const onContinue = (req: IncomingMessage, res: ServerResponse) => void handle(deps, req, res, true);
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const l of initial.listen) {
    const options = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000, maxHeaderSize: 16_384 };
    const server: Server = l.tls
      ? (createHttps({ ...options, cert: readFileSync(l.tls.cert), key: readFileSync(l.tls.key) }, onRequest) as unknown as Server)
      : createHttp(options, onRequest);
    server.on('checkContinue', onContinue);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(l.port, l.host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    urls.push(`${l.tls ? 'https' : 'http'}://${host}:${a.port}`);
    servers.push(server);
  }
  log.info({ listen: urls, upstreams: [...initial.upstreams.keys()], buckets: [...initial.buckets.keys()] }, 's3gate listening');
  return {
    servers,
    urls,
    log,
    config: () => current,
    setConfig: (c) => {
      current = c;
    },
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((r) => {
        s.close(() => r());
        s.closeIdleConnections();
      })));
      await closeAgents(current.upstreams.values());
    },
  };
}
