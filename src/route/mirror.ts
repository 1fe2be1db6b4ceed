// mode: mirror. Writes go to the primary and to the mirror, reads to the primary. The mirror
// only ever commits what the primary accepted:
// - PutObject streams to both, but the mirror's last chunk is held back (commit-gate.ts) until
//   the primary has answered: a 2xx lets it commit, anything else (a refusal, a 412, a failure)
//   ends the mirror's upload short, so the mirror discards it.
// - CopyObject, DeleteObject and DeleteObjects have no body to hold back: they are sent to the
//   mirror after the primary succeeded, with the copy source named for the mirror's provider.
// - A write the mirror cannot repeat (a copy from a bucket the mirror does not hold, a multipart
//   upload, whose upload ids are the primary's) is replicated: read back from the primary and
//   written to the mirror once the primary completed it, with the canned ACL the primary holds.
// - PutObjectAcl: once the primary accepted it, the mirror gets the canned ACL the primary then
//   holds (object-acl.ts), whatever form the client's request had.
// - PutObjectTagging and DeleteObjectTagging: once the primary accepted them, the same request
//   (its small body read whole) goes to the mirror.
// The primary decided, so the mirror's requests carry no conditions. Every mirror write is
// counted (s3gate_mirror_writes_total) and its lag behind the primary's answer observed; a
// failure is logged with the key, never returned to the client.
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { callUpstream } from '../forward/client.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { send, type SendRequest } from '../forward/send.js';
import { escapeXml, unescapeXml } from '../s3/errors.js';
import { deleteResultErrors } from '../authorize/delete-objects.js';
import { uriEncode } from '../signing/sigv4.js';
import { CommitGate, decision } from './commit-gate.js';
import { objectHeaders } from './copy-on-read.js';
import { readTagging, tagCount } from './object-tags.js';
import { planAcl, readCannedAcl } from './object-acl.js';
import { buffered, drain, succeeded } from './io.js';
import type { ServeContext } from './modes.js';
import { findRoute, type Route } from './route.js';

type Outcome = 'ok' | 'failed' | 'skipped';

// Conditions were the primary's to check; the mirror follows what the primary decided.
const CONDITIONS = /^(if-|x-amz-copy-source-if-|x-amz-copy-if-)/;

function unconditional(h: SendRequest['headers']): SendRequest['headers'] {
  const out: SendRequest['headers'] = {};
  for (const k in h) if (!CONDITIONS.test(k)) out[k] = h[k]!;
  return out;
}

class MirrorWrite {
  private readonly started = performance.now();
  private primaryAnswered = 0;
  constructor(private readonly ctx: ServeContext, private readonly mirror: Route, private readonly key: string | undefined) {}

  primaryDone(): void {
    this.primaryAnswered = performance.now();
  }

  record(result: Outcome, detail: Record<string, unknown> = {}): void {
    const { ctx, mirror } = this;
    const bucket = ctx.route.clientBucket;
    ctx.metrics.mirrorWrites.inc({ bucket, result });
    if (result === 'ok') ctx.metrics.mirrorLag.observe({ bucket }, (performance.now() - (this.primaryAnswered || this.started)) / 1000);
    const line = { reqId: ctx.requestId, bucket, key: this.key, op: ctx.op.name, upstream: mirror.upstream.name, ...detail };
    if (result === 'failed') ctx.log.warn(line, 'mirror write failed; the mirror is behind the primary for this key');
    else if (result === 'skipped' && detail.why) ctx.log.info(line, 'mirror write skipped');
  }
}

export async function serveMirrorTo(ctx: ServeContext, mirror: Route): Promise<void> {
  const { op, route } = ctx;
  switch (op.name) {
    case 'PutObject':
      return mirrorPut(ctx, mirror);
    case 'CopyObject':
      return mirrorCopy(ctx, mirror);
    case 'DeleteObject':
      return mirrorDelete(ctx, mirror);
    case 'DeleteObjects':
      return mirrorDeleteObjects(ctx, mirror);
    case 'CompleteMultipartUpload':
      return mirrorAfterComplete(ctx, mirror);
    case 'PutObjectAcl':
      return mirrorAcl(ctx, mirror);
    case 'PutObjectTagging':
    case 'DeleteObjectTagging':
      return mirrorTagging(ctx, mirror);
    default:
      // Reads, listings, and the rest of a multipart upload stay on the primary.
      return ctx.respondWith(route, await send(route.upstream, route.upstreamBucket, ctx.sendReq));
  }
}

