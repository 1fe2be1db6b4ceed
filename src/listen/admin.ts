// The admin listener: /metrics, /healthz, /readyz. One per gateway: in a single process beside
// the S3 listeners; with workers, in the primary, where /metrics answers for every worker.
import type { Server } from 'node:http';
import { createServer } from './node-http.js';
import { existsSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import type { GatewayConfig } from '../config/types.js';

export interface Admin {
  server: Server;
  url: string;
  /** /readyz answers 503 from now on: the gateway is draining */
  setDraining(): void;
  close(): Promise<void>;
}

export interface AdminSources {
  config(): GatewayConfig;
  /** the exposition text for the whole gateway */
  metrics(): Promise<string>;
  contentType: string;
}

export async function startAdmin(address: { host: string; port: number }, src: AdminSources): Promise<Admin> {
  let ready = { at: 0, ok: false, detail: {} as Record<string, string> };
  const probeUpstreams = async () => {
    if (Date.now() - ready.at < 5000) return ready;
    const detail: Record<string, string> = {};
    await Promise.all([...src.config().upstreams.values()].map(async (u) => {
      if (u.kind === 'local') {
        detail[u.name] = u.path && existsSync(u.path) ? 'ok' : 'path missing';
        return;
      }
      const port = Number(u.endpoint.port || (u.endpoint.protocol === 'https:' ? 443 : 80));
      detail[u.name] = await new Promise<string>((resolve) => {
        const s = connect({ host: u.connectAddress ?? u.endpoint.hostname, port, timeout: 2000 });
        s.once('connect', () => { s.destroy(); resolve('ok'); });
        s.once('timeout', () => { s.destroy(); resolve('timeout'); });
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
    }));
    ready = { at: Date.now(), ok: Object.values(detail).every((v) => v === 'ok'), detail };
    return ready;
  };

  let draining = false;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      void src.metrics().then((body) => {
        res.writeHead(200, { 'content-type': src.contentType });
        res.end(body);
      });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (path === '/readyz') {
      void probeUpstreams().then((r) => {
        const ok = r.ok && !draining;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ready: ok, draining, upstreams: r.detail }) + '\n');
      });
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    server,
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    setDraining: () => {
      draining = true;
    },
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}
