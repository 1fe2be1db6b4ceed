// One request's walk through the stages: addressing → authenticate → authorize → route →
// resign → forward → rewrite. Each stage is a call into its folder; this file only orders them,
// counts what happened, and turns whatever they throw into the S3 error document.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { resolveAddress, type Address } from '../addressing/resolve.js';
import { signedWith, type Authenticated, type AuthInput } from '../authenticate/index.js';
import { authenticateRequest, limitKey, limitLabel, principalName } from '../sts/inbound.js';
import { isStsRequest, serveSts } from '../sts/endpoint.js';
import type { Operation } from '../authorize/operation.js';
import { authorizeView } from '../authorize/grants.js';
import { copySourceHeader, copySourceParts, requestView, type RequestView } from '../authorize/view.js';
import { authorizedDeleteBody, deniedEntries, deniedResult } from '../authorize/delete-objects.js';
import { replacedBody } from '../payload/replaced.js';
import { providerLocation } from '../route/location.js';
import { checkPartCopySource, providerCopyConditions, providerIfMatch, requireCheckedConditions, uncheckedPartCopy } from '../route/conditions.js';
import { requireKnownSubresources } from '../route/provider-support.js';
import { requireSignedOperationV2 } from '../authorize/signed-operation.js';
import { anonymousAccess } from '../authorize/anonymous.js';
import { findRoute, type Route } from '../route/route.js';
import { afterBody } from './linger.js';
import { CHANGED_WHERE_IT_IS, serveMigrate, serveMirror, type ServeContext } from '../route/modes.js';
import { listBucketsAnswer } from '../route/list-buckets.js';
import { send, sendTo, type OutgoingBody, type SendRequest } from '../forward/send.js';
import type { AnswerSink, ForwardObserver, UpstreamResponse } from '../forward/forward.js';
import { RequestCancel, type Cancel } from '../forward/cancel.js';
import { preflight, responseCors } from '../cors/cors.js';
import type { Limiter, LimitKind } from '../limits/limiter.js';
import type { Metrics } from '../metrics/metrics.js';
import { S3Error, errorXml, isS3Error } from '../s3/errors.js';
import { parsePresignedQuery, parseQuery } from '../signing/sigv4.js';
import { lowerCase } from '../s3/names.js';
import { inboundBody, needsWholeBody, readSmall, SMALL_BODY, wholeBody, type BodySink, type InboundBody } from './body.js';
import { processBodyBudget } from '../limits/body-budget.js';
import { clientHost } from './forwarded.js';
import { respond, respondXml, type VerifiedChecksums } from './respond.js';
import { claimedAccessKeyId, writeAccess } from './access-log.js';
import { answerPost, receivePostForm, type PostUpload } from './post-object.js';
import { s3Spelled } from '../forward/header-name.js';

export interface RequestContext {
  id: string;
  /** performance.now() when the request came in */
  started: number;
  op?: Operation;
  address?: Address;
  auth?: Authenticated;
  route?: Route;
  bytesIn: number;
  bytesOut: number;
  status?: number;
  error?: string;
  /** headers every answer carries, errors included: the request id and the bucket's CORS */
  replyHeaders: Record<string, string>;
  /** the client asked for a byte range */
  ranged?: boolean;
  /** gives the key's limiter slot back */
  release?: () => void;
  /** the provider's request id on an error it answered */
  upstreamId?: string;
  /** the provider's error code on an error it answered */
  upstreamError?: string;
}

/**
 * One request: what the access line and the metrics tell (the fields of RequestContext), and the
 * exchange with the client. A class, so that every field is in the object from its start: a
 * literal of five fields that the stages then grew to fourteen kept the rest in a property array,
 * copied as it grew. It is also the provider answer's sink (forward.ts): the answer is written
 * from the exchange's own callbacks, with no promise or suspended function between.
 */
class Context implements RequestContext, AnswerSink {
  readonly started = performance.now();
  op?: Operation;
  address?: Address;
  auth?: Authenticated;
  route?: Route;
  bytesIn = 0;
  bytesOut = 0;
  status?: number;
  error?: string;
  // Given to each writeHead rather than res.setHeader: Node's merge of the two costs more.
  readonly replyHeaders: Record<string, string>;
  ranged?: boolean;
  release?: () => void;
  upstreamId?: string;
  upstreamError?: string;
  completeBody?: Buffer;
  verifiedBody?: VerifiedChecksums;
  deniedDeletes?: string;
  /** ends the provider request when the client goes away */
  readonly cancel = new RequestCancel();
  /** the pipeline's work for this request is over (the access line waits for the exchange too) */
  private handled = false;
  /** run() has not returned: we are inside the server's 'request' event */
  front = true;
  private logged = false;