async function mirrorPut(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const w = new MirrorWrite(ctx, mirror, ctx.address.key);
  const body = ctx.sendReq.body;
  const mirrorReq = (b: SendRequest['body']): SendRequest => ({ ...ctx.sendReq, headers: unconditional(ctx.sendReq.headers), ...(b ? { body: b } : {}) });
  if (!body || body.buffer || body.length === 0) {
    // Nothing to stream: the mirror gets the same bytes once the primary has accepted them.
    const p = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
    w.primaryDone();
    if (p.status < 300) {
      const buffer = body?.buffer ?? Buffer.alloc(0);
      await settle(w, send(mirror.upstream, mirror.upstreamBucket, mirrorReq(body ? { ...body, stream: Readable.from([buffer]), buffer } : undefined)));
    } else {
      w.record('skipped');
    }
    return ctx.respondWith(route, p);
  }
  const primaryAnswer = decision();
  const gate = new CommitGate(primaryAnswer.wait);
  const toPrimary = new PassThrough();
  body.stream.on('error', (e) => {
    toPrimary.destroy(e);
    gate.destroy(e);
  });
  body.stream.pipe(toPrimary);
  body.stream.pipe(gate);
  // A mirror that fails or answers early must not hold the primary's upload back: a destroyed
  // gate unpipes itself.
  const m = send(mirror.upstream, mirror.upstreamBucket, mirrorReq({ ...body, stream: gate })).finally(() => {
    if (!gate.destroyed && !gate.writableFinished) gate.destroy();
  });
  m.catch(() => {});
  let p: UpstreamResponse;
  try {
    p = await send(route.upstream, route.upstreamBucket, { ...ctx.sendReq, body: { ...body, stream: toPrimary } });
  } catch (e) {
    primaryAnswer.refuse(new Error('the primary failed'));
    gate.destroy();
    await m.then(drain, () => {});
    w.record('skipped');
    throw e;
  }
  w.primaryDone();
  if (p.status < 300) {
    primaryAnswer.allow();
    await settle(w, m);
  } else {
    primaryAnswer.refuse(new Error(`the primary answered ${p.status}`));
    gate.destroy();
    await m.then(drain, () => {});
    w.record('skipped');
  }
  return ctx.respondWith(route, p);
}

/** Waits for a mirror request and records how it went. */
async function settle(w: MirrorWrite, m: Promise<UpstreamResponse>): Promise<boolean> {
  try {
    const r = await m;
    const { text } = await buffered(r);
    if (succeeded(r.status, text)) {
      w.record('ok');
      return true;
    }
    w.record('failed', { status: r.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] });
  } catch (e) {
    w.record('failed', { err: (e as Error).message });
  }
  return false;
}

/**
 * The mirror's name for the copy source, where the mirror provider holds it: the same client
 * bucket (the mirror's bucket), another bucket mirrored to the same provider, or a bucket whose
 * primary is that provider. A source version id is the primary's, meaningless at the mirror.
 */
export function mirrorCopySource(ctx: ServeContext, mirror: Route): string | undefined {
  const src = ctx.copySource;
  if (!src || /[?&]versionId=/.test(src.rest)) return undefined;
  let bucket: string | undefined;
  if (src.bucket === ctx.route.clientBucket) bucket = mirror.upstreamBucket;
  else {
    const r = findRoute(ctx.cfg, src.bucket);
    const m = r.route.mode === 'mirror' ? r.route.mirror : undefined;
    if (m && m.upstream === mirror.upstream.name) bucket = m.bucket ?? r.upstreamBucket;
    else if (r.upstream === mirror.upstream) bucket = r.upstreamBucket;
  }
  return bucket === undefined ? undefined : `/${uriEncode(bucket, false)}/${uriEncode(src.key, true)}${src.rest}`;
}

