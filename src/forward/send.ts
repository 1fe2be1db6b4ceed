// One client request sent to one provider bucket: the outbound request built and signed per the
// provider's profile, the verified body (re-framed with s3gate's chunk signatures where the
// profile wants a signed payload), over HTTP or to the in-process local store.
import { Readable } from 'node:stream';
import type { Upstream } from '../config/types.js';
import { signatureFor } from '../config/provider.js';
import { buildOutbound, type OutboundInput } from '../resign/request.js';
import { chunkSignedBody, signOutbound } from '../resign/sign.js';
import { signedChunkedLength } from '../resign/chunked.js';
import { EMPTY_SHA256 } from '../signing/sigv4.js';
import { forwardTo, type AnswerSink, type ForwardObserver, type UpstreamResponse } from './forward.js';
import { forwardLocal } from './local.js';
import type { Cancel } from './cancel.js';

const HEX64 = /^[0-9a-f]{64}$/;

export interface OutgoingBody {
  stream: Readable;
  /** the whole body, when it was small enough to read first */
  buffer?: Buffer;
  length?: number;
  /** outbound header changes: a value sets, null removes */
  headers: Record<string, string | null>;
  /** an aws-chunked body's trailer checksums, verified; for the local store, which keeps them */
  trailerChecksums?: () => Record<string, string>;
}

export interface SendRequest {
  operation: string;
  method: string;
  key?: string;
  /** decoded query pairs that travel (authorize/view.ts) */
  query: [string, string][];
  /** the headers that travel (authorize/view.ts) */
  headers: Record<string, string>;
  /** the client's declared x-amz-content-sha256 */
  declaredSha256?: string;
  body?: OutgoingBody;
  signal: Cancel;
  observer?: ForwardObserver;
  /** s3gate's request id: the local store's error documents name it */
  requestId?: string;
  /** an anonymous request sent on as one (`public: acl`): the provider's ACLs decide */
  unsigned?: boolean;
}

/** sendTo() with a promise of the answer, for callers that await it (the bucket modes). Whatever is thrown before it goes is a rejection. */
export function send(up: Upstream, upstreamBucket: string, r: SendRequest): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => sendTo(up, upstreamBucket, r, { answer: resolve, fail: reject }));
}

/**
 * The request built and signed now, and sent: the sink hears the provider's answer from the
 * exchange's own callbacks (forward.ts). What is wrong with the request itself is thrown, before
 * anything is sent.
 */
export function sendTo(up: Upstream, upstreamBucket: string, r: SendRequest, sink: AnswerSink): void {
  const input: OutboundInput = { method: r.method, upstreamBucket, query: r.query, headers: r.headers };
  if (r.key !== undefined) input.key = r.key;
  const outbound = buildOutbound(up, input);
  const h = outbound.headers;
  if (!up.profile.checksums.checksumMode && h['x-amz-checksum-mode'] !== undefined) delete h['x-amz-checksum-mode'];
  const changes = r.body?.headers;
  for (const k in changes) {
    const v = changes[k];
    // Most removals name a header that is not there (every body says content-encoding: null):
    // `delete` of a missing property still goes to V8's runtime.
    if (v !== null) h[k] = v!;
    else if (h[k] !== undefined) delete h[k];
  }
  const body = r.body;
  if (up.kind === 'local') {
    const q = new URLSearchParams();
    for (const [n, v] of outbound.query) q.append(n, v);
    forwardLocal(up, {
      method: r.method, bucket: upstreamBucket, query: q, headers: outbound.headers, ...(r.key !== undefined ? { key: r.key } : {}),
      ...(r.requestId !== undefined ? { requestId: r.requestId } : {}), ...(r.unsigned ? { anonymous: true } : {}),
      ...(body?.trailerChecksums ? { trailerChecksums: body.trailerChecksums } : {}),
    }, body ? (body.buffer ? Readable.from([body.buffer]) : body.stream) : null).then((a) => sink.answer(a), (e: unknown) => sink.fail(e));
    return;
  }
  if (r.unsigned) {
    // No credentials of ours travel: the provider sees the anonymous request the client sent.
    return forwardTo(up, outbound, { ...outbound.headers, host: outbound.host }, body ? body.buffer ?? body.stream : null, r.signal, sink, r.observer, true);
  }
  // The length first: a presigned GET's UNSIGNED-PAYLOAD then runs no expression (about 300
  // instructions and a write barrier for its last match, per request).
  const hex = r.declaredSha256?.length === 64 && HEX64.test(r.declaredSha256) ? r.declaredSha256 : undefined;
  let payloadHash = !body || body.length === 0 ? EMPTY_SHA256 : hex ?? 'UNSIGNED-PAYLOAD';
  let length = body?.length;
  // A provider that wants a signed payload gets the client's hash when there is one, and
  // otherwise s3gate's own chunk signatures over the verified bytes.
  const profile = up.profile;
  const signedChunks = body !== undefined && body.length !== undefined && body.length > 0 && signatureFor(profile, r.operation) === 'v4' &&
    (profile.payload.outbound === 'signed-chunked' || (profile.payload.outbound === 'sha256' && !hex));
  if (signedChunks) {
    const enc = outbound.headers['content-encoding'];
    outbound.headers['content-encoding'] = enc ? `aws-chunked,${enc}` : 'aws-chunked';
    outbound.headers['x-amz-decoded-content-length'] = String(body.length);
    payloadHash = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    length = signedChunkedLength(body.length!);
    outbound.headers['content-length'] = String(length);
  }
  const signed = signOutbound(up, r.operation, outbound, payloadHash);
  if (length !== undefined) signed['content-length'] = String(length);
  let upstreamBody: Readable | Buffer | null = body ? body.buffer ?? body.stream : null;
  if (signedChunks) upstreamBody = chunkSignedBody(up, signed, body.buffer ? Readable.from([body.buffer]) : body.stream);
  forwardTo(up, outbound, signed, upstreamBody, r.signal, sink, r.observer, true);
}
