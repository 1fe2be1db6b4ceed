// Correctly signed requests written byte for byte to a socket: what an attacker holding a key can
// send. Header lines are given as a list, so a header may be sent twice or in any case; it is
// signed as the server reads it (repeated values joined with ','). SigV4 is signed by
// @smithy/signature-v4, SigV2 by src/signing/sigv2.ts (no independent V2 signer exists in JS).
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { presignV2, signRequestV2 } from '../../src/signing/sigv2.js';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

export type AuthScheme = 'v4-header' | 'v4-query' | 'v2-header' | 'v2-query';

export interface RawSpec {
  method: string;
  /** Host header value, with port */
  host: string;
  /** raw path as sent (already percent-encoded as the test wants it) */
  path: string;
  /** decoded query pairs; encoded strictly (RFC 3986) on the wire */
  query?: [string, string][];
  /** header lines in wire order; names as sent */
  headers?: [string, string][];
  /**
   * x-amz-* headers that a presigned URL carries in its query instead (signed there); for
   * header auth they stay headers
   */
  hoist?: [string, string][];
  body?: string;
  /** the region signed for (us-east-1) */
  region?: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** RFC 3986 percent-encoding of everything but the unreserved set: how SigV4 canonicalizes. */
export function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function rawQuery(pairs: [string, string][]): string {
  return pairs.map(([n, v]) => `${enc(n)}=${enc(v)}`).join('&');
}

function joined(lines: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of lines) {
    const k = n.toLowerCase();
    out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  }
  return out;
}

function queryObject(pairs: [string, string][]): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = q[k];
    q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return q;
}

/** The request signed with `scheme`, as the wire lines and target to send. */
export async function signRaw(creds: Creds, scheme: AuthScheme, spec: RawSpec): Promise<{ target: string; lines: [string, string][]; body: string }> {
  const body = spec.body ?? '';
  const lines: [string, string][] = [...(spec.headers ?? [])];
  if (body || spec.method === 'PUT' || spec.method === 'POST') lines.push(['Content-Length', String(Buffer.byteLength(body))]);
  const hoist = spec.hoist ?? [];
  let query = [...(spec.query ?? [])];
  const hostname = spec.host.replace(/:\d+$/, '');
  if (scheme === 'v4-header' || scheme === 'v4-query') {
    const signer = new SignatureV4({ credentials: creds, region: spec.region ?? 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    if (scheme === 'v4-header') {
      const all = [...lines, ...hoist];
      const payload = createHash('sha256').update(body).digest('hex');
      const signed = await signer.sign({
        method: spec.method, protocol: 'http:', hostname, path: spec.path, query: queryObject(query),
        headers: { host: spec.host, 'x-amz-content-sha256': payload, ...joined(all) },
      });
      const names = new Set(all.map(([n]) => n.toLowerCase()));
      const extra = Object.entries(signed.headers).filter(([k]) => !names.has(k.toLowerCase()) && k.toLowerCase() !== 'host');
      return { target: target(spec.path, query), lines: [['Host', spec.host], ...all, ...extra as [string, string][]], body };
    }
    query = [...query, ...hoist];
    const signedLines = lines.filter(([n]) => n.toLowerCase() !== 'content-length');
    const presigned = await signer.presign({
      method: spec.method, protocol: 'http:', hostname, path: spec.path, query: queryObject(query),
      // Only read by smithy for the payload hash (S3's presigned default); never sent or signed.
      headers: { host: spec.host, ...joined(signedLines), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    }, {
      expiresIn: 600, unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set([...signedLines.map(([n]) => n.toLowerCase()), 'x-amz-content-sha256']),
    });
    const q = presigned.query as Record<string, string | string[]>;
    const pairs: [string, string][] = [];
    for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) pairs.push([k, x]);
    return { target: target(spec.path, pairs), lines: [['Host', spec.host], ...lines], body };
  }
  // SigV2: x-amz-* lines are signed, joined as the server joins them.
  const raw = rawQuery(query);
  if (scheme === 'v2-header') {
    const all = [...lines, ...hoist];
    const signed = signRequestV2({ method: spec.method, path: spec.path, query: raw, headers: joined(all) }, creds, new Date());
    return { target: target(spec.path, query), lines: [['Host', spec.host], ...all, ['Date', signed['date']!], ['Authorization', signed['authorization']!]], body };
  }
  const params = presignV2({ method: spec.method, path: spec.path, query: raw, headers: joined([...lines, ...hoist].filter(([n]) => n.toLowerCase() !== 'content-length')) }, creds, Math.floor(Date.now() / 1000) + 600);
  const pairs: [string, string][] = [...query, ...hoist, ...Object.entries(params)];
  return { target: target(spec.path, pairs), lines: [['Host', spec.host], ...lines], body };
}

function target(path: string, pairs: [string, string][]): string {
  return pairs.length ? `${path}?${rawQuery(pairs)}` : path;
}

/** Signs and sends; resolves with the response once the server closes the connection. */
export async function sendSigned(port: number, creds: Creds, scheme: AuthScheme, spec: RawSpec): Promise<RawResponse> {
  const r = await signRaw(creds, scheme, spec);
  const head = `${spec.method} ${r.target} HTTP/1.1\r\n${r.lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`;
  return rawExchange(port, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(r.body)]));
}

export function rawExchange(port: number, bytes: Buffer, timeoutMs = 10000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(new Error('raw request timed out')), timeoutMs);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const headEnd = raw.indexOf('\r\n\r\n');
      const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
      const [statusLine, ...hl] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of hl) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, body: headEnd < 0 ? '' : raw.slice(headEnd + 4) });
    };
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => (chunks.length ? finish() : (clearTimeout(timer), reject(e))));
    sock.on('close', finish);
    sock.write(bytes);
  });
}

export function codeOf(r: RawResponse): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(r.body)?.[1];
}

export function md5(body: string): string {
  return createHash('md5').update(body).digest('base64');
}
