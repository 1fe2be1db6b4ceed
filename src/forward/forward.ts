// Sends the re-signed request to the provider with undici: one keep-alive dispatcher per
// upstream, request and response bodies streamed with backpressure, an abort on either side
// ends the other.
import { readFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { Upstream } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import type { OutboundRequest } from '../resign/request.js';
import { queryString } from '../resign/request.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

const agents = new WeakMap<Upstream, Agent>();

function fixedLookup(address: string): LookupFunction {
  const family = address.includes(':') ? 6 : 4;
  return ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  }) as unknown as LookupFunction;
}

export function agentFor(up: Upstream): Agent {
  let a = agents.get(up);
  if (!a) {
    const tls = up.profile.tls ?? { verify: true };
    a = new Agent({
      keepAliveTimeout: 30_000,
      connections: 256,
      headersTimeout: up.timeouts.headers,
      bodyTimeout: up.timeouts.body,
      connect: {
        timeout: up.timeouts.connect,
        rejectUnauthorized: tls.verify !== false,
        ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
        ...(up.connectAddress ? { lookup: fixedLookup(up.connectAddress) } : {}),
      },
    });
    agents.set(up, a);
  }
  return a;
}

export async function closeAgents(ups: Iterable<Upstream>): Promise<void> {
  await Promise.all([...ups].map((u) => agents.get(u)?.close()));
}

export interface ForwardObserver {
  /** time to response headers, per attempt that got one */
  duration(upstream: string, seconds: number): void;
  error(upstream: string, kind: string): void;
  retry(upstream: string): void;
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'DELETE']);

/**
 * One provider request. Idempotent requests without a body are retried on a connection error or
 * a 5xx answer, up to the upstream's `retries`; nothing has reached the client yet at that point.
 */
export async function forward(
  up: Upstream, req: OutboundRequest, headers: Record<string, string>, body: Readable | Buffer | null, signal: AbortSignal,
  observer?: ForwardObserver,
): Promise<UpstreamResponse> {
  const qs = queryString(req.query);
  const path = qs ? `${req.path}?${qs}` : req.path;
  const retriable = (body === null || Buffer.isBuffer(body)) && IDEMPOTENT.has(req.method);
  for (let attempt = 0; ; attempt++) {
    const last = !retriable || attempt >= up.retries;
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await agentFor(up).request({ origin: req.origin, path, method: req.method as Dispatcher.HttpMethod, headers, body, signal });
    } catch (e) {
      if (signal.aborted) throw e;
      const err = e as NodeJS.ErrnoException;
      // An S3Error from the body stream (a failed verification) is the client's fault, not ours.
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof S3Error) throw cause;
      if (err instanceof S3Error) throw err;
      observer?.error(up.name, err.code ?? err.name ?? 'error');
      if (last) throw new S3Error('ServiceUnavailable', 'The upstream storage service is unavailable. Please retry.', {}, 503);
      observer?.retry(up.name);
      await backoff(attempt, signal);
      continue;
    }
    observer?.duration(up.name, (performance.now() - started) / 1000);
    if (res.statusCode >= 500) observer?.error(up.name, String(res.statusCode));
    if (!last && RETRYABLE_STATUS.has(res.statusCode)) {
      await res.body.dump().catch(() => undefined);
      observer?.retry(up.name);
      await backoff(attempt, signal);
      continue;
    }
    return { status: res.statusCode, headers: res.headers, body: res.body as unknown as Readable };
  }
}

function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  const ms = Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
