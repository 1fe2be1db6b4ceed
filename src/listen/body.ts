// The request body as it goes upstream: decoded and verified by payload/ while it streams,
// with the end held back until everything verified. What the provider is told about the body
// (length, encoding, checksums) follows its profile.
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { Authenticated } from '../authenticate/index.js';
import type { ProviderProfile } from '../config/provider.js';
import { inboundPayload, algorithmOfHeader } from '../payload/index.js';
import { S3Error } from '../s3/errors.js';

export interface InboundBody {
  stream: Readable;
  /** the length to declare upstream, when known */
  length?: number;
  /** outbound header changes: a value sets, null removes */
  headers: Record<string, string | null>;
}

// Operations whose body is object data: AWS demands a length for them.
const DATA_UPLOADS = new Set(['PutObject', 'UploadPart']);

export function inboundBody(
  req: IncomingMessage, headers: Record<string, string | string[] | undefined>, auth: Authenticated,
  operation: string, profile: ProviderProfile, ctx: { bytesIn: number },
): InboundBody {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(',') : v;
  const payload = inboundPayload(flat, auth.chunkSigning);
  if (payload.mode === 'plain' && payload.outboundLength === undefined && DATA_UPLOADS.has(operation)) {
    throw new S3Error('MissingContentLength');
  }
  req.on('data', (c: Buffer) => {
    ctx.bytesIn += c.length;
  });
  // Errors surface through payload.body, which undici reads: a failed check aborts the upstream request.
  pipeline(req, payload.body, () => {});

  const out: Record<string, string | null> = { 'content-encoding': payload.contentEncoding ?? null };
  const accepted = new Set(profile.checksums.headerAlgorithms);
  for (const name of Object.keys(flat)) {
    const alg = algorithmOfHeader(name);
    // Verified here already; pass on only what the provider understands.
    if (alg && !accepted.has(alg)) out[name] = null;
  }
  if (payload.mode !== 'plain') {
    // The trailer's checksum is only known at the end, too late for a header: the provider is
    // not told to expect one.
    out['x-amz-sdk-checksum-algorithm'] = null;
  } else {
    const sdkAlg = flat['x-amz-sdk-checksum-algorithm']?.toLowerCase();
    if (sdkAlg && !accepted.has(sdkAlg)) out['x-amz-sdk-checksum-algorithm'] = null;
  }
  return { stream: payload.body, ...(payload.outboundLength !== undefined ? { length: payload.outboundLength } : {}), headers: out };
}