  constructor(
    readonly id: string, readonly deps: PipelineDeps, readonly cfg: GatewayConfig, readonly req: IncomingMessage, readonly res: ServerResponse,
  ) {
    this.replyHeaders = { 'x-amz-request-id': id };
  }

  /** The pipeline is done with the request: the access line once the exchange is over too. */
  ended(): void {
    this.handled = true;
    if (this.res.writableFinished || this.res.destroyed) this.log();
  }

  /** Whatever a stage threw or a wait rejected with, as the S3 error the client reads. */
  failed(e: unknown): void {
    const cors = providerCors(this, e);
    if (cors === undefined) return this.failedNow(e);
    void cors.then((h) => {
      if (h !== undefined) Object.assign(this.replyHeaders, h);
      this.failedNow(e);
    });
  }

  private failedNow(e: unknown): void {
    try {
      sendError(this, this.req, this.res, e, this.deps.log);
    } finally {
      this.ended();
    }
  }

  /**
   * The answer's 'close': a client that went away mid-transfer ends the upstream request too, the
   * key's limiter slot is given back, and the access line is written once the pipeline is done.
   */
  closed(): void {
    if (!this.res.writableFinished) this.cancel.abort();
    this.release?.();
    if (this.handled) this.log();
  }

  private log(): void {
    if (this.logged) return;
    this.logged = true;
    finish(this.deps, this, this.req, this.res);
  }

  /** The request ends when `p` does: a tail that waits (a form's answer, a mode, a streamed body). */
  after(p: Promise<void>): void {
    p.then(() => this.ended(), (e: unknown) => this.failed(e));
  }

  /** A wait whose continuation hands the request's end on itself: only its failure ends it here. */
  waiting(p: Promise<unknown>): void {
    p.then(undefined, (e: unknown) => this.failed(e));
  }

  /** The provider's answer to a plain route, straight from the exchange's callbacks. */
  answer(r: UpstreamResponse): void {
    let streaming: Promise<void> | undefined;
    try {
      streaming = respond(this.cfg, this, this.address!, this.req, this.res, this.route!, this.op!, r, this.replyHeaders);
    } catch (e) {
      return this.failed(e);
    }
    if (streaming) this.after(streaming);
    else this.ended();
  }

  fail(e: unknown): void {
    if (this.front) this.failedSoon(e);
    else this.failed(e);
  }

  /**
   * A failure in the front, answered a microtask later, as the rejection of an async run() was:
   * inside the 'request' event Node has not yet marked a request without a body complete, and
   * sendError would close a keep-alive connection that is in sync (test/listen/idle.test.ts).
   */
  failedSoon(e: unknown): void {
    queueMicrotask(() => this.failed(e));
  }
}

export interface PipelineDeps {
  config: () => GatewayConfig;
  log: Logger;
  metrics: Metrics;
  /** per-key limits: this process's own, or a worker's view of the primary's host-wide ones */
  limiter: { acquire(...a: Parameters<Limiter['acquire']>): ReturnType<Limiter['acquire']> | Promise<ReturnType<Limiter['acquire']>> };
  /** the shutdown deadline has passed: the connections still open are being closed */
  cutting?: () => boolean;
}

// Refusals counted as authentication/authorization failures, by their S3 code.
const AUTH_FAILURES = new Set([
  'AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'RequestTimeTooSkewed', 'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError', 'XAmzContentSHA256Mismatch', 'ExpiredToken', 'InvalidToken',
]);

/**
 * A header map with nothing inherited, as Object.create(null) gives, but with V8's fast
 * properties: Object.create(null) starts in dictionary mode, a hash table of about 1 KiB per
 * request that every header lookup then probes (`node bench/alloc.mjs`). Its prototype is an
 * empty object with no prototype, so a header named `constructor` or `__proto__` is an own
 * property like any other and a missing one is undefined.
 */
const HeaderMap = function HeaderMap() {} as unknown as new () => Record<string, string | string[] | undefined>;
HeaderMap.prototype = Object.create(null);

/**
 * Lowercased names, repeated headers kept apart as arrays (SigV4's canonical headers need every
 * value). Built straight from rawHeaders: one pass, where req.headers / headersDistinct would
 * each build their own object first. Each name is lower-cased once per process (s3/names.ts).
 */
