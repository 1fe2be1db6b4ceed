// Bucket modes beyond one upstream. migrate: reads go to the new provider and fall back to the
// old one on a miss (optionally copying the object over while it streams), writes go to the
// new one, deletes to both, listings are merged. mirror: writes go to both, reads to the primary.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Address } from '../addressing/resolve.js';
import type { Operation } from '../authorize/operation.js';
import type { BucketTarget, GatewayConfig } from '../config/types.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { send, type SendRequest } from '../forward/send.js';
import type { Cancel } from '../forward/cancel.js';
import type { Metrics } from '../metrics/metrics.js';
import { S3Error, unescapeXml } from '../s3/errors.js';
import { deleteObjectsXml, deleteResultErrors, errorEntries, parseDeleteObjects, resultOf, type DeleteError, type DeleteObject } from '../authorize/delete-objects.js';
import { replacedBody } from '../payload/replaced.js';
import type { Route } from './route.js';
import { listingXml, mergeListings, parseListing, parseListRequest, providerListQuery } from './listing.js';
import { copyKey, copyOnRead, headStatus, inflightCopies, plainRead } from './copy-on-read.js';
import { planAcl } from './object-acl.js';
import { drain } from './io.js';
import { conditionsAcrossMigration, writeConditions } from './conditions.js';
import { serveMirrorTo } from './mirror.js';

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
  /** CopyObject and UploadPartCopy: the source as the client named it (its bucket is a client bucket) */
  copySource?: { bucket: string; key: string; rest: string };
  /** a promise while the body is still on its way (respond() writes an answer read whole at once) */
  respondWith(route: Route, r: UpstreamResponse): Promise<void> | undefined;
  respondXml(xml: string): void;
  /** DeleteObjects: <Error> entries to add to the DeleteResult the client gets; returns all of them so far */
  addDeleteErrors(entries: string): string;
}

function secondary(ctx: ServeContext, t: BucketTarget): Route {
  const upstream = ctx.cfg.upstreams.get(t.upstream);
  if (!upstream) throw new S3Error('InternalError');
  return { ...ctx.route, upstream, upstreamBucket: t.bucket ?? ctx.route.upstreamBucket };
}

// Reads that fall back to the old provider on a miss at the new one.
const READS = new Set(['GetObject', 'HeadObject', 'GetObjectAcl', 'GetObjectTagging']);
/**
 * Writes that change an object where it is, at the new provider or, where it has not moved yet,
 * at the old one (whose ACL and tags a later copy carries). Their small bodies are read whole
 * (listen/pipeline.ts), so the request can be sent twice.
 */
export const CHANGED_WHERE_IT_IS = new Set(['PutObjectAcl', 'PutObjectTagging', 'DeleteObjectTagging']);
const LISTS = new Set(['ListObjects', 'ListObjectsV2']);
// Client writes that make a key exist or vanish at the new provider, or change who may read it: a
// copy-on-read of the same key gives way to them (copy-on-read.ts).
const KEY_WRITES = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject', 'PutObjectAcl', 'PutObjectTagging', 'DeleteObjectTagging']);

