// One request's walk through the stages: addressing → authenticate → authorize → route →
// resign → forward → rewrite. Each stage is a call into its folder; this file only orders them
// and turns whatever they throw into the S3 error document.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { resolveAddress, type Address } from '../addressing/resolve.js';
import { authenticate, type Authenticated } from '../authenticate/index.js';
import { classify, type Operation } from '../authorize/operation.js';
import { allows, publicAllows, requireGrant, visibleBuckets } from '../authorize/grants.js';
import { findRoute, parseCopySource, type Route } from '../route/route.js';
import { buildOutbound } from '../resign/request.js';
import { chunkSignedBody, signOutbound } from '../resign/sign.js';
import { signedChunkedLength } from '../resign/chunked.js';
import { signatureFor } from '../config/provider.js';
import { forward } from '../forward/forward.js';
import { forwardLocal } from '../forward/local.js';
import { responseHeaders, rewriteListBuckets, rewriteXml, stripFullObjectChecksums, XML_REWRITE_OPS, type NameMap } from '../rewrite/response.js';
import { S3Error, errorXml, escapeXml, isS3Error } from '../s3/errors.js';
import { EMPTY_SHA256, parseQuery, uriEncode } from '../signing/sigv4.js';
import { inboundBody, needsWholeBody, wholeBody } from './body.js';
import { clientHost, clientProto } from './forwarded.js';

export interface RequestContext {
  id: string;
  started: bigint;
  op?: Operation;
  address?: Address;
  auth?: Authenticated;
  route?: Route;
  bytesIn: number;
  bytesOut: number;
  status?: number;
  error?: string;
}

export interface PipelineDeps {
  config: () => GatewayConfig;
  log: Logger;
}

const HEX64 = /^[0-9a-f]{64}$/;

function lowerHeaders(req: IncomingMessage): Record<string, string | string[] | undefined> {
  // headersDistinct keeps repeated headers apart, as SigV4's canonical headers need.
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(req.headersDistinct)) {
    if (v) out[k] = v.length === 1 ? v[0] : v;
  }
  return out;
}

export async function handle(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse, expectContinue = false): Promise<void> {
  const cfg = deps.config();
  const ctx: RequestContext = { id: randomBytes(8).toString('hex').toUpperCase(), started: process.hrtime.bigint(), bytesIn: 0, bytesOut: 0 };
  res.setHeader('x-amz-request-id', ctx.id);
  const abort = new AbortController();
  // The client going away mid-transfer must end the upstream request too.
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  try {
    await run(cfg, deps, ctx, req, res, expectContinue, abort.signal);
  } catch (e) {
    sendError(ctx, req, res, e, deps.log);
  } finally {
    const done = () => accessLog(deps.log, ctx, req, res);
    if (res.writableFinished || res.destroyed) done();
    else res.once('close', done);
  }
}

