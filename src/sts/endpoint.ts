// STS's Query API on s3gate's own domains: `POST /` with a form body (or `GET /?Action=…`),
// answered with STS's XML documents. AssumeRole and GetCallerIdentity are signed with SigV4 for
// service sts, by a configured key or (GetCallerIdentity) a temporary one; AssumeRoleWithWebIdentity
// is unsigned and proves itself with its OIDC token.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Action, GatewayConfig } from '../config/types.js';
import type { Authenticated, AuthInput } from '../authenticate/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { isS3Error } from '../s3/errors.js';
import { responseCors } from '../cors/cors.js';
import { parseQuery } from '../signing/sigv4.js';
import { assumeRole, assumeRoleWithWebIdentity, checkParams, getCallerIdentity, type Issued } from './actions.js';
import { authenticateRequest } from './inbound.js';
import { errorResponse, resultResponse, StsError } from './xml.js';
import { s3Spelled } from '../forward/header-name.js';

/** A web identity token is at most 20000 characters, a policy 2048: the form fits well within this. */
const MAX_BODY = 64 * 1024;
const VERSION = '2011-06-15';

export interface StsContext {
  id: string;
  op?: { name: string; action: Action };
  auth?: Authenticated;
  status?: number;
  error?: string;
  bytesIn: number;
  bytesOut: number;
  replyHeaders: Record<string, string>;
}

export interface StsDeps {
  cfg: GatewayConfig;
  metrics: Metrics;
  log: Logger;
}

export interface StsRequest {
  method: string;
  host: string;
  rawPath: string;
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  /** the client waits for 100 Continue before its body (curl does for forms over 1 KiB) */
  expectContinue?: boolean;
}

/** An STS call: a form POST to the root, or a GET of the root naming an Action. */
export function isStsRequest(method: string, headers: Record<string, string | string[] | undefined>, rawQuery: string): boolean {
  if (method === 'POST') {
    const ct = headers['content-type'];
    return typeof ct === 'string' && ct.toLowerCase().startsWith('application/x-www-form-urlencoded');
  }
  return method === 'GET' && /(^|&)Action=/.test(rawQuery);
}

async function readBody(req: IncomingMessage, res: ServerResponse, ctx: StsContext, expectContinue: boolean): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) throw new StsError('ValidationError', `The request body is larger than ${MAX_BODY} bytes.`, 413);
  if (expectContinue) res.writeContinue();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY) throw new StsError('ValidationError', `The request body is larger than ${MAX_BODY} bytes.`, 413);
    chunks.push(c);
  }
  ctx.bytesIn = n;
  return Buffer.concat(chunks);
}

/** Authentication failures in STS's own codes. */
function stsAuthError(e: unknown): unknown {
  if (!isS3Error(e)) return e;
  switch (e.code) {
    case 'InvalidAccessKeyId': return new StsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    case 'InvalidToken': return new StsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    case 'ExpiredToken': return new StsError('ExpiredToken', 'The security token included in the request is expired', 403);
    case 'SignatureDoesNotMatch': return new StsError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.', 403);
    case 'RequestTimeTooSkewed': return new StsError('SignatureDoesNotMatch', 'Signature expired: the request time is too far from the server time.', 403);
    case 'AuthorizationHeaderMalformed':
    case 'AuthorizationQueryParametersError': return new StsError('IncompleteSignature', e.message, 400);
    default: return new StsError(e.code, e.message, e.status);
  }
}

export async function serveSts(deps: StsDeps, ctx: StsContext, req: IncomingMessage, res: ServerResponse, r: StsRequest): Promise<void> {
  const now = new Date();
  const origin = r.headers.origin;
  if (deps.cfg.sts?.cors && typeof origin === 'string') Object.assign(ctx.replyHeaders, responseCors(deps.cfg.sts.cors, origin, r.method));
  try {
    const body = r.method === 'POST' ? await readBody(req, res, ctx, r.expectContinue === true) : Buffer.alloc(0);
    const params = new URLSearchParams(r.method === 'POST' ? body.toString('utf8') : r.rawQuery);
    const action = params.get('Action') ?? '';
    ctx.op = { name: `sts:${action || 'Unknown'}`, action: 'admin' };
    if (params.get('Version') !== VERSION) throw new StsError('InvalidParameterValue', `Version must be ${VERSION}.`);
    const known = action === 'AssumeRole' || action === 'AssumeRoleWithWebIdentity' || action === 'GetCallerIdentity';
    if (!known) throw new StsError('InvalidAction', `Could not find operation ${action} for version ${VERSION}`);
    checkParams(params, r.method !== 'POST');
    if (action === 'AssumeRoleWithWebIdentity') {
      const issued = await assumeRoleWithWebIdentity(deps.cfg, params, now);
      return answerIssued(deps, ctx, res, action, issued);
    }
    const input: AuthInput = {
      method: r.method, host: r.host, rawPath: r.rawPath, rawQuery: r.rawQuery, query: parseQuery(r.rawQuery), headers: r.headers, now,
      service: 'sts', bodySha256: createHash('sha256').update(body).digest('hex'),
    };
    let auth: Authenticated;
    try {
      auth = authenticateRequest(input, deps.cfg, deps.metrics);
    } catch (e) {
      throw stsAuthError(e);
    }
    ctx.auth = auth;
    if (!auth.key) throw new StsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
    if (auth.kind !== 'v4-header' && auth.kind !== 'v4-query') throw new StsError('IncompleteSignature', 'STS requests are signed with Signature Version 4.', 400);
    if (action === 'GetCallerIdentity') return answer(ctx, res, 200, resultResponse(action, getCallerIdentity(auth.key) as never, ctx.id));
    return answerIssued(deps, ctx, res, action, assumeRole(deps.cfg, auth.key, params, now));
  } catch (e) {
    if (!(e instanceof StsError)) deps.log.error({ reqId: ctx.id, err: e }, 'internal error in STS');
    const err = e instanceof StsError ? e : new StsError('InternalFailure', 'The request processing has failed because of an unknown error.', 500, 'Receiver');
    ctx.error = err.code;
    if (!req.complete) ctx.replyHeaders = { ...ctx.replyHeaders, connection: 'close' };
    return answer(ctx, res, err.status, errorResponse(err, ctx.id));
  }
}

function answerIssued(deps: StsDeps, ctx: StsContext, res: ServerResponse, action: string, issued: Issued): void {
  deps.metrics.stsSessions.inc({ role: issued.role, action });
  // Who asked (the key id, or the web identity's iss and sub: the name alone is the client's
  // choice), the session's name and expiry for the record; never a token or secret.
  deps.log.info({ reqId: ctx.id, role: issued.role, session: issued.sessionName, ...issued.asker, expires: issued.expires.toISOString() }, 'sts session issued');
  answer(ctx, res, 200, resultResponse(action, issued.result as never, ctx.id));
}

function answer(ctx: StsContext, res: ServerResponse, status: number, xml: string): void {
  ctx.status = status;
  ctx.bytesOut = Buffer.byteLength(xml);
  res.writeHead(status, s3Spelled({ ...ctx.replyHeaders, 'content-type': 'text/xml', 'content-length': ctx.bytesOut }));
  res.end(xml);
}
