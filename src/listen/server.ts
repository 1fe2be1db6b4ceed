// Opens the configured listeners and hands every request to the pipeline. Owns the process
// lifecycle: the config in force (and its reload), the admin listener, and a graceful close. With
// workers (src/workers/), each worker runs one of these without the admin listener.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttp } from './node-http.js';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig, Listener } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { closeAgents } from '../forward/forward.js';
import { prepareLocalPaths } from '../forward/local.js';
import { Limiter } from '../limits/limiter.js';
import type { PipelineDeps } from './pipeline.js';
import { startAdmin, type Admin } from './admin.js';
import { Metrics } from '../metrics/metrics.js';
import { handle } from './pipeline.js';
import { errorXml, S3Error } from '../s3/errors.js';
import { createLogger } from './log.js';
import { requestStarted, watchBursts } from './memory.js';

export interface Gateway {
  servers: Server[];
  /** actual bound addresses, in the order of config.listen (port 0 resolves here) */
  urls: string[];
  /** the admin listener's URL, when configured */
  adminUrl?: string;
  metrics: Metrics;
  config(): GatewayConfig;
  /** swap the config in force; in-flight requests finish under the one they started with */
  setConfig(c: GatewayConfig): void;
  /** re-read the config file; an invalid one is refused and the old one stays */
  reload(): { ok: true } | { ok: false; error: string };
  /** stop accepting, let in-flight requests finish within the shutdown deadline, then close */
  close(): Promise<void>;
  log: Logger;
}

function serverOptions(cfg: GatewayConfig) {
  return {
    requestTimeout: 0,
    // Slowloris: a client must finish its headers within this time.
    headersTimeout: cfg.timeouts.headers,
    // No keep-alive timer of Node's own: between requests the idle timeout below applies, as it
    // does during one. Node's server otherwise arms a keep-alive timer when each answer finishes
    // and puts the idle one back at the next request: two timers (a Timeout and a bound function
    // each) per request, 0.3–0.55 KiB of V8 heap (`node bench/alloc.mjs gw gw:OTHER/dist`), and
    // `timeouts.idle` did not reach an idle keep-alive connection, which closed after 66 s.
    keepAliveTimeout: 0,
    maxHeaderSize: 16_384,
    // The headers timeout is enforced by a periodic sweep; the default sweep (30 s) is too coarse.
    connectionsCheckingInterval: Math.min(1000, cfg.timeouts.headers),
  };
}

/** The response a connection's latest request is being answered with. */
const ANSWERING = Symbol('s3gate.answering');
type AnsweringSocket = Socket & { [ANSWERING]?: ServerResponse };

/**
 * The client sent its whole request and s3gate has not begun the answer: it waits on the provider
 * (or the local store's copy), and the client on it. That socket is quiet but not idle, and
 * closing it dropped the request with no answer, logged as the client's hang-up: RGW holding a
 * CreateBucket, a long copy. The provider's own timeouts (`upstreams.*.timeouts`) bound the wait
 * and end it in an S3 error; the idle timer starts again with the answer's first bytes.
 */
function waitingOnUs(socket: AnsweringSocket): boolean {
  const res = socket[ANSWERING];
  return res !== undefined && !res.headersSent && !res.writableEnded && res.req.complete;
}

/** The certificate and key the config validated (src/config/tls-files.ts), not the files as they are now. */
function tlsFiles(l: Listener): { cert: Buffer; key: Buffer } {
  return l.tls!.pem;
}

/** How long a close waits for the requests it cut to write their access lines. */
const LOG_GRACE_MS = 2000;

export interface GatewayOptions {
  log?: Logger;
  /** per-key limits kept elsewhere (a worker's: the primary's host-wide ones) */
  limiter?: PipelineDeps['limiter'];
  /** bind each listener with SO_REUSEPORT, beside the other workers' sockets on the same port */
  reusePort?: boolean;
  /** a worker: the primary logs the gateway's start */
  quiet?: boolean;
}

