// Sends the re-signed request to the provider with undici: one keep-alive dispatcher per
// upstream, request and response bodies streamed with backpressure, an abort on either side
// ends the other.
import { readFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, util, type Dispatcher } from './undici.js';
import { headerName, headerStrings, type HeaderList } from './header-name.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Upstream } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import type { OutboundRequest } from '../resign/request.js';
import { queryString } from '../resign/request.js';
import { abortError, type Cancel } from './cancel.js';
import { redirectError } from '../rewrite/redirect.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * The provider's headers as undici handed them over, `[name, value, name, value, …]` (as
   * strings for a streamed answer), while nobody has asked for (and perhaps changed) the
   * `headers` object: the client's answer is written from these, and the object is never made
   * (docs/performance.md, "resp").
   */
  readonly rawHeaders?: HeaderList;
  body: Readable;
  /** the whole body, when it was small enough to read before answering (see SMALL_RESPONSE) */
  buffer?: Buffer;
}

// Answers up to this size (by Content-Length) are read whole before the client sees anything:
// they go out in one write, a mid-body failure is still retryable, and no stream objects are made.
const SMALL_RESPONSE = 64 * 1024;
// An answer with no body (HEAD, 204, 304, a PUT's 200): no Buffer of its own.
const EMPTY = Buffer.alloc(0);
const NO_HEADERS: Buffer[] = [];

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

/** Who hears how a provider request ended: the answer, or why there is none. Told once. */
export interface AnswerSink {
  answer(r: UpstreamResponse): void;
  fail(e: unknown): void;
}

/** forwardTo() with a promise of the answer, for callers that await it (the bucket modes, s3gate's own requests). */
export function forward(
  up: Upstream, req: OutboundRequest, headers: Record<string, string>, body: Readable | Buffer | null, signal: Cancel,
  observer?: ForwardObserver, refuseRedirects = false,
): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => forwardTo(up, req, headers, body, signal, { answer: resolve, fail: reject }, observer, refuseRedirects));
}

/**
 * One provider request. Idempotent requests without a body are retried on a connection error or
 * a 5xx answer, up to the upstream's `retries`; nothing has reached the client yet at that point.
 * `refuseRedirects`: a provider's redirect becomes the client's error (rewrite/redirect.ts), here
 * rather than in a layer of promises of its own around this one.
 *
 * The sink is told from the exchange's own callbacks, as the undici floor answers its client
 * from them: no promise, no microtask and no suspended caller per request (a client request's
 * answer is written from inside undici's onComplete; docs/performance.md, "Session 11: tail").
 * A retry or a redirect is taken up a microtask later, outside undici's callbacks.
 */
export function forwardTo(
  up: Upstream, req: OutboundRequest, headers: Record<string, string>, body: Readable | Buffer | null, signal: Cancel,
  sink: AnswerSink, observer?: ForwardObserver, refuseRedirects = false,
): void {
  new Attempts(up, req, headers, body, signal, sink, observer, refuseRedirects).start();
}

/**
 * A provider request's attempts, one object: the exchanges report to it (`answered`, `failed`),
 * where closures for each of those, the retry and the start were five functions and a context
 * per request.
 */
class Attempts {
  private readonly path: string;
  private readonly retriable: boolean;
  private attempt = 0;
  // The sink hears once, as a promise settles once, whatever an exchange's callbacks do later.
  private told = false;

  constructor(
    readonly up: Upstream, private readonly req: OutboundRequest, private readonly headers: Record<string, string>,
    private readonly body: Readable | Buffer | null, readonly signal: Cancel, private readonly sink: AnswerSink,
    readonly observer: ForwardObserver | undefined, private readonly refuseRedirects: boolean,
  ) {
    const qs = req.encodedQuery ?? queryString(req.query);
    this.path = qs ? `${req.path}?${qs}` : req.path;
    this.retriable = (body === null || Buffer.isBuffer(body)) && IDEMPOTENT.has(req.method);
  }