async function mirrorCopy(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const w = new MirrorWrite(ctx, mirror, ctx.address.key);
  const { r: p, text } = await buffered(await send(route.upstream, route.upstreamBucket, ctx.sendReq));
  w.primaryDone();
  if (!succeeded(p.status, text)) {
    w.record('skipped');
    return ctx.respondWith(route, p);
  }
  const source = mirrorCopySource(ctx, mirror);
  const copied = source !== undefined && await settleQuietly(send(mirror.upstream, mirror.upstreamBucket, {
    ...ctx.sendReq, headers: { ...unconditional(ctx.sendReq.headers), 'x-amz-copy-source': source },
  }));
  if (copied) w.record('ok');
  // The mirror does not hold the source (or is behind on it): copy the result from the primary.
  else await replicate(ctx, mirror, w, ctx.address.key!);
  return ctx.respondWith(route, p);
}

async function settleQuietly(m: Promise<UpstreamResponse>): Promise<boolean> {
  try {
    const r = await m;
    const { text } = await buffered(r);
    return succeeded(r.status, text);
  } catch {
    return false;
  }
}

/** Reads the object back from the primary and writes it to the mirror (write-then-replicate). */
async function replicate(ctx: ServeContext, mirror: Route, w: MirrorWrite, key: string): Promise<void> {
  const { route } = ctx;
  try {
    const o = await callUpstream(route.upstream, { operation: 'GetObject', method: 'GET', bucket: route.upstreamBucket, key });
    const length = Number(o.headers['content-length']);
    if (o.status !== 200 || !Number.isSafeInteger(length)) {
      await drain(o);
      return w.record('failed', { status: o.status, why: 'reading the primary back' });
    }
    // Who may read the object goes with it; where it cannot, the mirror keeps what it had.
    const acl = await planAcl(route.upstream, route.upstreamBucket, mirror.upstream, key, false);
    if ('skip' in acl) {
      await drain(o);
      return w.record('failed', { why: acl.skip, replicated: true });
    }
    const headers: Record<string, string> = { ...objectHeaders(o, mirror.upstream), ...acl.headers };
    // A GET tells only how many tags there are: the tags themselves go with the copy, or no copy.
    if (tagCount(o.headers) > 0) {
      const tags = await readTagging(route.upstream, route.upstreamBucket, key);
      if (!('tagging' in tags)) {
        await drain(o);
        return w.record('failed', { why: tags.why, replicated: true });
      }
      headers['x-amz-tagging'] = tags.tagging;
    }
    const r = await callUpstream(mirror.upstream, { operation: 'PutObject', method: 'PUT', bucket: mirror.upstreamBucket, key, headers, body: o.body, length });
    await drain(r);
    if (r.status < 300) w.record('ok', { replicated: true });
    else w.record('failed', { status: r.status, replicated: true });
  } catch (e) {
    w.record('failed', { err: (e as Error).message, replicated: true });
  }
}

async function mirrorDelete(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const w = new MirrorWrite(ctx, mirror, ctx.address.key);
  const p = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  w.primaryDone();
  if (p.status >= 300) w.record('skipped');
  // A version id is the primary's: the mirror's versions have their own.
  else if (ctx.sendReq.query.some(([n]) => n === 'versionId')) w.record('skipped', { why: 'a versioned delete names the primary\'s version' });
  else {
    const r = await send(mirror.upstream, mirror.upstreamBucket, { ...ctx.sendReq, headers: unconditional(ctx.sendReq.headers) }).catch((e: Error) => e);
    if (r instanceof Error) w.record('failed', { err: r.message });
    else {
      await drain(r);
      if (r.status < 300 || r.status === 404) w.record('ok');
      else w.record('failed', { status: r.status });
    }
  }
  return ctx.respondWith(route, p);
}

/** The keys of a DeleteObjects body, with whether each named a version. */
function deleteEntries(xml: string): { key: string; versioned: boolean }[] {
  return [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].flatMap((m) => {
    const k = /<Key>([\s\S]*?)<\/Key>/.exec(m[1]!);
    return k ? [{ key: unescapeXml(k[1]!), versioned: /<VersionId>/.test(m[1]!) }] : [];
  });
}

