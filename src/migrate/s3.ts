// The few S3 calls the copier makes, on top of callUpstream: errors normalised to one shape
// whether the upstream is a socket (an XML error body) or the in-process local store (a throw).
import { Readable } from 'node:stream';
import type { Upstream } from '../config/types.js';
import { callUpstream, text, type UpstreamCall } from '../forward/client.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { S3Error } from '../s3/errors.js';

/** One side of a migration: an upstream and the provider's bucket name on it. */
export interface Endpoint {
  up: Upstream;
  bucket: string;
}

export class UpstreamError extends Error {
  constructor(readonly operation: string, readonly status: number, readonly code: string, message?: string) {
    super(`${operation}: ${status} ${code}${message ? ` (${message})` : ''}`);
    this.name = 'UpstreamError';
  }

  /** Worth another try: the provider or the network, not the request. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.code === 'SlowDown' || this.code === 'RequestTimeout' || this.status === 0;
  }
}

export async function send(ep: Endpoint, call: Omit<UpstreamCall, 'bucket'>): Promise<UpstreamResponse> {
  try {
    return await callUpstream(ep.up, { ...call, bucket: ep.bucket });
  } catch (e) {
    if (e instanceof S3Error) return errorResponse(e);
    if (call.signal?.aborted) throw e;
    throw new UpstreamError(call.operation, 0, 'NetworkError', (e as Error).message);
  }
}

function errorResponse(e: S3Error): UpstreamResponse {
  return { status: e.status, headers: { 'x-s3gate-error-code': e.code }, body: Readable.from([]) };
}

/** Turns a non-2xx response into an UpstreamError, reading its (small) XML body for the code. */
export async function fail(operation: string, res: UpstreamResponse): Promise<never> {
  let code = String(res.headers['x-s3gate-error-code'] ?? '');
  let message = '';
  try {
    const doc = await text(res);
    code ||= /<Code>([^<]*)<\/Code>/.exec(doc)?.[1] ?? '';
    message = /<Message>([^<]*)<\/Message>/.exec(doc)?.[1] ?? '';
  } catch {
    // the body is only for the message
  }
  throw new UpstreamError(operation, res.status, code || `HTTP${res.status}`, message);
}

export function drain(body: Readable): void {
  body.resume();
  body.on('error', () => {});
}

export function header(res: UpstreamResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** `"abc"` and `abc` are the same ETag; providers differ on the quotes. */
export function bareEtag(etag: string | undefined): string {
  return (etag ?? '').trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** `fn` again on transient failures, with backoff; the wait holds the process open and ends on `signal`. */
export async function withRetry<T>(attempts: number, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted || i >= attempts || !(e instanceof UpstreamError && e.transient)) throw e;
      // Not unref()ed: with nothing else in flight, an unref()ed timer let Node's event loop
      // empty and the process exit 0 in the middle of a retry.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, 250 * 2 ** i);
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) throw e;
    }
  }
}
