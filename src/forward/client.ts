// s3gate's own requests to a provider (migration copies, copy-on-read, `s3gate check`): the same
// addressing, signing per the provider's profile and transport as forwarded client requests.
import { Readable } from 'node:stream';
import type { Upstream } from '../config/types.js';
import { buildOutbound } from '../resign/request.js';
import { signOutbound } from '../resign/sign.js';
import { EMPTY_SHA256 } from '../signing/sigv4.js';
import { forward, type UpstreamResponse } from './forward.js';
import { forwardLocal } from './local.js';
import { RequestCancel, type Cancel } from './cancel.js';

export interface UpstreamCall {
  /** S3 operation name: picks the signature version from the profile */
  operation: string;
  method: string;
  /** the provider's bucket name */
  bucket?: string;
  key?: string;
  query?: [string, string][];
  headers?: Record<string, string>;
  body?: Readable | Buffer | null;
  /** required with a stream body */
  length?: number;
  signal?: Cancel;
}

export async function callUpstream(up: Upstream, call: UpstreamCall): Promise<UpstreamResponse> {
  const headers: Record<string, string> = { ...(call.headers ?? {}) };
  const body = Buffer.isBuffer(call.body) ? call.body : call.body ?? null;
  const length = Buffer.isBuffer(body) ? body.length : call.length;
  if (up.kind === 'local') {
    const q = new URLSearchParams();
    for (const [n, v] of call.query ?? []) q.append(n, v);
    return forwardLocal(up, {
      method: call.method, query: q, headers,
      ...(call.bucket !== undefined ? { bucket: call.bucket } : {}), ...(call.key !== undefined ? { key: call.key } : {}),
    }, body === null ? null : Buffer.isBuffer(body) ? Readable.from([body]) : body);
  }
  const outbound = buildOutbound(up, {
    method: call.method, query: call.query ?? [], headers,
    ...(call.bucket !== undefined ? { upstreamBucket: call.bucket } : {}), ...(call.key !== undefined ? { key: call.key } : {}),
  });
  const payloadHash = body === null || length === 0 ? EMPTY_SHA256 : 'UNSIGNED-PAYLOAD';
  const signed = signOutbound(up, call.operation, outbound, payloadHash);
  if (length !== undefined && body !== null) signed['content-length'] = String(length);
  return forward(up, outbound, signed, body === null ? null : Buffer.isBuffer(body) ? Readable.from([body]) : body, call.signal ?? new RequestCancel());
}

/** Reads a whole (small) response body, e.g. an XML listing. */
export async function text(res: UpstreamResponse): Promise<string> {
  let s = '';
  for await (const c of res.body) s += c;
  return s;
}
