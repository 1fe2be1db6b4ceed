// Starts a real s3gate (in-process, real sockets) in front of a real upstream, and real SDK
// clients pointed at it. Test names under *.test resolve to 127.0.0.1 in the client only.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { pino, type Logger } from 'pino';
import { buildConfig } from '../../src/config/load.js';
import { startGateway, type Gateway } from '../../src/listen/server.js';
import { testRequestHandler } from '../upstream/resolve.js';

export const GW_KEY = { accessKeyId: 'GATEWAYKEY1', secretAccessKey: 'gateway-secret-1-abcdefghijklmnopqrstuv' };
export const GW_KEY_LIMITED = { accessKeyId: 'GATEWAYKEY2', secretAccessKey: 'gateway-secret-2-abcdefghijklmnopqrstuv' };
export const UP_KEY = { accessKeyId: 'UPSTREAMKEY', secretAccessKey: 'upstream-secret-abcdefghijklmnopqrstuvwx' };
export const DOMAIN = 's3.gateway.test';

export interface LogSink {
  lines: Record<string, unknown>[];
  text(): string;
}

export function captureLog(): { sink: LogSink; logger: Logger } {
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString();
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info', base: undefined }, dest) as unknown as Logger;
  return { sink: { lines, text: () => raw }, logger };
}

export async function startTestGateway(doc: Record<string, unknown>, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Gateway & { url: string; sink: LogSink }> {
  const cfg = buildConfig({ listen: [{ address: '127.0.0.1:0' }], ...doc }, tmpdir(), opts.env ? { env: opts.env } : {});
  const { sink, logger } = captureLog();
  const gw = await startGateway(cfg, { log: logger });
  return Object.assign(gw, { url: gw.urls[0]!, sink });
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** An SDK client for s3gate with default settings, at a Host of our choosing. */
export function client(endpoint: string, creds = GW_KEY, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    // A copy: the SDK marks the credentials object it is given, and the same constants also
    // go into gateway configs.
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    requestHandler: testRequestHandler(),
    maxAttempts: 1,
    ...extra,
  });
}

export function tmpDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface WireRequest {
  headers: Record<string, string>;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

/** Changes the request after the SDK signed it: what an attacker or a broken proxy would do. */
export function afterSigning(s3: S3Client, change: (r: WireRequest) => void): S3Client {
  s3.middlewareStack.addRelativeTo(
    ((next: (a: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
      change(args.request as WireRequest);
      return next(args);
    }) as never,
    { relation: 'after', toMiddleware: 'awsAuthMiddleware', name: `tamper-${Math.random()}` },
  );
  return s3;
}

/** The S3 error a request ends with; fails the test if it succeeds. */
export async function failure(p: Promise<unknown>): Promise<import('@aws-sdk/client-s3').S3ServiceException> {
  try {
    await p;
  } catch (e) {
    return e as import('@aws-sdk/client-s3').S3ServiceException;
  }
  throw new Error('expected the request to fail');
}