async function run(
  cfg: GatewayConfig, deps: PipelineDeps, ctx: RequestContext, req: IncomingMessage, res: ServerResponse,
  expectContinue: boolean, signal: AbortSignal,
): Promise<void> {
  const method = req.method ?? 'GET';
  const headers = lowerHeaders(req);
  const host = clientHost(cfg, req);
  if (!host) throw new S3Error('InvalidRequest', 'Missing Host header');
  const address = resolveAddress(cfg, host, req.url ?? '/');
  ctx.address = address;
  const pairs = parseQuery(address.rawQuery);
  const query = new URLSearchParams();
  for (const [n, v] of pairs) query.append(n, v);
  const op = classify(method, address.bucket, address.key, query, headers);
  ctx.op = op;

  const auth = authenticate(
    {
      method, host, rawPath: address.rawPath, rawQuery: address.rawQuery, headers, now: new Date(),
      ...(address.style !== 'path' && address.bucket ? { bucketInHost: address.bucket } : {}),
    },
    cfg.keys, cfg.region,
  );
  ctx.auth = auth;

  if (!address.bucket) {
    if (op.name !== 'ListBuckets') throw new S3Error('MethodNotAllowed');
    if (!auth.key) throw new S3Error('AccessDenied');
    return listBuckets(cfg, ctx, auth, res, signal);
  }

  const route = findRoute(cfg, address.bucket);
  ctx.route = route;
  const listPrefix = query.get('prefix') ?? undefined;
  const granted = auth.key
    ? allows(auth.key, op.action, route.clientBucket, address.key, listPrefix)
    : publicAllows(route.route, op.action);
  requireGrant(granted);

  const outHeaders = { ...headers };
  const copySource = headers['x-amz-copy-source'];
  if (typeof copySource === 'string') {
    const src = parseCopySource(copySource);
    const srcRoute = findRoute(cfg, src.bucket);
    requireGrant(auth.key ? allows(auth.key, 'read', src.bucket, src.key) : false);
    if (srcRoute.upstream !== route.upstream) {
      throw new S3Error('NotImplemented', 'Copying between buckets on different upstreams is not supported; download and upload instead.');
    }
    outHeaders['x-amz-copy-source'] = `/${uriEncode(srcRoute.upstreamBucket, false)}/${uriEncode(src.key, true)}${src.rest}`;
  }

  const hasBody = method === 'PUT' || method === 'POST';
  let body = hasBody ? inboundBody(req, headers, auth, op.name, route.upstream.profile, ctx) : undefined;
  if (expectContinue) res.writeContinue();
  if (body && needsWholeBody(op.name, route.upstream.profile, headers)) body = await wholeBody(body, op.name, route.upstream.profile);

  if (!route.upstream.profile.checksums.checksumMode) delete outHeaders['x-amz-checksum-mode'];
  const outbound = buildOutbound(route.upstream, {
    method, upstreamBucket: route.upstreamBucket, query: pairs, headers: outHeaders,
    ...(address.key !== undefined ? { key: address.key } : {}),
    queryAuth: auth.kind === 'v4-query' || auth.kind === 'v2-query',
  });
  for (const [k, v] of Object.entries(body?.headers ?? {})) {
    if (v === null) delete outbound.headers[k];
    else outbound.headers[k] = v;
  }
  if (route.upstream.kind === 'local') {
    const q = new URLSearchParams();
    for (const [n, v] of outbound.query) q.append(n, v);
    const localRes = await forwardLocal(route.upstream, {
      method, bucket: route.upstreamBucket, query: q, headers: outbound.headers,
      ...(address.key !== undefined ? { key: address.key } : {}),
    }, body?.stream ?? null);
    return respond(cfg, ctx, req, res, route, op, localRes.status, localRes.headers, localRes.body);
  }
  const declared = auth.payloadHash;
  const hex = declared && HEX64.test(declared) ? declared : undefined;
  const profile = route.upstream.profile;
  let payloadHash = !hasBody || body?.length === 0 ? EMPTY_SHA256 : hex ?? 'UNSIGNED-PAYLOAD';
  let length = body?.length;
  // A provider that wants a signed payload gets the client's hash when there is one, and
  // otherwise s3gate's own chunk signatures over the verified bytes.
  const signedChunks = hasBody && body?.length !== undefined && body.length > 0 && signatureFor(profile, op.name) === 'v4' &&
    (profile.payload.outbound === 'signed-chunked' || (profile.payload.outbound === 'sha256' && !hex));
  if (signedChunks) {
    const enc = outbound.headers['content-encoding'];
    outbound.headers['content-encoding'] = enc ? `aws-chunked,${enc}` : 'aws-chunked';
    outbound.headers['x-amz-decoded-content-length'] = String(body!.length);
    payloadHash = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    length = signedChunkedLength(body!.length!);
    outbound.headers['content-length'] = String(length);
  }
  const signed = await signOutbound(route.upstream, op.name, outbound, payloadHash);
  if (length !== undefined) signed['content-length'] = String(length);
  let upstreamBody: Readable | null = body?.stream ?? null;
  if (signedChunks) upstreamBody = chunkSignedBody(route.upstream, signed, body!.stream);

  const upstreamRes = await forward(route.upstream, outbound, signed, upstreamBody, signal);
  await respond(cfg, ctx, req, res, route, op, upstreamRes.status, upstreamRes.headers, upstreamRes.body);
}

function nameMap(cfg: GatewayConfig, req: IncomingMessage, route: Route, address: Address): NameMap {
  const proto = clientProto(cfg, req);
  const clientBase = `${proto}://${address.host}`;
  const clientBucketUrl = address.style === 'path' ? `${clientBase}/${uriEncode(route.clientBucket, false)}` : clientBase;
  const ep = route.upstream.endpoint;
  return {
    upstreamBucket: route.upstreamBucket,
    clientBucket: route.clientBucket,
    upstreamHosts: [`${route.upstreamBucket}.${ep.host}`, ep.host],
    clientBase,
    clientBucketUrl,
  };
}

