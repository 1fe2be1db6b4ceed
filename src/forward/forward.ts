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

export async function forward(
  up: Upstream, req: OutboundRequest, headers: Record<string, string>, body: Readable | null, signal: AbortSignal,
): Promise<UpstreamResponse> {
  const qs = queryString(req.query);
  const path = qs ? `${req.path}?${qs}` : req.path;
  let res: Dispatcher.ResponseData;
  try {
    res = await agentFor(up).request({
      origin: req.origin,
      path,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body,
      signal,
    });
  } catch (e) {
    if (signal.aborted) throw e;
    const err = e as NodeJS.ErrnoException;
    // An S3Error from the body stream (a failed verification) is the client's fault, not ours.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof S3Error) throw cause;
    if (err instanceof S3Error) throw err;
    throw new S3Error('ServiceUnavailable', 'The upstream storage service is unavailable. Please retry.', {}, 503);
  }
  return { status: res.statusCode, headers: res.headers, body: res.body as unknown as Readable };
}