  start(): void {
    try {
      const req = this.req;
      dispatch(agentFor(this.up), { origin: req.origin, path: this.path, method: req.method as Dispatcher.HttpMethod, headers: this.headers, body: this.body }, this, performance.now());
    } catch (e) {
      this.failed(e);
    }
  }

  private resolve(r: UpstreamResponse): void {
    if (this.told) return;
    this.told = true;
    this.sink.answer(r);
  }

  reject(e: unknown): void {
    if (this.told) return;
    this.told = true;
    this.sink.fail(e);
  }

  private retry(): void {
    this.observer?.retry(this.up.name);
    void backoff(this.attempt++, this.signal).then(() => this.start());
  }

  answered(res: UpstreamResponse): void {
    const up = this.up;
    const last = !this.retriable || this.attempt >= up.retries;
    if (res.status >= 500) this.observer?.error(up.name, String(res.status));
    const again = !last && RETRYABLE_STATUS.has(res.status);
    const redirect = again || !this.refuseRedirects ? undefined : redirectError(res.status);
    if (!again && !redirect) return this.resolve(res);
    queueMicrotask(() => {
      try {
        if (again) {
          if (!res.buffer) res.body.destroy();
          return this.retry();
        }
        res.body.resume();
        this.observer?.error(up.name, 'redirect');
        this.reject(redirect);
      } catch (e) {
        this.reject(e);
      }
    });
  }

  failed(e: unknown): void {
    try {
      if (this.signal.aborted) return this.reject(e);
      const err = e as NodeJS.ErrnoException;
      // An S3Error from the body stream (a failed verification) is the client's fault, not ours.
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof S3Error) return this.reject(cause);
      if (err instanceof S3Error) return this.reject(err);
      const up = this.up;
      this.observer?.error(up.name, err.code ?? err.name ?? 'error');
      if (!this.retriable || this.attempt >= up.retries) return this.reject(new S3Error('ServiceUnavailable', 'The upstream storage service is unavailable. Please retry.', {}, 503));
      this.retry();
    } catch (x) {
      this.reject(x);
    }
  }
}

/**
 * A provider's answer. Its headers stay the raw Buffers undici handed over until someone asks for
 * them as an object (the bucket modes, post-object, migrate do; a plain forward does not), and an
 * answer read whole makes its stream only if someone asks for one.
 */
class ProviderAnswer implements UpstreamResponse {
  buffer?: Buffer;
  private stream?: Readable;
  private object?: IncomingHttpHeaders;
  constructor(readonly status: number, private readonly raw: HeaderList, body: Buffer | Readable) {
    if (Buffer.isBuffer(body)) this.buffer = body;
    else this.stream = body;
  }

  get headers(): IncomingHttpHeaders {
    return (this.object ??= util.parseHeaders(this.raw as (string | Buffer)[]) as IncomingHttpHeaders);
  }

  get rawHeaders(): HeaderList | undefined {
    return this.object === undefined ? this.raw : undefined;
  }

  get body(): Readable {
    if (!this.stream) {
      this.stream = Readable.from([this.buffer!]);
      delete this.buffer;
    }
    return this.stream;
  }
}

/** The Content-Length among undici's raw headers, read from its digits (NaN if none). */
export function contentLength(raw: readonly Buffer[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 14 || headerName(raw[i]!) !== 'content-length') continue;
    const v = raw[i + 1]!;
    if (v.length === 0 || v.length > 15) return NaN;
    let n = 0;
    for (let j = 0; j < v.length; j++) {
      const d = v[j]! - 48;
      if (d < 0 || d > 9) return NaN;
      n = n * 10 + d;
    }
    return n;
  }
  return NaN;
}