async function mirrorDeleteObjects(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const w = new MirrorWrite(ctx, mirror, undefined);
  const { r: p, text } = await buffered(await send(route.upstream, route.upstreamBucket, ctx.sendReq));
  w.primaryDone();
  const requested = ctx.sendReq.body?.buffer?.toString('utf8');
  if (p.status >= 300 || requested === undefined) {
    w.record('skipped');
    return ctx.respondWith(route, p);
  }
  // Only what the primary deleted: its <Error> entries stay where they are on both sides.
  const refused = new Set(deleteResultErrors(text).map((e) => e.Key));
  const keys = deleteEntries(requested).filter((e) => !e.versioned && !refused.has(e.key)).map((e) => e.key);
  if (keys.length === 0) {
    w.record('skipped');
    return ctx.respondWith(route, p);
  }
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`;
  const buffer = Buffer.from(xml, 'utf8');
  const headers: SendRequest['headers'] = {};
  for (const [k, v] of Object.entries(unconditional(ctx.sendReq.headers))) {
    if (!k.startsWith('x-amz-checksum-') && k !== 'x-amz-sdk-checksum-algorithm' && k !== 'content-md5') headers[k] = v;
  }
  headers['content-md5'] = createHash('md5').update(buffer).digest('base64');
  // A body of its own: the client's declared payload hash is not its hash.
  const { declaredSha256: _declared, ...rest } = ctx.sendReq;
  const m = send(mirror.upstream, mirror.upstreamBucket, {
    ...rest, headers, body: { stream: Readable.from([buffer]), buffer, length: buffer.length, headers: {} },
  });
  try {
    const { r, text: answer } = await buffered(await m);
    const failed = deleteResultErrors(answer).length;
    if (r.status < 300 && failed === 0) w.record('ok', { keys: keys.length });
    else w.record('failed', { status: r.status, keys: keys.length, failed });
  } catch (e) {
    w.record('failed', { err: (e as Error).message });
  }
  return ctx.respondWith(route, p);
}

/** The primary's ACL, once it accepted the change, as a canned ACL on the mirror's copy. */
async function mirrorAcl(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const key = ctx.address.key;
  const w = new MirrorWrite(ctx, mirror, key);
  const p = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  w.primaryDone();
  if (p.status >= 300 || key === undefined) {
    w.record('skipped');
    return ctx.respondWith(route, p);
  }
  try {
    const now = route.upstream.profile.cannedAcls && mirror.upstream.profile.cannedAcls
      ? await readCannedAcl(route.upstream, route.upstreamBucket, key)
      : { why: 'a provider keeps no object ACLs' };
    if (!('acl' in now)) {
      w.record('failed', { why: now.why });
    } else {
      const r = await callUpstream(mirror.upstream, { operation: 'PutObjectAcl', method: 'PUT', bucket: mirror.upstreamBucket, key, query: [['acl', '']], headers: { 'x-amz-acl': now.acl }, body: Buffer.alloc(0) });
      await drain(r);
      w.record(r.status < 300 ? 'ok' : 'failed', { status: r.status, acl: now.acl });
    }
  } catch (e) {
    w.record('failed', { err: (e as Error).message });
  }
  return ctx.respondWith(route, p);
}

/** An object's tags, changed at the mirror as the primary accepted them. */
async function mirrorTagging(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const w = new MirrorWrite(ctx, mirror, ctx.address.key);
  const p = await send(route.upstream, route.upstreamBucket, ctx.sendReq);
  w.primaryDone();
  const body = ctx.sendReq.body;
  if (p.status >= 300) w.record('skipped');
  else if (ctx.sendReq.query.some(([n]) => n === 'versionId')) w.record('skipped', { why: 'a versioned tagging names the primary\'s version' });
  else if (body && body.buffer === undefined) w.record('failed', { why: 'the body was not kept to send again' });
  else {
    const again: SendRequest = { ...ctx.sendReq, headers: unconditional(ctx.sendReq.headers), ...(body ? { body: { ...body, stream: Readable.from([body.buffer!]) } } : {}) };
    const r = await send(mirror.upstream, mirror.upstreamBucket, again).catch((e: Error) => e);
    if (r instanceof Error) w.record('failed', { err: r.message });
    else {
      await drain(r);
      w.record(r.status < 300 ? 'ok' : 'failed', { status: r.status });
    }
  }
  return ctx.respondWith(route, p);
}

/** A multipart upload lives on the primary; once complete, the object is replicated. */
async function mirrorAfterComplete(ctx: ServeContext, mirror: Route): Promise<void> {
  const { route } = ctx;
  const w = new MirrorWrite(ctx, mirror, ctx.address.key);
  const { r: p, text } = await buffered(await send(route.upstream, route.upstreamBucket, ctx.sendReq));
  w.primaryDone();
  if (succeeded(p.status, text)) await replicate(ctx, mirror, w, ctx.address.key!);
  else w.record('skipped');
  return ctx.respondWith(route, p);
}

