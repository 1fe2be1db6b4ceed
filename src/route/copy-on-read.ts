// Copy-on-read: a read served by the old provider also writes the object into the new one while
// it streams to the client. The copy must store the object as the old provider holds it, and it
// must never overwrite a write or bring back a delete that happened while it was in flight:
//
// - Only a plain read copies: no Range, no condition, no response-* override, no partNumber,
//   versionId or SSE-C key. Anything else shapes the answer, not the object, so it copies nothing.
// - The copy is conditional (If-None-Match: *) where the new provider honours that
//   (`conditionalWrites.ifNoneMatch` in its preset): a write that lands first makes it fail.
// - Its last bytes are held back (commit-gate.ts) until a check right before the commit: the old
//   provider still holds the very object read (same ETag), so a delete that got there first
//   stops it; and, where the new provider has no conditional writes, the new provider still has
//   no such key.
// - A write or delete of the key served by this process cancels a copy that has not begun to
//   commit, or waits until a committing one has landed (inflight.ts).
// - Tags: the GET answers only their count (x-amz-tagging-count). Where it is above 0 they are
//   read (object-tags.ts) before the copy's PUT starts, while the bytes wait in the gate (the
//   client's read waits with them: backpressure, nothing more is buffered); tags that cannot be
//   read make the read copy nothing.
//
// What remains is a request served by another process that falls between the check and the
// commit: a delete of both sides (deletes go to the old provider first, then the new one), or,
// without conditional writes, a write. Its length is logged (`windowMs`) and measured in
// docs/migration.md.
import { PassThrough, Readable } from 'node:stream';
import type { Upstream } from '../config/types.js';
import { callUpstream } from '../forward/client.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { send, type SendRequest } from '../forward/send.js';
import { RequestCancel } from '../forward/cancel.js';
import type { Metrics } from '../metrics/metrics.js';
import { CommitGate } from './commit-gate.js';
import { drain } from './io.js';
import { InflightCopies, Superseded } from './inflight.js';
import type { Route } from './route.js';
import type { ServeContext } from './modes.js';
import { readCannedAcl, type AclPlan } from './object-acl.js';
import { readTagging, tagCount } from './object-tags.js';

// Object metadata a copy must keep, as a GET answers it. Tags are not among it: a GET answers
// only their count, and the copy carries what GetObjectTagging answers (object-tags.ts).
const KEPT = /^(content-type|content-encoding|content-disposition|content-language|cache-control|expires|x-amz-meta-.*|x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)|x-amz-storage-class|x-amz-website-redirect-location)$/;

// Query parameters that carry the client's own signature, or name the operation (the SDKs' x-id):
// they do not change what is read.
const NEUTRAL_QUERY = new Set(['x-id', 'awsaccesskeyid', 'signature', 'expires']);

/** The read returns the object as stored, whole: nothing in it asks for another view. */
export function plainRead(r: SendRequest): boolean {
  for (const [name] of r.query) {
    const n = name.toLowerCase();
    if (NEUTRAL_QUERY.has(n)) continue;
    // A presigned URL's X-Amz-* never get here: the request's view (authorize/view.ts) took its
    // credentials out and moved the rest into the headers.
    return false;
  }
  for (const h in r.headers) {
    if (r.headers[h] === undefined) continue;
    if (h === 'range' || h.startsWith('if-') || h.startsWith('x-amz-server-side-encryption-customer-')) return false;
  }
  return true;
}

// One registry per gateway (its Metrics lives as long as the gateway, across config reloads).
const registries = new WeakMap<Metrics, InflightCopies>();
export function inflightCopies(m: Metrics): InflightCopies {
  let r = registries.get(m);
  if (!r) registries.set(m, (r = new InflightCopies()));
  return r;
}

export function copyKey(up: Upstream, bucket: string, key: string): string {
  return `${up.name}\n${up.endpoint.href}\n${up.path ?? ''}\n${bucket}\n${key}`;
}

export async function headStatus(up: Upstream, bucket: string, key: string): Promise<{ status: number; etag?: string }> {
  const r = await callUpstream(up, { operation: 'HeadObject', method: 'HEAD', bucket, key });
  await drain(r);
  const etag = r.headers.etag;
  return { status: r.status, ...(typeof etag === 'string' ? { etag } : {}) };
}

/** The headers an object is stored with, from a provider's answer to a plain read of it. */
export function objectHeaders(o: UpstreamResponse, to: Upstream): Record<string, string> {
  const headers: Record<string, string> = {};
  const accepted = new Set(to.profile.checksums.headerAlgorithms);
  for (const [k, v] of Object.entries(o.headers)) {
    if (typeof v !== 'string' || !KEPT.test(k)) continue;
    if (k.startsWith('x-amz-checksum-') && (!accepted.has(k.slice(15)) || /-\d+$/.test(v))) continue;
    headers[k] = v;
  }
  return headers;
}

/** The copy's headers: the old provider's answer to a plain read, never the client's; its ACL and tags; conditional where it can be. */
function storedHeaders(o: UpstreamResponse, to: Upstream, acl: Record<string, string>, tagging: string): Record<string, string> {
  const headers = { ...objectHeaders(o, to), ...acl };
  if (tagging !== '') headers['x-amz-tagging'] = tagging;
  if (to.profile.conditionalWrites.ifNoneMatch) headers['if-none-match'] = '*';
  return headers;
}

/** What the copy would have to carry cannot be read: the read copies nothing, like the other skipped copies. */
class NotCarried extends Error {}