/**
 * One exchange through undici's dispatcher with a handler of our own: a small answer is
 * collected into one Buffer, a larger one becomes a Readable with backpressure (pause/resume of
 * the upstream socket). Cheaper per request than undici's request(), which makes a body stream,
 * a promise chain and an abort listener for every answer.
 *
 * It is undici 7's own handler interface (onConnect/onHeaders with raw header buffers), which
 * its core calls directly: the newer onRequestStart/onResponseStart interface is adapted to it
 * by a wrapper and a controller per request, and has the answer's headers and trailers parsed
 * into objects for it (docs/performance.md, "edge"). undici 8 keeps only the newer one. The
 * headers stay undici's raw Buffers (see ProviderAnswer). One object per exchange holds the state, where
 * closures would be six.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private abortUpstream?: (err?: Error) => void;
  private resumeUpstream?: () => void;
  private stream?: Readable;
  /** read whole (see SMALL_RESPONSE): the first chunk, and all of them once there is a second */
  private whole = false;
  private first?: Buffer;
  private chunks?: Buffer[];
  private size = 0;
  private status = 0;
  private raw = NO_HEADERS;
  private settled = false;
  private ended = false;
  /** the signal's listener; made in dispatch() and held in a local first (see there) */
  onAbort?: () => void;

  private readonly signal: Cancel;

  constructor(private readonly owner: Attempts, private readonly head: boolean, private readonly started: number) {
    this.signal = owner.signal;
  }

  reason(): Error {
    return (this.signal.reason as Error | undefined) ?? abortError();
  }

  abort(): void {
    this.abortUpstream?.(this.reason());
  }

  private done(): void {
    if (this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.signal.aborted) abort(this.reason());
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    // An informational answer (103 Early Hints) comes before the real one: nothing to pass on.
    if (statusCode < 200) return true;
    this.owner.observer?.duration(this.owner.up.name, (performance.now() - this.started) / 1000);
    this.status = statusCode;
    this.raw = raw;
    const len = contentLength(raw);
    if (this.head || statusCode === 204 || statusCode === 304 || (len >= 0 && len <= SMALL_RESPONSE)) {
      this.whole = true;
      return true;
    }
    this.resumeUpstream = resume;
    const stream = new Readable({
      read: () => this.resumeUpstream!(),
      destroy: (err, cb) => {
        if (!this.ended) this.abortUpstream!(err ?? abortError());
        this.done();
        cb(err);
      },
    });
    this.stream = stream;
    this.settled = true;
    // The raw headers are views of the socket read they came in (up to 64 KiB), which a stream
    // would hold for as long as it lasts: strings instead.
    this.owner.answered(new ProviderAnswer(statusCode, headerStrings(raw), stream));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.whole) {
      if (this.first === undefined) this.first = chunk;
      else (this.chunks ??= [this.first]).push(chunk);
      this.size += chunk.length;
      return true;
    }
    return this.stream ? this.stream.push(chunk) : true;
  }

  onComplete(): void {
    this.ended = true;
    this.done();
    if (this.whole) {
      this.settled = true;
      this.owner.answered(new ProviderAnswer(this.status, this.raw, this.chunks ? Buffer.concat(this.chunks, this.size) : this.first ?? EMPTY));
    } else this.stream?.push(null);
  }

  onError(err: Error): void {
    this.done();
    if (!this.settled) {
      this.settled = true;
      this.owner.failed(err);
    } else this.stream?.destroy(err);
  }
}

function dispatch(agent: Agent, opts: Dispatcher.DispatchOptions, owner: Attempts, started: number): void {
  const signal = owner.signal;
  const x = new Exchange(owner, opts.method === 'HEAD', started);
  if (signal.aborted) return owner.reject(x.reason());
  // Held in a local before it goes on the exchange: a function literal assigned straight to a
  // property (or made by a class field) is allocated in the old generation by V8, and from there
  // it kept each exchange and what it holds alive through every scavenge (a PUT promoted 224
  // against 120 B per request; test/listen/body-objects.test.ts).
  const onAbort = () => x.abort();
  x.onAbort = onAbort;
  signal.addEventListener('abort', onAbort, { once: true });
  agent.dispatch(opts, x);
}

function backoff(attempt: number, signal: Cancel): Promise<void> {
  const ms = Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
