// Bucket modes beyond one upstream. migrate: reads go to the new provider and fall back to the
// old one on a miss (optionally copying the object over while it streams), writes go to the
// new one, deletes to both, listings are merged. mirror: writes go to both, reads to the primary.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Address } from '../addressing/resolve.js';
import type { Operation } from '../authorize/operation.js';
import type { BucketTarget, GatewayConfig } from '../config/types.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { send, type SendRequest } from '../forward/send.js';
import type { Cancel } from '../forward/cancel.js';
import type { Metrics } from '../metrics/metrics.js';
import { S3Error } from '../s3/errors.js';
import type { Route } from './route.js';
import { listingXml, mergeListings, parseListing, parseListRequest, providerListQuery } from './listing.js';

export interface ServeContext {
  cfg: GatewayConfig;
  req: IncomingMessage;
  res: ServerResponse;
  address: Address;
  op: Operation;
  /** the primary (new) provider */
  route: Route;
  sendReq: SendRequest;
  log: Logger;
  metrics: Metrics;
  signal: Cancel;
  requestId: string;
  respondWith(route: Route, r: UpstreamResponse): Promise<void>;
  respondXml(xml: string): void;
}

function secondary(ctx: ServeContext, t: BucketTarget): Route {
  const upstream = ctx.cfg.upstreams.get(t.upstream);
  if (!upstream) throw new S3Error('InternalError');
  return { ...ctx.route, upstream, upstreamBucket: t.bucket ?? ctx.route.upstreamBucket };
}

async function drain(r: UpstreamResponse): Promise<void> {
  r.body.resume();
  await new Promise<void>((resolve) => {
    r.body.once('end', resolve);
    r.body.once('error', () => resolve());
    r.body.once('close', resolve);
  });
}

/** Two readers of one verified stream. An error upstream of the tee reaches both. */
function tee(source: Readable): [PassThrough, PassThrough] {
  const a = new PassThrough();
  const b = new PassThrough();
  source.on('error', (e) => {
    a.destroy(e);
    b.destroy(e);
  });
  source.pipe(a);
  source.pipe(b);
  return [a, b];
}

const READS = new Set(['GetObject', 'HeadObject']);
const LISTS = new Set(['ListObjects', 'ListObjectsV2']);
// Object metadata a copy must keep.
const KEPT = /^(content-type|content-encoding|content-disposition|content-language|cache-control|expires|x-amz-meta-.*|x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)|x-amz-storage-class|x-amz-tagging)$/;

export async function serveMigrate(ctx: ServeContext): Promise<void> {
  const old = secondary(ctx, ctx.route.route.from!);
  const { op, route } = ctx;
  if (LISTS.has(op.name)) return mergedList(ctx, route, old);
  if (op.name === 'DeleteObject' || op.name === 'DeleteObjects') return deleteBoth(ctx, route, old);
  const r = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  if (!READS.has(op.name) || r.status !== 404) return ctx.respondWith(route, r);
  // A miss at the new provider: the object may not have moved yet.
  await drain(r);
  ctx.metrics.fallbackReads.inc({ bucket: route.clientBucket });
  const oldReq: SendRequest = { ...ctx.sendReq, headers: { ...ctx.sendReq.headers } };
  const copy = route.route.copyOnRead && op.name === 'GetObject' && ctx.req.headers.range === undefined &&
    !Object.keys(ctx.sendReq.headers).some((h) => h.startsWith('if-'));
  if (copy && old.upstream.profile.checksums.checksumMode) oldReq.headers['x-amz-checksum-mode'] = 'ENABLED';
  const o = await send(old.upstream, old.upstreamBucket, oldReq);
  if (!copy || o.status !== 200) return ctx.respondWith(old, o);
  return copyOnRead(ctx, old, o);
}