export async function serveMigrate(ctx: ServeContext): Promise<void> {
  const old = secondary(ctx, ctx.route.route.from!);
  const { op, route } = ctx;
  if (LISTS.has(op.name)) return mergedList(ctx, route, old);
  await supersedeCopies(ctx);
  if (op.name === 'DeleteObject' || op.name === 'DeleteObjects') return deleteBoth(ctx, route, old);
  if (CHANGED_WHERE_IT_IS.has(op.name)) return changeWhereItIs(ctx, route, old);
  if (CONDITIONAL_WRITES.has(op.name) && ctx.address.key !== undefined) await conditionsAtBoth(ctx, route, old, ctx.address.key);
  const r = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  if (!READS.has(op.name) || !(await missingAtNew(ctx, route, r))) return ctx.respondWith(route, r);
  // A miss at the new provider: the object may not have moved yet.
  await drain(r);
  ctx.metrics.fallbackReads.inc({ bucket: route.clientBucket });
  const oldReq: SendRequest = { ...ctx.sendReq, headers: { ...ctx.sendReq.headers } };
  // Only a plain whole-object read is copied: a Range, a condition or a response-* override
  // shapes the client's answer, never the object stored at the new provider.
  const copy = route.route.copyOnRead === true && op.name === 'GetObject' && plainRead(ctx.sendReq);
  if (copy && old.upstream.profile.checksums.checksumMode) oldReq.headers['x-amz-checksum-mode'] = 'ENABLED';
  // The copy carries the object's canned ACL, read meanwhile with s3gate's own credentials; an
  // anonymous read (sent unsigned, the provider's ACLs deciding) copies only what anyone may read.
  const [o, plan] = await Promise.all([
    send(old.upstream, old.upstreamBucket, oldReq),
    copy ? planAcl(old.upstream, old.upstreamBucket, route.upstream, ctx.address.key!, ctx.sendReq.unsigned === true) : undefined,
  ]);
  if (!plan || o.status !== 200) return ctx.respondWith(old, o);
  if ('skip' in plan) {
    ctx.metrics.copies.inc({ bucket: route.clientBucket, result: 'skipped' });
    ctx.log.info({ reqId: ctx.requestId, bucket: route.clientBucket, key: ctx.address.key, why: plan.skip }, 'copy-on-read skipped: the copy would not keep who may read the object');
    return ctx.respondWith(old, o);
  }
  return copyOnRead(ctx, old, o, plan);
}

// Writes whose If-None-Match / If-Match name the key, which may still be only at the old provider.
const CONDITIONAL_WRITES = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);

/** A conditional write's conditions, held against the key wherever it is (conditions.ts). */
async function conditionsAtBoth(ctx: ServeContext, route: Route, old: Route, key: string): Promise<void> {
  const headers = await conditionsAcrossMigration(
    ctx.op.name, ctx.sendReq.headers, route.upstream.profile,
    () => headStatus(route.upstream, route.upstreamBucket, key),
    () => headStatus(old.upstream, old.upstreamBucket, key),
  );
  if (headers) ctx.sendReq.headers = headers;
}

/**
 * The new provider does not hold the key: a 404, or, to an anonymous read, a 403 where s3gate's
 * own HEAD finds no key there (a provider does not tell an anonymous client whether a key exists
 * in a bucket it may not list).
 */
async function missingAtNew(ctx: ServeContext, route: Route, r: UpstreamResponse): Promise<boolean> {
  if (r.status === 404) return true;
  if (r.status !== 403 || !ctx.sendReq.unsigned || ctx.address.key === undefined) return false;
  return (await headStatus(route.upstream, route.upstreamBucket, ctx.address.key)).status === 404;
}

/** An ACL or tagging write, at the new provider, or at the old one where the object has not moved. */
async function changeWhereItIs(ctx: ServeContext, route: Route, old: Route): Promise<void> {
  const r = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  const body = ctx.sendReq.body;
  const again = !body || body.buffer !== undefined || body.length === 0;
  if (r.status !== 404 || !again) return ctx.respondWith(route, r);
  await drain(r);
  const oldReq: SendRequest = body && body.buffer === undefined ? { ...ctx.sendReq, body: { ...body, buffer: Buffer.alloc(0) } } : ctx.sendReq;
  return ctx.respondWith(old, await send(old.upstream, old.upstreamBucket, oldReq));
}

/** A write or delete of a key wins over a copy-on-read of it that this process has in flight. */
async function supersedeCopies(ctx: ServeContext): Promise<void> {
  const { op, route } = ctx;
  const registry = inflightCopies(ctx.metrics);
  if (registry.size === 0) return;
  let keys: string[] = [];
  if (KEY_WRITES.has(op.name) && ctx.address.key !== undefined) keys = [ctx.address.key];
  else if (op.name === 'DeleteObjects' && ctx.sendReq.body?.buffer) keys = deleteObjectsKeys(ctx.sendReq.body.buffer.toString('utf8'));
  const why = `${op.name} of the key`;
  await Promise.all(keys.map((k) => registry.supersede(copyKey(route.upstream, route.upstreamBucket, k), why)));
}

/** The keys a DeleteObjects body names (it was read whole and verified by the pipeline). */
export function deleteObjectsKeys(xml: string): string[] {
  return [...xml.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => unescapeXml(m[1]!));
}

/**
 * Deletes go to both sides, so an object deleted during a migration is not read back from the
 * old one. The old provider first: a copy-on-read checks the old provider right before it
 * commits, so a copy can only come back if both halves of the delete fall between that check
 * and its commit.
 */
