// A worker of a multi-process gateway: serves the listeners with its own pipeline, on the config
// text the primary sends (the primary has validated it, so every worker runs the same one), and
// asks the primary for per-key limit slots. It drains on the primary's word, on SIGTERM/SIGINT
// sent to the process group, and when the primary is gone.
import type { GatewayConfig } from '../config/types.js';
import { startGateway, type Gateway } from '../listen/server.js';
import { createLogger } from '../listen/log.js';
import { ID_PREFIX } from '../listen/pipeline.js';
import { configFromText } from './config-text.js';
import { RemoteLimiter } from './host-limits.js';
import { ENV_INDEX, ENV_PORTS, ENV_REUSE_PORT, isMessage, type FromWorker, type ToWorker } from './messages.js';

/**
 * What a worker serves: no admin listener (the primary answers /metrics for the whole gateway),
 * and the ports the first worker bound, so `port: 0` means one port for all.
 */
export function forWorker(cfg: GatewayConfig, ports: number[] | undefined): GatewayConfig {
  const { admin: _admin, ...rest } = cfg;
  if (!ports) return rest;
  return { ...rest, listen: rest.listen.map((l, i) => (l.port === 0 && ports[i] ? { ...l, port: ports[i] } : l)) };
}

export async function runWorker(): Promise<number> {
  const index = Number(process.env[ENV_INDEX]);
  const reusePort = process.env[ENV_REUSE_PORT] === '1';
  const ports = process.env[ENV_PORTS] ? process.env[ENV_PORTS].split(',').map(Number) : undefined;
  const send = (m: FromWorker) => {
    if (process.connected) process.send!(m);
  };
  const limiter = new RemoteLimiter(send);
  let gw: Gateway | undefined;
  let gotFirst: (m: Extract<ToWorker, { s3gate: 'config' }>) => void;
  const first = new Promise<Extract<ToWorker, { s3gate: 'config' }>>((r) => (gotFirst = r));
  let draining = false;
  const drain = () => {
    if (draining) return;
    draining = true;
    if (!gw) process.exit(0);
    void gw.close().then(() => process.exit(0));
  };

  process.on('message', (m: unknown) => {
    if (!isMessage<ToWorker>(m)) return;
    switch (m.s3gate) {
      case 'config':
        if (!gw) return gotFirst(m);
        try {
          gw.setConfig(forWorker(configFromText(m.text, m.file, m.listen), ports));
          send({ s3gate: 'reloaded', seq: m.seq, ok: true });
        } catch (e) {
          gw.log.error({ error: (e as Error).message }, 'config reload refused by this worker; its previous config stays');
          send({ s3gate: 'reloaded', seq: m.seq, ok: false, error: (e as Error).message });
        }
        return;
      case 'metrics':
        if (gw) send({ s3gate: 'metrics', id: m.id, snapshot: gw.metrics.registry.snapshot() });
        return;
      case 'slot':
        return limiter.answer(m);
      case 'drain':
        return drain();
    }
  });
  process.once('SIGTERM', drain);
  process.once('SIGINT', drain);
  process.once('disconnect', drain);
  send({ s3gate: 'hello' });

  const m = await first;
  const cfg = configFromText(m.text, m.file, m.listen);
  const log = createLogger(cfg.log.level, undefined, { shared: true }).child({ worker: index });
  gw = await startGateway(forWorker(cfg, ports), { log, limiter, reusePort, quiet: true });
  log.info({ pid: process.pid, listen: gw.urls, reqIdPrefix: ID_PREFIX }, 'worker listening');
  send({ s3gate: 'listening', urls: gw.urls, reqIdPrefix: ID_PREFIX });
  return -1;
}
