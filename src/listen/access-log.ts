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
  /** the provider's request id on an error it answered: the body carries s3gate's */
  upstreamId?: string | undefined;
}

const INFO = 30;

function str(name: string, v: string | undefined): string {
  return v === undefined ? '' : `,"${name}":${JSON.stringify(v)}`;
}

/** The line pino writes for `info(fields, 'request')` with no base fields, newline included. */
export function accessLine(f: AccessFields, time: number): string {
  return `{"level":${INFO},"time":${time},"reqId":${JSON.stringify(f.reqId)}${str('key', f.key)}${str('auth', f.auth)}${str('role', f.role)}${str('session', f.session)}` +
    `${str('op', f.op)}${str('method', f.method)}${str('bucket', f.bucket)},"status":${f.status}${str('error', f.error)}` +
    `,"bytesIn":${f.bytesIn},"bytesOut":${f.bytesOut},"ms":${f.ms}${str('upstream', f.upstream)}${str('upstreamId', f.upstreamId)},"msg":"request"}\n`;
}

interface LineStream {
  write(line: string): unknown;
}

/** Writes the access line where `log` writes, when `log` is at info or below. */
export function writeAccess(log: Logger, f: AccessFields): void {
  if (log.levelVal > INFO) return;
  (log as unknown as Record<symbol, LineStream>)[symbols.streamSym]!.write(accessLine(f, Date.now()));
}