async function deleteBoth(ctx: ServeContext, route: Route, old: Route): Promise<void> {
  // Held against both providers, a condition could pass at one and fail at the other after the
  // first delete went: refused before either (DeleteObjects' are refused as its body is read).
  const conditions = writeConditions(ctx.op.name, ctx.sendReq.headers);
  if (conditions.length > 0) {
    throw new S3Error('NotImplemented', 'A conditional delete on a bucket being migrated is not supported: the key may be at either provider.', { Header: conditions[0]! });
  }
  // DeleteObject has no body; DeleteObjects' XML was read whole by the pipeline, so the same
  // request can be sent twice.
  const o = await send(old.upstream, old.upstreamBucket, ctx.sendReq);
  if (o.status >= 300 && o.status !== 404) {
    await drain(o);
    ctx.log.warn({ reqId: ctx.requestId, status: o.status, key: ctx.address.key }, 'delete at the old provider failed during a migration');
    throw new S3Error('InternalError', OLD_DELETE_FAILED);
  }
  if (ctx.op.name === 'DeleteObjects' && o.status === 200) {
    const failed = deleteResultErrors(await readText(o)).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) return deleteTheRest(ctx, route, failed);
  } else await drain(o);
  return ctx.respondWith(route, await send(route.upstream, route.upstreamBucket, ctx.sendReq));
}

const OLD_DELETE_FAILED = 'The object could not be deleted at the old provider; retry the delete.';

/**
 * DeleteObjects whose keys the old provider answered with an <Error> each (AccessDenied,
 * SlowDown, InternalError, a version it does not know): deleted at the new provider only, such a
 * key would be read back from the old one. So it is not sent on; the client gets an error for it
 * in the DeleteResult, and deletes the rest as asked.
 */
async function deleteTheRest(ctx: ServeContext, route: Route, errors: DeleteError[]): Promise<void> {
  const sent = ctx.sendReq.body!;
  const req = parseDeleteObjects(sent.buffer!.toString('utf8'));
  // A provider need not repeat the version id in its <Error>: then every version of that key named.
  const failedAt = (o: DeleteObject) => errors.some((e) => e.Key === o.Key && (e.VersionId === undefined || e.VersionId === o.VersionId));
  const failed = req.objects.filter(failedAt);
  ctx.log.warn({ reqId: ctx.requestId, keys: failed.length, codes: [...new Set(errors.map((e) => e.Code))] }, 'keys of a DeleteObjects failed at the old provider during a migration');
  const all = ctx.addDeleteErrors(errorEntries(failed, 'InternalError', OLD_DELETE_FAILED));
  const rest = req.objects.filter((o) => !failedAt(o));
  if (rest.length === 0) return ctx.respondXml(resultOf(all));
  const body = replacedBody(Buffer.from(deleteObjectsXml({ ...req, objects: rest }), 'utf8'), sent.headers, {});
  const sendReq: SendRequest = { ...ctx.sendReq, body, declaredSha256: body.sha256 };
  return ctx.respondWith(route, await send(route.upstream, route.upstreamBucket, sendReq));
}

async function readText(r: UpstreamResponse): Promise<string> {
  let t = '';
  for await (const c of r.body) t += c;
  return t;
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
  // A bucket that does not exist (yet) at the old provider lists as empty. Any other failure
  // there fails the listing: an answer without the keys only the old provider holds would tell
  // the client they are gone.
  if (b.status !== 200 && b.status !== 404) {
    await drain(a);
    ctx.log.warn({ reqId: ctx.requestId, status: b.status }, 'listing at the old provider failed during a migration');
    return ctx.respondWith(old, b);
  }
  const newer = parseListing(await readText(a));
  const older = b.status === 200 ? parseListing(await readText(b)) : (await drain(b), { items: [], truncated: false });
  const page = mergeListings(newer, older, q.maxKeys);
  ctx.respondXml(listingXml(ctx.op.name, route.clientBucket, q, page));
}

/** Writes to both providers, the mirror only once the primary accepted; the primary's answer is the client's. */
export function serveMirror(ctx: ServeContext): Promise<void> {
  return serveMirrorTo(ctx, secondary(ctx, ctx.route.route.mirror!));
}
