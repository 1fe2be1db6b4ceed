// Fallback for (B) when nginx is not available: a minimal pass-through reverse proxy with
// http-proxy-3 and a keep-alive agent, no authentication. Run as its own process so its CPU
// and memory are its own.  node bench/node-proxy.mjs <listenPort> <upstreamPort>
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent, xfwd: false });
proxy.on('error', (_e, _req, res) => {
  if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502);
  res?.end?.();
});
const server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res));
server.listen(listenPort, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
  process.exit(0);
});