function lowerHeaders(req: IncomingMessage): Record<string, string | string[] | undefined> {
  const out = new HeaderMap();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const k = lowerCase(raw[i]!);
    const v = raw[i + 1]!;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

const observers = new WeakMap<Metrics, ForwardObserver>();
function observer(m: Metrics): ForwardObserver {
  let o = observers.get(m);
  if (!o) observers.set(m, (o = makeObserver(m)));
  return o;
}

function makeObserver(m: Metrics): ForwardObserver {
  return {
    duration: (upstream, s) => m.upstreamDuration.observeAt(s, upstream),
    error: (upstream, kind) => m.upstreamErrors.inc({ upstream, kind }),
    retry: (upstream) => m.upstreamRetries.inc({ upstream }),
  };
}

// The limiter's refusals counted: one function per registry, told the key, not a closure per request.
const throttleCounters = new WeakMap<Metrics, (kind: LimitKind, key: string) => void>();
function throttled(m: Metrics): (kind: LimitKind, key: string) => void {
  let f = throttleCounters.get(m);
  if (!f) throttleCounters.set(m, (f = (kind, key) => m.throttled.inc({ limit: kind, key: limitLabel(key) })));
  return f;
}

// Request ids: a random per-process prefix and a counter; unique across replicas without a
// random draw per request.
export const ID_PREFIX = randomBytes(4).toString('hex').toUpperCase();
let idCounter = 0;
const PREFIX_CODES = [...ID_PREFIX].map((c) => c.charCodeAt(0));
const HEX_CODES = [...'0123456789ABCDEF'].map((c) => c.charCodeAt(0));

/**
 * The prefix and the counter in eight upper-case hex digits, made as one string: toString(16),
 * toUpperCase, padStart and the concatenation made four (186 against 33 B, 88 against 21 ns).
 */
export function requestId(n: number): string {
  const p = PREFIX_CODES;
  const h = HEX_CODES;
  return String.fromCharCode(
    p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!,
    h[n >>> 28]!, h[(n >>> 24) & 15]!, h[(n >>> 20) & 15]!, h[(n >>> 16) & 15]!, h[(n >>> 12) & 15]!, h[(n >>> 8) & 15]!, h[(n >>> 4) & 15]!, h[n & 15]!,
  );
}

/**
 * One request, from its headers to its answer. Nothing here is async: run() is the synchronous
 * front, and the request waits only where it must (docs/performance.md, "Session 11: tail").
 */
export function handle(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse, expectContinue = false): void {
  const ctx = new Context(requestId(idCounter++ >>> 0), deps, deps.config(), req, res);
  deps.metrics.inflight.inc();
  // One 'close' listener does all the end-of-exchange work (Context.closed).
  res.on('close', () => ctx.closed());
  try {
    run(ctx, expectContinue);
  } catch (e) {
    ctx.failedSoon(e);
  }
  ctx.front = false;
}

/**
 * The request's front, synchronous from addressing to the re-signed request, so that whatever a
 * stage throws reaches handle() as it is thrown. Each path hands the request's end on exactly
 * once: ctx.ended() when it answered already, ctx.after() a tail's promise, ctx.waiting() a wait
 * whose continuation goes on (a form, a worker's limiter slot, a body), or the provider's
 * exchange, which tells ctx (Context.answer, Context.fail). Nothing may throw after that.
 */
function run(ctx: Context, expectContinue: boolean): void {
  const { cfg, req, res } = ctx;
  const method = req.method ?? 'GET';
  const headers = lowerHeaders(req);
  ctx.ranged = headers.range !== undefined;
  const host = clientHost(cfg, req, headers);
  if (!host) throw new S3Error('InvalidRequest', 'Missing Host header');
  const address = resolveAddress(cfg, host, req.url ?? '/');
  ctx.address = address;
  const origin = typeof headers.origin === 'string' ? headers.origin : undefined;

  if (method === 'OPTIONS') {
    // Preflight carries no signature, by design of CORS: the bucket's rules alone decide.
    const route = address.bucket ? findRoute(cfg, address.bucket) : undefined;
    ctx.op = PREFLIGHT;
    // A bucket whose CORS s3gate does not hold: its rules are the provider's (PutBucketCors), which
    // already decide the Access-Control-* headers of the actual request's answer.
    if (route && !route.route.cors && route.upstream.kind !== 'local') return preflightAtProvider(ctx, route, address, headers);
    const h = preflight(address.bucket ? route?.route.cors : cfg.sts?.cors, origin, headers['access-control-request-method'] as string | undefined, headers['access-control-request-headers'] as string | undefined);
    ctx.status = 200;
    res.writeHead(200, s3Spelled({ ...ctx.replyHeaders, ...h, 'content-length': 0 }));
    res.end();
    return ctx.ended();
  }

  // STS's Query API lives at the root of s3gate's own domains (src/sts/).
  if (!address.bucket && isStsRequest(method, headers, address.rawQuery)) {
    return ctx.after(serveSts({ cfg, metrics: ctx.deps.metrics, log: ctx.deps.log }, ctx, req, res, { method, host, rawPath: address.rawPath, rawQuery: address.rawQuery, headers, expectContinue }));
  }

  // The one view of the request: what is authorized below is exactly what is forwarded.
  const scheme = signedWith(headers, address.rawQuery);
  // A presigned URL's query is read once, for the view and for its signature's canonical query.
  const presigned = scheme === 'v4-query' ? parsePresignedQuery(address.rawQuery, 'X-Amz-Signature') : undefined;
  const pairs = presigned === undefined ? parseQuery(address.rawQuery) : presigned.pairs;
  const view = requestView(method, address.bucket, address.key, pairs, headers, scheme === 'v4-query' || scheme === 'v2-query');
  ctx.op = view.operation;
  const corsRoute = address.bucket ? cfg.buckets.get(address.bucket) ?? cfg.buckets.get('*') : undefined;
  if (corsRoute?.cors) Object.assign(ctx.replyHeaders, responseCors(corsRoute.cors, origin, method));

  // Optional fields are set, not spread in: on Node 20 a spread into a literal measured about 4
  // times the cost of assigning the field, and its objects reached the old generation (8 major
  // GCs in 3 million objects, against none) (`node bench/literal-promotion.mjs`).
  const authInput: AuthInput = { method, host, rawPath: address.rawPath, rawQuery: address.rawQuery, query: pairs, presignedCanonical: presigned?.canonical, headers, now: new Date() };
  if (address.style !== 'path' && address.bucket) authInput.bucketInHost = address.bucket;
  // A browser form upload signs its fields, not the request: read up to its file, it is a
  // PutObject of the form's key from here on (post-object.ts).
  if (view.operation.name === 'PostObject' && address.bucket && address.key === undefined) {
    return formFirst(ctx, method, address, receivePostForm(cfg, req, res, headers, address, ctx, expectContinue, ctx.deps.metrics), expectContinue);
  }
  admit(ctx, method, address, headers, view, authenticateRequest(authInput, cfg, ctx.deps.metrics), undefined, expectContinue);
}

// Each wait's continuation is made in a function of its own: a function that makes a closure
// allocates a context for what it captures on every call, whether or not the closure is made.
function formFirst(ctx: Context, method: string, address: Address, form: Promise<PostUpload>, expectContinue: boolean): void {
  ctx.waiting(form.then((f) => admitForm(ctx, method, address, f, expectContinue)));
}

const PREFLIGHT: Operation = { name: 'PreflightRequest', action: 'read' };
const PREFLIGHT_HEADERS = ['origin', 'access-control-request-method', 'access-control-request-headers'];

/**
 * A CORS preflight the provider answers: sent unsigned, as the browser sent it, with only what a
 * preflight says (its origin, method and headers) and no query, so it can name no operation of its
 * own. It reads and writes nothing; it takes an anonymous slot like any unsigned request.
 */
function preflightAtProvider(ctx: Context, route: Route, address: Address, headers: Record<string, string | string[] | undefined>): void {
  ctx.route = route;
  const h: Record<string, string> = {};
  for (const n of PREFLIGHT_HEADERS) {
    const v = headers[n];
    if (typeof v === 'string') h[n] = v;
  }
  const sendReq: SendRequest = {
    operation: PREFLIGHT.name, method: 'OPTIONS', query: [], headers: h, unsigned: true,
    signal: ctx.cancel, observer: observer(ctx.deps.metrics), requestId: ctx.id,
  };
  if (address.key !== undefined) sendReq.key = address.key;
  const go = (release: () => void): void => {
    ctx.release = release;
    sendTo(route.upstream, route.upstreamBucket, sendReq, ctx);
  };
  const slot = ctx.deps.limiter.acquire('anonymous', ctx.cfg.limits, throttled(ctx.deps.metrics));
  if (typeof slot === 'function') return go(slot);
  ctx.waiting(slot.then(go));
}

// What a provider's CORS rules give an actual request's answer (S3's and RGW's preflight answer
// names them too): Access-Control-Allow-Headers is the preflight's alone.
const ANSWER_CORS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-expose-headers', 'access-control-max-age', 'vary'];

/**
 * An error s3gate answers itself, to a browser's request for a bucket whose CORS rules are the
 * provider's, carries the Access-Control-* headers those rules give: the provider is asked with the
 * preflight this request would make (its origin and method, unsigned, in an anonymous slot, as
 * preflightAtProvider sends one). Without them the page reads an expired presigned URL's 403, or a
 * refused write's, as a network error, where the provider's own errors reach it. Whatever goes
 * wrong in the asking, the error goes as before, without them. Never rejects.
 */
function providerCors(ctx: Context, e: unknown): Promise<Record<string, string> | undefined> | undefined {
  const method = ctx.req.method;
  const address = ctx.address;
  // A throttled request is not answered with more work for the provider, nor a 5xx (s3gate's own
  // failure, or the provider's: asking it again would only hold the answer back).
  if (!isS3Error(e) || e.status >= 500 || ctx.res.headersSent || ctx.replyHeaders['access-control-allow-origin'] !== undefined) return undefined;
  if (address?.bucket === undefined || method === undefined || method === 'OPTIONS') return undefined;
  // Read last: Node builds req.headers from the raw list on first use.
  const origin = ctx.req.headers.origin;
  if (typeof origin !== 'string') return undefined;
  let route: Route;
  try {
    route = findRoute(ctx.cfg, address.bucket);
  } catch {
    return undefined;
  }
  if (route.route.cors || route.upstream.kind === 'local') return undefined;
  const sendReq: SendRequest = {
    operation: PREFLIGHT.name, method: 'OPTIONS', query: [], headers: { origin, 'access-control-request-method': method }, unsigned: true,
    signal: ctx.cancel, observer: observer(ctx.deps.metrics), requestId: ctx.id,
  };
  if (address.key !== undefined) sendReq.key = address.key;
  return (async () => {
    let release: (() => void) | undefined;
    try {
      release = await ctx.deps.limiter.acquire('anonymous', ctx.cfg.limits);
      const r = await send(route.upstream, route.upstreamBucket, sendReq);
      if (!r.buffer) r.body.resume();
      if (r.status !== 200) return undefined;
      const h: Record<string, string> = {};
      for (const n of ANSWER_CORS) {
        const v = r.headers[n];
        if (typeof v === 'string') h[n] = v;
      }
      return h;
    } catch {
      return undefined;
    } finally {
      release?.();
    }
  })();
}

function slotFirst(slot: Promise<() => void>, a: Admitted): void {
  a.ctx.waiting(slot.then((release) => a.slotted(release)));
}

function bodyFirst(body: Promise<InboundBody>, a: Admitted, whole: boolean): void {
  a.ctx.waiting(whole ? body.then((b) => a.send(b)) : body.then((b) => a.withBody(b)));
}

function formAnswer(answer: Promise<UpstreamResponse>, a: Admitted): void {
  a.ctx.after(answer.then((r) => a.answerForm(r)));
}

/** The form read up to its file: the request is the form's PutObject from here on. */
function admitForm(ctx: Context, method: string, address: Address, form: PostUpload, expectContinue: boolean): void {
  // The request's own headers say nothing about the object: only the signed fields do. Its one
  // view is built from the form (the access line keeps the operation as PostObject).
  const f = form.view(address);
  const view = requestView('PUT', f.address.bucket, f.address.key, [], f.headers, false);
  admit(ctx, method, f.address, f.headers, view, form.auth, form, expectContinue);
}

/** Authenticated: the key's limiter slot, which a worker may wait for (the primary holds host-wide limits). */
function admit(
  ctx: Context, method: string, address: Address, headers: Record<string, string | string[] | undefined>, view: RequestView, auth: Authenticated,
  form: PostUpload | undefined, expectContinue: boolean,
): void {
  ctx.auth = auth;
  const op = view.operation;
  if (auth.kind === 'v2-header' || auth.kind === 'v2-query') requireSignedOperationV2(op, method, address.bucket, address.key, view.query, view.headers);
  const keyId = auth.key ? limitKey(auth.key) : 'anonymous';
  const slot = ctx.deps.limiter.acquire(keyId, auth.key?.limits ?? ctx.cfg.limits, throttled(ctx.deps.metrics));
  const admitted = new Admitted(ctx, method, address, headers, view, auth, keyId, form, expectContinue);
  if (typeof slot !== 'function') return slotFirst(slot, admitted);
  ctx.release = slot;
  // After a form's wait, the client may have gone already: its 'close' has passed.
  if (ctx.res.closed) slot();
  admitted.serve();
}

/**
 * An admitted request, what it is and what it carries, until it goes: routed, authorized, the
 * outbound request made, the body read where it must be first. One object across the waits, in
 * place of their closures' contexts; a small body tells it straight from the request's events
 * (BodySink).
 */
class Admitted implements BodySink {
  private sendReq?: SendRequest;
  private twoTargets = false;

  constructor(
    readonly ctx: Context, readonly method: string, readonly address: Address, readonly headers: Record<string, string | string[] | undefined>,
    readonly view: RequestView, readonly auth: Authenticated, readonly keyId: string, readonly form: PostUpload | undefined,
    readonly expectContinue: boolean,
  ) {}

  /** A worker's slot from the primary. */
  slotted(release: () => void): void {
    this.ctx.release = release;
    // The client may have gone while the primary answered: its 'close' has passed.
    if (this.ctx.res.closed) release();
    this.serve();
  }

  serve(): void {
    const ctx = this.ctx;
    const { cfg, res } = ctx;
    const { address, view, auth, form, method } = this;
    const op = view.operation;
    if (!address.bucket) {
      if (op.name !== 'ListBuckets') throw new S3Error('MethodNotAllowed');
      if (!auth.key) throw new S3Error('AccessDenied');
      return ctx.after(listBuckets(cfg, ctx, auth, view.query, res, ctx.cancel));
    }

    const route = findRoute(cfg, address.bucket);
    ctx.route = route;
    // An anonymous request on a `public: acl` bucket goes on unsigned: the provider's ACLs decide.
    const anonymous = auth.key ? undefined : anonymousAccess(route.route, op);
    authorizeView(view, auth.key, route.clientBucket, anonymous);
    // A condition the provider would ignore is refused before any byte goes (route/conditions.ts).
    requireCheckedConditions(op.name, view.headers, route.upstream.profile);
    // So is an operation it does not know and would misread (route/provider-support.ts).
    requireKnownSubresources(op.name, view.query, address.key !== undefined, route.upstream.profile);

    // The view's headers go on as they are, but a write's If-Match where the provider matches it
    // only unquoted, and a copy's source conditions under the names the provider reads; the copy
    // source is rendered from the authorized one, under the provider's name for its bucket.
    let outHeaders = view.headers;
    if (view.headers['if-match'] !== undefined) outHeaders = providerIfMatch(op.name, outHeaders, route.upstream.profile) ?? outHeaders;
    const srcRoute = view.copySource ? findRoute(cfg, view.copySource.bucket) : undefined;
    if (view.copySource && srcRoute) {
      outHeaders = providerCopyConditions(op.name, outHeaders, route.upstream.profile) ?? outHeaders;
      if (srcRoute.upstream !== route.upstream) {
        throw new S3Error('NotImplemented', 'Copying between buckets on different upstreams is not supported; download and upload instead.');
      }
      outHeaders = { ...outHeaders, 'x-amz-copy-source': copySourceHeader(srcRoute.upstreamBucket, view.copySource) };
    }
    const sendReq: SendRequest = {
      operation: op.name, method: form ? 'PUT' : method, query: view.query, headers: outHeaders,
      signal: ctx.cancel, observer: observer(ctx.deps.metrics), requestId: ctx.id,
    };
    if (anonymous === 'unsigned') sendReq.unsigned = true;
    if (address.key !== undefined) sendReq.key = address.key;
    if (auth.payloadHash) sendReq.declaredSha256 = auth.payloadHash;
    this.sendReq = sendReq;
    // A body that goes to two providers (mirror, or deletes during a migration) must be replayable.
    this.twoTargets = route.route.mode === 'mirror' || (route.route.mode === 'migrate' && op.name === 'DeleteObjects');

    if (form) return bodyFirst(form.body(route.upstream.profile, res), this, false);
    if (view.copySource && srcRoute && uncheckedPartCopy(op.name, view.headers, route.upstream.profile)) {
      const src = view.copySource;
      return ctx.waiting(checkPartCopySource(route.upstream, srcRoute.upstreamBucket, src.key, src.versionId, view.headers).then(() => this.bodyOn()));
    }
    this.bodyOn();
  }

  /** The request's body (a PUT's or a POST's) wired to its provider request. */
  bodyOn(): void {
    const { ctx, method } = this;
    const op = this.view.operation;
    const body = method === 'PUT' || method === 'POST' ? inboundBody(ctx.req, this.headers, this.auth, op.name, ctx.route!.upstream.profile, ctx) : undefined;
    if (this.expectContinue) ctx.res.writeContinue();
    this.withBody(body);
  }

  withBody(body: InboundBody | undefined): void {
    if (body === undefined) return this.send(undefined);
    if (body.declaredChecksums !== undefined || body.trailerChecksums !== undefined) this.ctx.verifiedBody = body;
    const op = this.view.operation.name;
    // A migrating or mirrored bucket may send an ACL's or tags' body to both providers (route/modes.ts, mirror.ts).
    const twice = this.ctx.route!.route.mode !== 'route' && CHANGED_WHERE_IT_IS.has(op);
    if (twice || needsWholeBody(op, this.ctx.route!.upstream.profile, this.headers)) return this.ctx.waiting(this.whole(body));
    if (!this.twoTargets && body.length !== undefined && body.length <= SMALL_BODY && body.buffer === undefined) {
      // Read whole straight off the socket, told to this.body (the common small PUT), or else read from its stream.
      if (body.collect) return body.collect(this);
      return bodyFirst(readSmall(body), this, true);
    }
    this.send(body);
  }

  /** A small body read whole and verified, from the request's 'end'. */
  body(b: InboundBody): void {
    try {
      this.send(b);
    } catch (e) {
      this.ctx.failed(e);
    }
  }

  fail(e: unknown): void {
    this.ctx.failed(e);
  }

  /** A body s3gate must see whole (DeleteObjects' keys, CompleteMultipartUpload's checksums, a Content-MD5 to add). */
  private async whole(inbound: InboundBody): Promise<void> {
    const ctx = this.ctx;
    const op = this.view.operation.name;
    const whole = await wholeBody(inbound, op, ctx.route!.upstream.profile, { budget: processBodyBudget, owner: this.keyId, until: ctx.res });
    let body: OutgoingBody = whole;
    // Held anyway until the exchange closes (the body budget's admission): read only if the provider's answer needs it.
    if (op === 'CompleteMultipartUpload') {
      ctx.completeBody = whole.buffer!;
      if (whole.sha256 !== undefined) this.sendReq!.declaredSha256 = whole.sha256;
    }
    if (op === 'DeleteObjects') {
      // Its keys are resources too: each is authorized, and the body re-written from what was.
      const route = ctx.route!;
      // Per-object conditions (<ETag>…) are held where they are checked: a provider that checks
      // them, and a bucket on one provider (during a migration the key may be at either).
      const checked = route.upstream.profile.conditionalWrites.onDelete === true && route.route.mode !== 'migrate';
      const { body: rewritten, denied } = await authorizedDeleteBody(body, this.view.headers, this.auth.key, route.clientBucket, checked);
      if (rewritten === undefined) return respondXml(ctx, ctx.res, deniedResult(denied), ctx.replyHeaders);
      if (denied.length > 0) ctx.deniedDeletes = deniedEntries(denied);
      body = rewritten;
      this.sendReq!.declaredSha256 = rewritten.sha256;
    }
    if (op === 'CreateBucket') {
      const located = providerLocation(whole.buffer!.toString('utf8'), ctx.cfg.region, ctx.cfg.acceptRegions, ctx.route!.upstream.region);
      if (located !== undefined) {
        const replaced = replacedBody(Buffer.from(located, 'utf8'), whole.headers, this.view.headers);
        body = replaced;
        this.sendReq!.declaredSha256 = replaced.sha256;
      }
    }
    this.send(body);
  }

  /** To the provider(s): a plain route tells ctx the answer straight from the exchange (Context.answer). */
  send(body: OutgoingBody | undefined): void {
    const ctx = this.ctx;
    const sendReq = this.sendReq!;
    if (body) sendReq.body = body;
    const route = ctx.route!;
    if (route.route.mode !== 'route') return ctx.after(serveByMode(ctx, this, sendReq));
    if (!this.form) return sendTo(route.upstream, route.upstreamBucket, sendReq, ctx);
    formAnswer(send(route.upstream, route.upstreamBucket, sendReq), this);
  }

  /** A form's PutObject answered: S3's answer to a form when it was stored. */
  answerForm(r: UpstreamResponse): Promise<void> | undefined {
    const ctx = this.ctx;
    const route = ctx.route!;
    return r.status < 300
      ? answerPost(ctx.cfg, ctx, ctx.req, ctx.res, this.address, route, this.form!, r, ctx.replyHeaders)
      : respond(ctx.cfg, ctx, this.address, ctx.req, ctx.res, route, this.view.operation, r, ctx.replyHeaders);
  }
}

/**
 * A bucket in migrate or mirror mode (route/modes.ts). Apart from the rest: its closures would
 * otherwise make their callers allocate a context for the variables they capture on every request.
 */
function serveByMode(ctx: Context, a: Admitted, sendReq: SendRequest): Promise<void> {
  const { cfg, req, res } = ctx;
  const { address, form } = a;
  const op = a.view.operation;
  const route = ctx.route!;
  const serve: ServeContext = {
    cfg, req, res, address, op, route, sendReq, log: ctx.deps.log, metrics: ctx.deps.metrics, signal: ctx.cancel, requestId: ctx.id,
    respondWith: (r: Route, up: UpstreamResponse) => form && up.status < 300
      ? answerPost(cfg, ctx, req, res, address, r, form, up, ctx.replyHeaders)
      : respond(cfg, ctx, address, req, res, r, op, up, ctx.replyHeaders),
    respondXml: (xml: string) => respondXml(ctx, res, xml, ctx.replyHeaders),
    addDeleteErrors: (entries: string) => (ctx.deniedDeletes = (ctx.deniedDeletes ?? '') + entries),
  };
  if (a.view.copySource) serve.copySource = copySourceParts(a.view.copySource);
  return route.route.mode === 'migrate' ? serveMigrate(serve) : serveMirror(serve);
}

async function listBuckets(cfg: GatewayConfig, ctx: RequestContext, auth: Authenticated, query: [string, string][], res: ServerResponse, signal: Cancel): Promise<void> {
  respondXml(ctx, res, await listBucketsAnswer(cfg, auth.key!, query, signal), ctx.replyHeaders);
}

function sendError(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, e: unknown, log: Logger): void {
  if (!isS3Error(e) && (e as Error)?.name === 'AbortError') {
    // The client went away: nothing to answer, and not our failure.
    ctx.error = 'ClientClosed';
    ctx.status ??= 499;
    res.destroy();
    return;
  }
  const err = isS3Error(e) ? e : new S3Error('InternalError');
  if (!isS3Error(e) && !(e instanceof Error && e.name === 'AbortError')) log.error({ reqId: ctx.id, err: e }, 'internal error');
  ctx.status = err.status;
  ctx.error = err.code;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const resource = (req.url ?? '/').split('?')[0]!;
  const body = req.method === 'HEAD' ? '' : errorXml(err, resource, ctx.id);
  ctx.bytesOut = Buffer.byteLength(body);
  afterBody(req, (complete) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(err.status, s3Spelled({
      ...ctx.replyHeaders,
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      // The rest of the body was not worth waiting for: closing is the only way to stay in sync.
      ...(complete ? {} : { connection: 'close' }),
    }));
    res.end(body);
  });
}

