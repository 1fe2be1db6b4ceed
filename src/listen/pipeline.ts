// One request's walk through the stages: addressing → authenticate → authorize → route →
// resign → forward → rewrite. Each stage is a call into its folder; this file only orders them,
// counts what happened, and turns whatever they throw into the S3 error document.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { resolveAddress, type Address } from '../addressing/resolve.js';
import { signedWith, type Authenticated, type AuthInput } from '../authenticate/index.js';
import { authenticateRequest, principalName } from '../sts/inbound.js';
import { isStsRequest, serveSts } from '../sts/endpoint.js';
import type { Operation } from '../authorize/operation.js';
import { authorizeView } from '../authorize/grants.js';
import { copySourceHeader, copySourceParts, requestView, type CopySource } from '../authorize/view.js';
import { authorizedDeleteBody } from '../authorize/delete-objects.js';
import { requireSignedOperationV2 } from '../authorize/signed-operation.js';
import { anonymousAccess } from '../authorize/anonymous.js';
import { findRoute, type Route } from '../route/route.js';
import { serveMigrate, serveMirror, type ServeContext } from '../route/modes.js';
import { listBucketsAnswer } from '../route/list-buckets.js';
import { send, type SendRequest } from '../forward/send.js';
import type { ForwardObserver, UpstreamResponse } from '../forward/forward.js';
import { RequestCancel, type Cancel } from '../forward/cancel.js';
import { preflight, responseCors } from '../cors/cors.js';
import type { Limiter, LimitKind } from '../limits/limiter.js';
import type { Metrics } from '../metrics/metrics.js';
import { S3Error, errorXml, isS3Error } from '../s3/errors.js';
import { parseQuery } from '../signing/sigv4.js';
import { lowerCase } from '../s3/names.js';
import { inboundBody, needsWholeBody, readSmall, wholeBody } from './body.js';
import { processBodyBudget } from '../limits/body-budget.js';
import { clientHost } from './forwarded.js';
import { respond, respondXml } from './respond.js';
import { claimedAccessKeyId, writeAccess } from './access-log.js';
import { answerPost, receivePostForm, type PostUpload } from './post-object.js';

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
}

/**
 * A class, so that every field is in the object from its start: a literal of five fields that
 * the stages then grew to fourteen kept the rest in a property array, copied as it grew.
 */
class Context implements RequestContext {
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

  constructor(readonly id: string) {
    this.replyHeaders = { 'x-amz-request-id': id };
  }
}

export interface PipelineDeps {
  config: () => GatewayConfig;
  log: Logger;
  metrics: Metrics;
  /** per-key limits: this process's own, or a worker's view of the primary's host-wide ones */
  limiter: { acquire(...a: Parameters<Limiter['acquire']>): ReturnType<Limiter['acquire']> | Promise<ReturnType<Limiter['acquire']>> };
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
    duration: (upstream, s) => m.upstreamDuration.observe({ upstream }, s),
    error: (upstream, kind) => m.upstreamErrors.inc({ upstream, kind }),
    retry: (upstream) => m.upstreamRetries.inc({ upstream }),
  };
}

// The limiter's refusals counted: one function per registry, told the key, not a closure per request.
const throttleCounters = new WeakMap<Metrics, (kind: LimitKind, key: string) => void>();
function throttled(m: Metrics): (kind: LimitKind, key: string) => void {
  let f = throttleCounters.get(m);
  if (!f) throttleCounters.set(m, (f = (kind, key) => m.throttled.inc({ limit: kind, key })));
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
 * Not an async function: run()'s own promise carries the end of the request (`ended` or, for
 * whatever it threw, `failed`), one layer of promises fewer than an async function awaiting it,
 * whose suspended state alone was about 250 B per request.
 */
export function handle(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse, expectContinue = false): Promise<void> {
  const cfg = deps.config();
  const id = requestId(idCounter++ >>> 0);
  const ctx = new Context(id);
  deps.metrics.inflight.inc();
  const abort = new RequestCancel();
  // One 'close' listener does all the end-of-exchange work: a client that went away mid-transfer
  // ends the upstream request too, the key's limiter slot is given back, and the access line is
  // written once both the handler and the exchange are over.
  let handled = false;
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    finish(deps, ctx, req, res);
  };
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
    ctx.release?.();
    if (handled) log();
  });
  const ended = () => {
    handled = true;
    if (res.writableFinished || res.destroyed) log();
  };
  const failed = (e: unknown) => {
    try {
      sendError(ctx, req, res, e, deps.log);
    } finally {
      ended();
    }
  };
  return run(cfg, deps, ctx, req, res, expectContinue, abort).then(ended, failed);
}

