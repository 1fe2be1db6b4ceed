// The in-process transport for the `local` upstream: the request goes to a LocalStore instead
// of over a socket, after the same authentication and authorization as any provider.
import { mkdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { Upstream } from '../config/types.js';
import type { LocalStore } from '../local/index.js';
import type { UpstreamResponse } from './forward.js';
import { errorXml, S3Error } from '../s3/errors.js';

const stores = new WeakMap<Upstream, LocalStore>();
// The store's code (its router and a module per operation) is loaded only where a local upstream
// is configured: a gateway in front of providers never runs it (docs/performance.md, "idle").
let storeModule: Promise<typeof import('../local/index.js')> | undefined;
const loadStore = () => (storeModule ??= import('../local/index.js'));

/**
 * Creates each local upstream's directory, as `s3gate check` promises ("it will be created"), so
 * a fresh store is ready before its first bucket. What cannot be created is returned, for the
 * caller to report; readiness then says "path missing", as check says "not writable".
 */
export function prepareLocalPaths(ups: Iterable<Upstream>): { upstream: string; error: string }[] {
  const failed: { upstream: string; error: string }[] = [];
  for (const u of ups) {
    if (u.kind !== 'local' || !u.path) continue;
    void loadStore();
    try {
      mkdirSync(u.path, { recursive: true });
    } catch (e) {
      failed.push({ upstream: u.name, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    }
  }
  return failed;
}

export async function forwardLocal(
  up: Upstream,
  req: {
    method: string; bucket?: string; key?: string; query: URLSearchParams; headers: Record<string, string>; requestId?: string; anonymous?: boolean;
    trailerChecksums?: () => Record<string, string>;
  },
  body: Readable | null,
): Promise<UpstreamResponse> {
  let store = stores.get(up);
  if (!store) {
    const { LocalStore } = await loadStore();
    // Another request may have made it while this one waited for the module.
    store = stores.get(up) ?? new LocalStore(up.path!);
    stores.set(up, store);
  }
  let r;
  try {
    const { requestId: _id, ...storeReq } = req;
    r = await store.handle({ ...storeReq, body: body ?? Readable.from([]) });
  } catch (e) {
    if (!(e instanceof S3Error)) throw e;
    if (e.code === 'BucketAlreadyOwnedByYou' && up.region === 'us-east-1') {
      // S3 in us-east-1 answers a repeated CreateBucket by its owner with 200 (elsewhere 409), as
      // RGW does: a setup script that creates its bucket runs twice.
      body?.resume();
      return { status: 200, headers: { location: `/${req.bucket ?? ''}`, 'content-length': '0' }, body: Readable.from([]) };
    }
    // The store answers errors the way a provider does over HTTP, so every caller (a migration's
    // fallback on 404, the copier) sees one shape for both transports.
    const xml = req.method === 'HEAD' ? '' : errorXml(e, `/${req.bucket ?? ''}${req.key !== undefined ? '/' + req.key : ''}`, req.requestId ?? 'LOCAL');
    body?.resume();
    return { status: e.status, headers: { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) }, body: Readable.from([Buffer.from(xml)]) };
  }
  const out = r.body === undefined ? Readable.from([]) : typeof r.body === 'string' || Buffer.isBuffer(r.body) ? Readable.from([Buffer.from(r.body)]) : (r.body as Readable);
  const headers: Record<string, string> = { ...r.headers };
  if (r.body !== undefined && (typeof r.body === 'string' || Buffer.isBuffer(r.body)) && headers['content-length'] === undefined) {
    headers['content-length'] = String(Buffer.byteLength(r.body));
  }
  return { status: r.status, headers, body: out };
}