export async function startGateway(initial: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  let current = initial;
  const log = opts.log ?? createLogger(initial.log.level);
  const metrics = new Metrics();
  let cutting = false;
  const inFlight = () => metrics.inflight.snapshot().series[0]?.value ?? 0;
  const deps: PipelineDeps = { config: () => current, log, metrics, limiter: opts.limiter ?? new Limiter(), cutting: () => cutting };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requestStarted();
    (req.socket as AnsweringSocket)[ANSWERING] = res;
    void handle(deps, req, res);
  };
  const onContinue = (req: IncomingMessage, res: ServerResponse) => {
    requestStarted();
    (req.socket as AnsweringSocket)[ANSWERING] = res;
    void handle(deps, req, res, true);
  };
  watchBursts();
  for (const f of prepareLocalPaths(initial.upstreams.values())) log.error({ upstream: f.upstream, error: f.error }, 'cannot create the local store directory');
  const servers: Server[] = [];
  const urls: string[] = [];
  const listen = async (server: Server, host: string, port: number): Promise<AddressInfo> => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // `exclusive` keeps a cluster worker from asking its primary for the handle: with
      // SO_REUSEPORT each worker binds its own socket and the kernel spreads connections.
      server.listen(opts.reusePort ? { port, host, reusePort: true, exclusive: true } : { port, host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  };
  const urlOf = (a: AddressInfo, tls: boolean) => `${tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;

  for (const l of initial.listen) {
    const options = serverOptions(initial);
    const server: Server = l.tls ? (createHttps({ ...options, ...tlsFiles(l) }, onRequest) as unknown as Server) : createHttp(options, onRequest);
    server.on('checkContinue', onContinue);
    // Any other Expect value (empty, unknown) proceeds, as S3 ignores it; without a listener Node
    // answers 417 on its own.
    server.on('checkExpectation', onRequest);
    // What Node's parser refuses (bad method token, header bytes or size, CL with TE) still gets
    // an S3 error document a client can read, then the connection closes.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      const [line, error] = err.code === 'HPE_HEADER_OVERFLOW'
        ? ['431 Request Header Fields Too Large', new S3Error('InvalidRequest', 'Your request headers are too large.', {}, 431)]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? ['400 Bad Request', new S3Error('RequestTimeout')]
          : ['400 Bad Request', new S3Error('InvalidRequest', 'The request could not be parsed.')];
      const body = errorXml(error, '/', 'PARSE');
      socket.end(`HTTP/1.1 ${line}\r\ncontent-type: application/xml\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      // A client that keeps sending (a slowloris) does not get to hold the socket open.
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    // An idle socket (no bytes either way) is closed; a slow but moving transfer is not.
    server.setTimeout(initial.timeouts.idle, (socket) => {
      if (!waitingOnUs(socket as AnsweringSocket)) socket.destroy();
    });
    server.maxHeadersCount = 200;
    servers.push(server);
    urls.push(urlOf(await listen(server, l.host, l.port), !!l.tls));
  }

  let admin: Admin | undefined;
  if (initial.admin) {
    admin = await startAdmin(initial.admin, { config: () => current, metrics: () => metrics.registry.metrics(), contentType: metrics.registry.contentType });
  }
  const adminUrl = admin?.url;
  if (!opts.quiet) log.info({ listen: urls, admin: adminUrl, upstreams: [...initial.upstreams.keys()], buckets: [...initial.buckets.keys()] }, 's3gate listening');

  const retired = new Set<GatewayConfig>();
  const setConfig = (c: GatewayConfig) => {
    const old = current;
    // All of the config or none of it: whatever can refuse it runs before anything changes. The
    // certificates follow the new config on the listeners that have them; each pair is made
    // into a context first (the config's validation did the same, so this only fails if that
    // was skipped), and only then do the listeners and the config in force change.
    const certs: [HttpsServer, { cert: Buffer; key: Buffer }][] = [];
    initial.listen.forEach((l, i) => {
      const nl = c.listen[i];
      if (!l.tls || !nl?.tls) return;
      createSecureContext(tlsFiles(nl));
      certs.push([servers[i] as unknown as HttpsServer, tlsFiles(nl)]);
    });
    for (const [server, pair] of certs) server.setSecureContext(pair);
    current = c;
    for (const f of prepareLocalPaths(c.upstreams.values())) log.error({ upstream: f.upstream, error: f.error }, 'cannot create the local store directory');
    if (c.listen.length !== initial.listen.length || c.listen.some((l, i) => l.host !== initial.listen[i]?.host || l.port !== initial.listen[i]?.port)) {
      log.warn('listen addresses changed: they take effect on restart');
    }
    // The old config's connection pools close once its in-flight requests had time to finish.
    retired.add(old);
    setTimeout(() => {
      retired.delete(old);
      void closeAgents(old.upstreams.values());
    }, Math.max(old.timeouts.shutdown, 60_000)).unref();
  };

  return {
    servers, urls, log, metrics,
    ...(adminUrl ? { adminUrl } : {}),
    config: () => current,
    setConfig,
    reload: () => {
      if (!current.source) return { ok: false, error: 'no config file to reload' };
      try {
        const next = loadConfig(current.source, current.listenFlags ? { listen: current.listenFlags } : {});
        setConfig(next);
        metrics.reloads.inc({ result: 'ok' });
        log.info({ keys: next.keys.size, upstreams: [...next.upstreams.keys()], buckets: [...next.buckets.keys()] }, 'config reloaded');
        return { ok: true };
      } catch (e) {
        metrics.reloads.inc({ result: 'refused' });
        const error = (e as Error).message;
        log.error({ error }, 'config reload refused; the previous config stays in force');
        return { ok: false, error };
      }
    },
    close: async () => {
      admin?.setDraining();
      const deadline = setTimeout(() => {
        // The access lines of what this cuts say so (`cut: shutdown`).
        cutting = true;
        servers.forEach((s) => s.closeAllConnections());
      }, current.timeouts.shutdown);
      deadline.unref();
      // Keep-alive connections become idle as their last response ends: close them then.
      const sweep = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100);
      sweep.unref();
      await Promise.all(servers.map((s) => new Promise<void>((r) => {
        s.close(() => r());
        s.closeIdleConnections();
      })));
      clearTimeout(deadline);
      clearInterval(sweep);
      // A request whose connection the deadline closed ends a few ticks later (its provider
      // request cancelled, its file let go), and only then writes its access line: the server
      // closes first, and the process exited before the line was written.
      for (const until = Date.now() + LOG_GRACE_MS; inFlight() > 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
      await admin?.close();
      await closeAgents(current.upstreams.values());
      for (const c of retired) await closeAgents(c.upstreams.values());
    },
  };
}