async function run(
  cfg: GatewayConfig, deps: PipelineDeps, ctx: RequestContext, req: IncomingMessage, res: ServerResponse,
  expectContinue: boolean, signal: Cancel,
): Promise<void> {
  const method = req.method ?? 'GET';
  let headers = lowerHeaders(req);
  ctx.ranged = headers.range !== undefined;
  const host = clientHost(cfg, req, headers);
  if (!host) throw new S3Error('InvalidRequest', 'Missing Host header');
  let address = resolveAddress(cfg, host, req.url ?? '/');
  ctx.address = address;
  const origin = typeof headers.origin === 'string' ? headers.origin : undefined;

  if (method === 'OPTIONS') {
    // Preflight carries no signature, by design of CORS: the bucket's rules alone decide.
    const route = address.bucket ? findRoute(cfg, address.bucket) : undefined;
    const h = preflight(address.bucket ? route?.route.cors : cfg.sts?.cors, origin, headers['access-control-request-method'] as string | undefined, headers['access-control-request-headers'] as string | undefined);
    ctx.op = { name: 'PreflightRequest', action: 'read' };
    ctx.status = 200;
    res.writeHead(200, { ...ctx.replyHeaders, ...h, 'content-length': 0 });
    res.end();
    return;
  }

  // STS's Query API lives at the root of s3gate's own domains (src/sts/).
  if (!address.bucket && isStsRequest(method, headers, address.rawQuery)) {
    return await serveSts({ cfg, metrics: deps.metrics, log: deps.log }, ctx, req, res, { method, host, rawPath: address.rawPath, rawQuery: address.rawQuery, headers, expectContinue });
  }

  const pairs = parseQuery(address.rawQuery);
  // The one view of the request: what is authorized below is exactly what is forwarded.
  const scheme = signedWith(headers, address.rawQuery);
  let view = requestView(method, address.bucket, address.key, pairs, headers, scheme === 'v4-query' || scheme === 'v2-query');
  let op = view.operation;
  ctx.op = op;
  const corsRoute = address.bucket ? cfg.buckets.get(address.bucket) ?? cfg.buckets.get('*') : undefined;
  if (corsRoute?.cors) Object.assign(ctx.replyHeaders, responseCors(corsRoute.cors, origin, method));

  // Optional fields are set, not spread in: on Node 20 a spread into a literal measured about 4
  // times the cost of assigning the field, and its objects reached the old generation (8 major
  // GCs in 3 million objects, against none) (`node bench/literal-promotion.mjs`).
  const authInput: AuthInput = { method, host, rawPath: address.rawPath, rawQuery: address.rawQuery, query: pairs, headers, now: new Date() };
  if (address.style !== 'path' && address.bucket) authInput.bucketInHost = address.bucket;
  // A browser form upload signs its fields, not the request: read up to its file, it is a
  // PutObject of the form's key from here on (post-object.ts).
  const form = op.name === 'PostObject' && address.bucket && address.key === undefined
    ? await receivePostForm(cfg, req, res, headers, address, ctx, expectContinue) : undefined;
  if (form) {
    // The request's own headers say nothing about the object: only the signed fields do. From
    // here on the request is the form's PutObject: its one view is built from the form.
    ({ address, headers } = form.view(address));
    view = requestView('PUT', address.bucket, address.key, [], headers as Record<string, string>, false);
    op = view.operation;
  }
  const auth = form?.auth ?? authenticateRequest(authInput, cfg, deps.metrics);
  ctx.auth = auth;
  if (auth.kind === 'v2-header' || auth.kind === 'v2-query') requireSignedOperationV2(op, method, address.bucket, address.key, view.query, view.headers);
  const keyId = auth.key ? principalName(auth.key) : 'anonymous';
  const slot = deps.limiter.acquire(keyId, auth.key?.limits ?? cfg.limits, throttled(deps.metrics));
  ctx.release = typeof slot === 'function' ? slot : await slot;
  // A worker waited for the primary's answer: a client gone meanwhile has had its 'close'.
  if (res.closed) ctx.release();

  if (!address.bucket) {
    if (op.name !== 'ListBuckets') throw new S3Error('MethodNotAllowed');
    if (!auth.key) throw new S3Error('AccessDenied');
    return await listBuckets(cfg, ctx, auth, view.query, res, signal);
  }

  const route = findRoute(cfg, address.bucket);
  ctx.route = route;
  // An anonymous request on a `public: acl` bucket goes on unsigned: the provider's ACLs decide.
  const anonymous = auth.key ? undefined : anonymousAccess(route.route, op);
  authorizeView(view, auth.key, route.clientBucket, anonymous);

  // The view's headers go on as they are; the copy source is rendered from the authorized one,
  // under the provider's name for its bucket.
  let outHeaders = view.headers;
  if (view.copySource) {
    const srcRoute = findRoute(cfg, view.copySource.bucket);
    if (srcRoute.upstream !== route.upstream) {
      throw new S3Error('NotImplemented', 'Copying between buckets on different upstreams is not supported; download and upload instead.');
    }
    outHeaders = { ...view.headers, 'x-amz-copy-source': copySourceHeader(srcRoute.upstreamBucket, view.copySource) };
  }

  const hasBody = method === 'PUT' || method === 'POST';
  const profile = route.upstream.profile;
  let body = form ? await form.body(profile, res) : hasBody ? inboundBody(req, headers, auth, op.name, profile, ctx) : undefined;
  if (expectContinue && !form) res.writeContinue();
  // A body that goes to two providers (mirror, or deletes during a migration) must be replayable.
  const twoTargets = route.route.mode === 'mirror' || (route.route.mode === 'migrate' && op.name === 'DeleteObjects');
  if (body && needsWholeBody(op.name, profile, headers)) {
    body = await wholeBody(body, op.name, profile, { budget: processBodyBudget, owner: keyId, until: res });
  } else if (body && !twoTargets) {
    body = await readSmall(body);
  }
  let declaredSha256 = auth.payloadHash;
  if (body && op.name === 'DeleteObjects') {
    // Its keys are resources too: each is authorized, and the body re-written from what was.
    const rewritten = await authorizedDeleteBody(body, view.headers, auth.key, route.clientBucket);
    body = rewritten;
    declaredSha256 = rewritten.sha256;
  }

  const sendReq: SendRequest = {
    operation: op.name, method: form ? 'PUT' : method, query: view.query, headers: outHeaders,
    signal, observer: observer(deps.metrics), requestId: ctx.id,
  };
  if (anonymous === 'unsigned') sendReq.unsigned = true;
  if (address.key !== undefined) sendReq.key = address.key;
  if (declaredSha256) sendReq.declaredSha256 = declaredSha256;
  if (body) sendReq.body = body;
  // Awaited, not returned: an async function that returns a promise settles a tick and a job
  // later, through a thenable job and two resolving functions. respond() has a promise only for a
  // streamed answer: one read whole is written already, and awaiting nothing is a microtask more.
  if (route.route.mode === 'route') {
    const r = await send(route.upstream, route.upstreamBucket, sendReq);
    if (form && r.status < 300) return await answerPost(cfg, ctx, req, res, address, route, form, r, ctx.replyHeaders);
    const streaming = respond(cfg, ctx, address, req, res, route, op, r, ctx.replyHeaders);
    if (streaming) await streaming;
    return;
  }
  return await serveByMode(cfg, deps, ctx, req, res, address, op, route, sendReq, form, signal, view.copySource);
}