/** Streams the old provider's object to the client and, at the same time, into the new one. */
export async function copyOnRead(ctx: ServeContext, old: Route, o: UpstreamResponse, plan: Exclude<AclPlan, { skip: string }>): Promise<void> {
  const { route } = ctx;
  const key = ctx.address.key!;
  const length = Number(o.headers['content-length']);
  const etag = o.headers.etag;
  if (!Number.isSafeInteger(length) || typeof etag !== 'string') return ctx.respondWith(old, o);
  const bucket = route.clientBucket;
  const copy = inflightCopies(ctx.metrics).begin(copyKey(route.upstream, route.upstreamBucket, key));
  const conditional = route.upstream.profile.conditionalWrites.ifNoneMatch;
  const copyAbort = new RequestCancel();
  let windowStart = 0;

  // Right before the commit: is the object read still the old provider's, with the ACL the copy
  // carries, and (without conditional writes) is the key still free at the new one?
  const decide = async (): Promise<void> => {
    if (copy.cancelled) throw copy.cancelled;
    const [was, now, acl] = await Promise.all([
      headStatus(old.upstream, old.upstreamBucket, key),
      conditional ? Promise.resolve(undefined) : headStatus(route.upstream, route.upstreamBucket, key),
      plan.acl === undefined ? Promise.resolve(undefined) : readCannedAcl(old.upstream, old.upstreamBucket, key),
    ]);
    if (was.status !== 200 || was.etag !== etag) throw new Superseded(`the old provider now answers ${was.status}${was.etag && was.etag !== etag ? ' with another ETag' : ''}`);
    if (now && now.status !== 404) throw new Superseded(`the new provider now answers ${now.status}`);
    if (acl && (!('acl' in acl) || acl.acl !== plan.acl)) throw new Superseded('the object\'s ACL changed at the old provider');
    copy.beginCommit();
    windowStart = performance.now();
  };

  const toClient = new PassThrough();
  // An empty object has no last bytes to hold back: it is checked, then sent.
  const gate = length > 0 ? new CommitGate(decide) : undefined;
  o.body.on('error', (e) => {
    toClient.destroy(e);
    gate?.destroy(e);
  });
  o.body.pipe(toClient);
  if (gate) o.body.pipe(gate);
  const stop = (e: Error) => {
    // A destroyed gate unpipes itself, and the client's read goes on without the copy.
    if (gate && !gate.destroyed) gate.destroy(e);
    copyAbort.abort(e);
  };
  copy.whenCancelled(stop);
  // A client that goes away stops the copy short of its length, so the new provider discards it.
  ctx.signal.addEventListener('abort', () => stop(new Error('the client went away')), { once: true });
  gate?.on('error', (e) => copyAbort.abort(e));

  const put = (async () => {
    // The copy's PUT starts with its tags or not at all; until they are read the gate fills and
    // holds the old provider's stream (and so the client's read) back.
    let tagging = '';
    if (tagCount(o.headers) > 0) {
      const tags = await readTagging(old.upstream, old.upstreamBucket, key);
      if ('why' in tags) throw new NotCarried(`its tags could not be read (${tags.why})`);
      tagging = tags.tagging;
    }
    if (copy.cancelled) throw copy.cancelled;
    if (!gate) await decide();
    const r = await send(route.upstream, route.upstreamBucket, {
      operation: 'PutObject', method: 'PUT', key, query: [], headers: storedHeaders(o, route.upstream, plan.headers, tagging),
      body: gate ? { stream: gate, length, headers: {} } : { stream: Readable.from([]), buffer: Buffer.alloc(0), length: 0, headers: {} },
      signal: copyAbort,
    });
    await drain(r);
    const windowMs = windowStart ? Math.round((performance.now() - windowStart) * 100) / 100 : undefined;
    if (r.status === 412) throw new Superseded('the new provider has the key now (412)');
    if (r.status >= 300) throw new Error(`copy-on-read PUT answered ${r.status}`);
    ctx.metrics.copies.inc({ bucket, result: 'ok' });
    ctx.metrics.bytesMoved.inc({ bucket }, length);
    ctx.log.info({ reqId: ctx.requestId, bucket, key, windowMs, conditional, ...(plan.acl ? { acl: plan.acl } : {}) }, 'copy-on-read copied');
  })().catch((e: Error) => {
    // A provider that answered before reading the whole body must not hold the client's read back.
    if (gate && !gate.destroyed) gate.destroy();
    if (e instanceof NotCarried && copy.cancelled === undefined) {
      ctx.metrics.copies.inc({ bucket, result: 'skipped' });
      ctx.log.info({ reqId: ctx.requestId, bucket, key, why: e.message }, 'copy-on-read skipped: the copy would not keep the object\'s tags');
      return;
    }
    const superseded = e instanceof Superseded || copy.cancelled !== undefined;
    ctx.metrics.copies.inc({ bucket, result: superseded ? 'superseded' : 'failed' });
    ctx.log[superseded ? 'info' : 'warn'](
      { reqId: ctx.requestId, bucket, key, err: (copy.cancelled ?? e).message },
      superseded ? 'copy-on-read abandoned: the key was written or deleted meanwhile' : 'copy-on-read failed; the object stays at the old provider',
    );
  }).finally(() => copy.finish());

  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) o.body.destroy();
  });
  await ctx.respondWith(old, { status: o.status, headers: o.headers, body: toClient });
  await put;
}