async function respond(
  cfg: GatewayConfig, ctx: RequestContext, req: IncomingMessage, res: ServerResponse, route: Route, op: Operation,
  status: number, headers: Record<string, string | string[] | undefined>, body: Readable,
): Promise<void> {
  const map = nameMap(cfg, req, route, ctx.address!);
  const isXml = String(headers['content-type'] ?? '').includes('xml');
  const rewriteBody = isXml && (status >= 300 || XML_REWRITE_OPS.has(op.name)) && req.method !== 'HEAD';
  if (status === 206 || req.headers.range !== undefined) stripFullObjectChecksums(headers);
  const outHeaders = responseHeaders(headers, (loc) => {
    const path = loc.replace(/^https?:\/\/[^/]+/, '');
    return path === `/${map.upstreamBucket}` || path === `/${route.upstreamBucket}` ? `/${route.clientBucket}` : loc;
  });
  ctx.status = status;
  if (rewriteBody) {
    let text = '';
    for await (const chunk of body) text += chunk;
    const out = rewriteXml(text, map);
    delete outHeaders['content-length'];
    res.writeHead(status, { ...outHeaders, 'content-length': Buffer.byteLength(out) });
    res.end(out);
    ctx.bytesOut = Buffer.byteLength(out);
    return;
  }
  res.writeHead(status, outHeaders);
  body.on('data', (c: Buffer) => {
    ctx.bytesOut += c.length;
  });
  // A broken provider stream must cut the client's connection, never end it as if complete.
  await streamPipeline(body, res).catch(() => {
    res.destroy();
  });
}

async function listBuckets(cfg: GatewayConfig, ctx: RequestContext, auth: Authenticated, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const key = auth.key!;
  const named = visibleBuckets(key, [...cfg.buckets.keys()].filter((n) => n !== '*'));
  const entries = new Map<string, string>();
  const date = new Date(0).toISOString();
  for (const n of named) entries.set(n, date);
  // With a "*" route, the provider's own buckets are listed too, filtered to the key's grants.
  const star = cfg.buckets.get('*');
  if (star && key.allow.some((g) => g.bucket === '*' || !cfg.buckets.has(g.bucket))) {
    const up = cfg.upstreams.get(star.upstream)!;
    const outbound = buildOutbound(up, { method: 'GET', query: [], headers: {}, queryAuth: false });
    const signed = await signOutbound(up, 'ListBuckets', outbound, EMPTY_SHA256);
    const r = await forward(up, outbound, signed, null, signal);
    let text = '';
    for await (const c of r.body) text += c;
    if (r.status === 200) {
      const upstreamNames = new Set([...cfg.buckets.values()].filter((b) => b.name !== '*').map((b) => b.bucket ?? b.name));
      rewriteListBuckets(text, (n) => {
        if (!cfg.buckets.has(n) && !upstreamNames.has(n) && visibleBuckets(key, [n]).length) entries.set(n, date);
        return undefined;
      });
      for (const m of text.matchAll(/<Bucket><Name>([^<]*)<\/Name><CreationDate>([^<]*)<\/CreationDate>/g)) {
        if (entries.has(m[1]!)) entries.set(m[1]!, m[2]!);
      }
    }
  }
  const buckets = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([n, d]) => `<Bucket><Name>${escapeXml(n)}</Name><CreationDate>${d}</CreationDate></Bucket>`).join('');
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Owner><ID>${escapeXml(key.accessKeyId)}</ID><DisplayName>${escapeXml(key.accessKeyId)}</DisplayName></Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`;
  ctx.status = 200;
  ctx.bytesOut = Buffer.byteLength(xml);
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': ctx.bytesOut });
  res.end(xml);
}

function sendError(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, e: unknown, log: Logger): void {
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
  res.writeHead(err.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': ctx.id,
    // The request body may not have been read: closing is the only way to stay in sync.
    ...(req.complete ? {} : { connection: 'close' }),
  });
  res.end(body);
}

function accessLog(log: Logger, ctx: RequestContext, req: IncomingMessage, res: ServerResponse): void {
  const ms = Number(process.hrtime.bigint() - ctx.started) / 1e6;
  log.info({
    reqId: ctx.id,
    key: ctx.auth?.key?.accessKeyId ?? (ctx.auth ? 'anonymous' : undefined),
    auth: ctx.auth?.kind,
    op: ctx.op?.name,
    method: req.method,
    bucket: ctx.address?.bucket,
    status: ctx.status ?? res.statusCode,
    error: ctx.error,
    bytesIn: ctx.bytesIn,
    bytesOut: ctx.bytesOut,
    ms: Math.round(ms * 100) / 100,
    upstream: ctx.route?.upstream.name,
  }, 'request');
}