/** Streams the old provider's object to the client and, at the same time, into the new one. */
async function copyOnRead(ctx: ServeContext, old: Route, o: UpstreamResponse): Promise<void> {
  const { route } = ctx;
  const length = Number(o.headers['content-length']);
  if (!Number.isSafeInteger(length)) return ctx.respondWith(old, o);
  const headers: Record<string, string> = {};
  const accepted = new Set(route.upstream.profile.checksums.headerAlgorithms);
  for (const [k, v] of Object.entries(o.headers)) {
    if (typeof v !== 'string' || !KEPT.test(k)) continue;
    if (k.startsWith('x-amz-checksum-') && (!accepted.has(k.slice(15)) || /-\d+$/.test(v))) continue;
    headers[k] = v;
  }
  const [toClient, toNew] = tee(o.body);
  // The copy has its own abort: a client that goes away must also stop the copy short of its
  // length, so the new provider discards it.
  const copyAbort = new AbortController();
  ctx.signal.addEventListener('abort', () => copyAbort.abort(), { once: true });
  toNew.on('error', () => copyAbort.abort());
  const bucket = route.clientBucket;
  const put = send(route.upstream, route.upstreamBucket, {
    operation: 'PutObject', method: 'PUT', key: ctx.address.key!, query: [], headers, queryAuth: false,
    body: { stream: toNew, length, headers: {} }, signal: copyAbort.signal,
  }).then(async (r) => {
    await drain(r);
    if (r.status >= 300) throw new Error(`copy-on-read PUT answered ${r.status}`);
    ctx.metrics.copies.inc({ bucket, result: 'ok' });
    ctx.metrics.bytesMoved.inc({ bucket }, length);
  }).catch((e: Error) => {
    ctx.metrics.copies.inc({ bucket, result: 'failed' });
    ctx.log.warn({ reqId: ctx.requestId, bucket, err: e.message }, 'copy-on-read failed; the object stays at the old provider');
    // The client's read goes on without the copy.
    toNew.resume();
  });
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) {
      copyAbort.abort();
      o.body.destroy();
    }
  });
  await ctx.respondWith(old, { status: o.status, headers: o.headers, body: toClient });
  await put;
}

/** Deletes go to both sides, so an object deleted during a migration is not read back from the old one. */
async function deleteBoth(ctx: ServeContext, route: Route, old: Route): Promise<void> {
  // DeleteObject has no body; DeleteObjects' XML was read whole by the pipeline, so the same
  // request can be sent twice.
  const r = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  if (r.status < 300) {
    const o = await send(old.upstream, old.upstreamBucket, ctx.sendReq);
    await drain(o);
    if (o.status >= 300 && o.status !== 404) {
      ctx.log.warn({ reqId: ctx.requestId, status: o.status }, 'delete at the old provider failed during a migration');
      await drain(r);
      throw new S3Error('InternalError', 'The object was deleted at the new provider but not at the old one; retry the delete.');
    }
  }
  return ctx.respondWith(route, r);
}

async function mergedList(ctx: ServeContext, route: Route, old: Route): Promise<void> {
  const q = parseListRequest(ctx.op.name, ctx.sendReq.query);
  const providerQuery = providerListQuery(q);
  const base = { ...ctx.sendReq, operation: 'ListObjectsV2', query: providerQuery };
  const [a, b] = await Promise.all([
    send(route.upstream, route.upstreamBucket, base),
    send(old.upstream, old.upstreamBucket, base),
  ]);
  if (a.status !== 200) {
    await drain(b);
    return ctx.respondWith(route, a);
  }
  // A bucket that does not exist (yet) at the old provider lists as empty.
  const read = async (r: UpstreamResponse) => {
    let t = '';
    for await (const c of r.body) t += c;
    return t;
  };
  const newer = parseListing(await read(a));
  const older = b.status === 200 ? parseListing(await read(b)) : (await drain(b), { items: [], truncated: false });
  const page = mergeListings(newer, older, q.maxKeys);
  ctx.respondXml(listingXml(ctx.op.name, route.clientBucket, q, page));
}

/** Writes to both providers; the primary's answer is the client's. */
export async function serveMirror(ctx: ServeContext): Promise<void> {
  const { op, route } = ctx;
  const mirror = secondary(ctx, ctx.route.route.mirror!);
  const writes = new Set(['PutObject', 'CopyObject', 'DeleteObject', 'DeleteObjects']);
  if (!writes.has(op.name)) {
    // Reads, listings, and multipart uploads (whose upload ids are provider-specific) stay on the primary.
    return ctx.respondWith(route, await send(route.upstream, route.upstreamBucket, ctx.sendReq));
  }
  const body = ctx.sendReq.body;
  let first = ctx.sendReq;
  let second = ctx.sendReq;
  let unblock = () => {};
  if (body) {
    const [x, y] = tee(body.stream);
    first = { ...ctx.sendReq, body: { ...body, stream: x } };
    second = { ...ctx.sendReq, body: { ...body, stream: y } };
    // A mirror that fails or answers early must not hold the primary's upload back.
    unblock = () => y.resume();
  }
  const [p, m] = await Promise.allSettled([
    send(route.upstream, route.upstreamBucket, first),
    send(mirror.upstream, mirror.upstreamBucket, second).finally(unblock),
  ]);
  if (m.status === 'fulfilled') {
    await drain(m.value);
    if (m.value.status >= 300) ctx.log.warn({ reqId: ctx.requestId, status: m.value.status, upstream: mirror.upstream.name }, 'mirror write failed');
  } else {
    ctx.log.warn({ reqId: ctx.requestId, upstream: mirror.upstream.name, err: (m.reason as Error).message }, 'mirror write failed');
  }
  if (p.status === 'rejected') throw p.reason;
  return ctx.respondWith(route, p.value);
}