/**
 * A bucket in migrate or mirror mode (route/modes.ts). Apart from run(): its closures would
 * otherwise make run() allocate a context for the variables they capture on every request.
 */
function serveByMode(
  cfg: GatewayConfig, deps: PipelineDeps, ctx: RequestContext, req: IncomingMessage, res: ServerResponse, address: Address, op: Operation,
  route: Route, sendReq: SendRequest, form: PostUpload | undefined, signal: Cancel, copySource: CopySource | undefined,
): Promise<void> {
  const serve: ServeContext = {
    cfg, req, res, address, op, route, sendReq, log: deps.log, metrics: deps.metrics, signal, requestId: ctx.id,
    respondWith: (r: Route, up: UpstreamResponse) => form && up.status < 300
      ? answerPost(cfg, ctx, req, res, address, r, form, up, ctx.replyHeaders)
      : respond(cfg, ctx, address, req, res, r, op, up, ctx.replyHeaders),
    respondXml: (xml: string) => respondXml(ctx, res, xml, ctx.replyHeaders),
  };
  if (copySource) serve.copySource = copySourceParts(copySource);
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
  res.writeHead(err.status, {
    ...ctx.replyHeaders,
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    // The request body may not have been read: closing is the only way to stay in sync.
    ...(req.complete ? {} : { connection: 'close' }),
  });
  res.end(body);
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
  m.requests.inc({ operation, status: String(status), upstream, key: key ? principalName(key) : ctx.auth ? 'anonymous' : '' });
  m.duration.observe({ operation }, seconds);
  if (ctx.bytesIn) m.bytes.inc({ direction: 'in', upstream }, ctx.bytesIn);
  if (ctx.bytesOut) m.bytes.inc({ direction: 'out', upstream }, ctx.bytesOut);
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
  });
}
