// CORS answered by s3gate from the bucket's rules, as S3 does: preflight (OPTIONS) needs no
// signature, so a page on another origin can upload with a presigned PUT.
import type { CorsRule } from '../config/types.js';
import { S3Error } from '../s3/errors.js';

function originMatches(pattern: string, origin: string): boolean {
  if (pattern === '*') return true;
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === origin;
  // S3 allows one wildcard in an origin pattern.
  return origin.length >= pattern.length - 1 && origin.startsWith(pattern.slice(0, star)) && origin.endsWith(pattern.slice(star + 1));
}

function headerAllowed(rule: CorsRule, header: string): boolean {
  const h = header.toLowerCase();
  return rule.allowedHeaders.some((p) => originMatches(p, h));
}

export function findRule(rules: CorsRule[] | undefined, origin: string, method: string, requestHeaders: string[] = []): CorsRule | undefined {
  return rules?.find((r) => r.allowedOrigins.some((o) => originMatches(o, origin)) && r.allowedMethods.includes(method.toUpperCase()) &&
    requestHeaders.every((h) => headerAllowed(r, h)));
}

/** Headers for an OPTIONS preflight; throws the S3 CORS refusal when no rule matches. */
export function preflight(rules: CorsRule[] | undefined, origin: string | undefined, method: string | undefined, reqHeaders: string | undefined): Record<string, string> {
  if (!origin || !method) throw new S3Error('InvalidRequest', 'Insufficient information. Origin request header needed.');
  const asked = (reqHeaders ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const rule = findRule(rules, origin, method, asked);
  if (!rule) throw new S3Error('AccessDenied', 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.');
  return {
    ...allowOrigin(rule, origin),
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    ...(asked.length ? { 'access-control-allow-headers': asked.join(', ') } : {}),
    ...(rule.exposeHeaders.length ? { 'access-control-expose-headers': rule.exposeHeaders.join(', ') } : {}),
    ...(rule.maxAgeSeconds !== undefined ? { 'access-control-max-age': String(rule.maxAgeSeconds) } : {}),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}

function allowOrigin(rule: CorsRule, origin: string): Record<string, string> {
  return rule.allowedOrigins.includes('*')
    ? { 'access-control-allow-origin': '*' }
    : { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' };
}

/** Headers added to an actual (non-preflight) response for a matching Origin. */
export function responseCors(rules: CorsRule[] | undefined, origin: string | undefined, method: string): Record<string, string> {
  if (!origin || !rules) return {};
  const rule = findRule(rules, origin, method);
  if (!rule) return {};
  return {
    ...allowOrigin(rule, origin),
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    ...(rule.exposeHeaders.length ? { 'access-control-expose-headers': rule.exposeHeaders.join(', ') } : {}),
    vary: 'Origin',
  };
}
