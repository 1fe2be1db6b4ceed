// The access line, one per request, built by hand: it is the only log line on the hot path, and
// pino's generic serializer cost 13–20 µs of CPU per request in place (a third of what s3gate adds
// to a 4 KiB GET; docs/performance.md). The line is exactly what `log.info(fields, 'request')`
// would write, and goes into the logger's own stream, so it keeps its place among pino's lines.
import { symbols, type Logger } from 'pino';

export interface AccessFields {
  reqId: string;
  key?: string | undefined;
  auth?: string | undefined;
  /** a temporary key's role and RoleSessionName (src/sts/) */
  role?: string | undefined;
  session?: string | undefined;
  op?: string | undefined;
  method?: string | undefined;
  bucket?: string | undefined;
  status: number;
  error?: string | undefined;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  upstream?: string | undefined;
  /** the access key id a request that failed authentication named (never its secret or signature) */
  triedKey?: string | undefined;
  /** the provider's request id on an error it answered: the body carries s3gate's */
  upstreamId?: string | undefined;
}

const INFO = 30;

/**
 * The line pino writes for `info(fields, 'request')` with no base fields, newline included.
 * One JSON.stringify of a flat object: V8 writes it as one string, where a template of the
 * fields built a rope of 30 pieces and a string per value (1.1 KiB per request in
 * `node bench/alloc-profile.mjs`), flattened again when the line is encoded. Fields left
 * undefined are left out, as pino leaves them out.
 */
export function accessLine(f: AccessFields, time: number): string {
  return accessJson(f, time) + '\n';
}

/** accessLine without its newline. */
function accessJson(f: AccessFields, time: number): string {
  return JSON.stringify({
    level: INFO, time, reqId: f.reqId, key: f.key, auth: f.auth, role: f.role, session: f.session, triedKey: f.triedKey,
    op: f.op, method: f.method, bucket: f.bucket, status: f.status, error: f.error, bytesIn: f.bytesIn, bytesOut: f.bytesOut,
    ms: f.ms, upstream: f.upstream, upstreamId: f.upstreamId, msg: 'request',
  });
}

// The access key id is the part of the credential before the first '/' (SigV4), or the id before
// ':' (SigV2 header), or a query parameter: enough to name it without keeping anything secret.
const V4_HEADER = /Credential=([^/,\s]{1,128})\//;
const V2_HEADER = /^AWS ([^:\s]{1,128}):/;
const V4_QUERY = /(?:^|&)X-Amz-Credential=([^&%/]{1,128})(?:%2F|\/)/i;
const V2_QUERY = /(?:^|&)AWSAccessKeyId=([^&]{1,128})/;

/** The access key id a request claims, for the log line of a request that failed authentication. */
export function claimedAccessKeyId(authorization: string | undefined, rawQuery: string): string | undefined {
  const m = (authorization !== undefined ? V4_HEADER.exec(authorization) ?? V2_HEADER.exec(authorization) : null) ??
    V4_QUERY.exec(rawQuery) ?? V2_QUERY.exec(rawQuery);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
}

interface LineStream {
  write(line: string): unknown;
  /** log.ts's batches: the line and then its newline, so that no line + '\n' is made and flattened */
  writeLine?(line: string): unknown;
}

/** Writes the access line where `log` writes, when `log` is at info or below. */
export function writeAccess(log: Logger, f: AccessFields): void {
  if (log.levelVal > INFO) return;
  const stream = (log as unknown as Record<symbol, LineStream>)[symbols.streamSym]!;
  if (stream.writeLine) stream.writeLine(accessJson(f, Date.now()));
  else stream.write(accessLine(f, Date.now()));
}