function finish(deps: PipelineDeps, ctx: RequestContext, req: IncomingMessage, res: ServerResponse): void {
  // performance.now(), not hrtime.bigint(): no BigInt per reading and per difference.
  const seconds = (performance.now() - ctx.started) / 1000;
  const m = deps.metrics;
  const status = ctx.status ?? res.statusCode;
  const operation = ctx.op?.name ?? 'Unknown';
  const upstream = ctx.route?.upstream.name ?? '';
  m.inflight.dec();
  const key = ctx.auth?.key;
  // The label values in each metric's labelNames order (metrics/metrics.ts): no label object per update.
  m.requests.incAt(1, operation, String(status), upstream, key ? principalName(key) : ctx.auth ? 'anonymous' : '');
  m.duration.observeAt(seconds, operation);
  if (ctx.bytesIn) m.bytes.incAt(ctx.bytesIn, 'in', upstream);
  if (ctx.bytesOut) m.bytes.incAt(ctx.bytesOut, 'out', upstream);
  if (ctx.error && AUTH_FAILURES.has(ctx.error)) m.authFailures.inc({ reason: ctx.error });
  writeAccess(deps.log, {
    reqId: ctx.id,
    key: key?.accessKeyId ?? (ctx.auth ? 'anonymous' : undefined),
    auth: ctx.auth?.kind,
    role: key?.session?.role,
    session: key?.session?.name,
    triedKey: !ctx.auth && ctx.error && AUTH_FAILURES.has(ctx.error) ? claimedAccessKeyId(req.headers.authorization, (req.url ?? '').split('?')[1] ?? '') : undefined,
    op: ctx.op?.name,
    method: req.method,
    bucket: ctx.address?.bucket,
    status,
    error: ctx.error,
    bytesIn: ctx.bytesIn,
    bytesOut: ctx.bytesOut,
    ms: Math.round(seconds * 100000) / 100,
    upstream: ctx.route?.upstream.name,
    upstreamId: ctx.upstreamId,
    upstreamError: ctx.upstreamError,
    // A 200 with a short bytesOut read as a whole answer: say it was not.
    cut: res.writableFinished ? undefined : deps.cutting?.() ? 'shutdown' : res.headersSent ? 'connection' : undefined,
  });
}
