// X-Forwarded-Host/-Proto say what the client really used, but only a proxy we trust may say it:
// anyone else could pick the Host that their signature is checked against.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { GatewayConfig } from '../config/types.js';

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

export function ipMatches(ip: string, rule: string): boolean {
  const addr = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const [base, bits] = rule.split('/') as [string, string | undefined];
  if (bits === undefined) return addr === base;
  if (isIP(addr) !== 4 || isIP(base) !== 4) return false;
  const n = Number(bits);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return (ipv4ToInt(addr) & mask) === (ipv4ToInt(base) & mask);
}

function trusted(cfg: GatewayConfig, req: IncomingMessage): boolean {
  const ip = req.socket.remoteAddress;
  return !!ip && cfg.trustedProxies.some((r) => ipMatches(ip, r));
}

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0]?.trim() || undefined;
}

type Headers = Record<string, string | string[] | undefined>;

export function clientHost(cfg: GatewayConfig, req: IncomingMessage, headers: Headers): string | undefined {
  if (cfg.trustedProxies.length && trusted(cfg, req)) {
    const fwd = first(headers['x-forwarded-host']);
    if (fwd) return fwd;
  }
  const h = headers.host;
  // Node keeps the first of repeated Host headers; so does this.
  return Array.isArray(h) ? h[0] : h;
}

export function clientProto(cfg: GatewayConfig, req: IncomingMessage, headers: Headers): 'http' | 'https' {
  if (cfg.trustedProxies.length && trusted(cfg, req)) {
    const p = first(headers['x-forwarded-proto']);
    if (p === 'https' || p === 'http') return p;
  }
  return (req.socket as TLSSocket).encrypted ? 'https' : 'http';
}
