// A pass-through HTTP proxy in front of a test upstream that lets a test act on each request by
// its S3 operation: answer a 500/503 S3 error instead of forwarding it, flip one byte of the
// answer's body, or run something before forwarding (a client's write landing mid-copy). It
// forwards the request exactly as received (Host included), so signatures still verify behind it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

export type OpKind = 'list' | 'head' | 'get' | 'put' | 'create' | 'part' | 'complete' | 'abort' | 'list-parts' | 'other';

export interface ProxiedRequest {
  kind: OpKind;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type Action =
  | { do: 'pass' }
  | { do: 'error'; status: 500 | 503 }
  /** forward, and flip one byte in the middle of the answer's body */
  | { do: 'corrupt' };

export interface FaultProxy {
  url: string;
  /** decides per request; default pass */
  decide: (r: ProxiedRequest) => Action | Promise<Action>;
  /** every request with the action taken and the upstream's status (0 when not forwarded) */
  seen: (ProxiedRequest & { action: Action['do']; status: number })[];
  close(): Promise<void>;
}

export function kindOf(method: string, url: string): OpKind {
  const u = new URL(url, 'http://x');
  const q = u.searchParams;
  const hasKey = u.pathname.split('/').filter(Boolean).length > 1;
  if (!hasKey) return method === 'GET' ? 'list' : 'other';
  if (method === 'HEAD') return 'head';
  if (method === 'GET') return q.has('uploadId') ? 'list-parts' : 'get';
  if (method === 'PUT') return q.has('partNumber') ? 'part' : 'put';
  if (method === 'POST') return q.has('uploads') ? 'create' : q.has('uploadId') ? 'complete' : 'other';
  if (method === 'DELETE') return q.has('uploadId') ? 'abort' : 'other';
  return 'other';
}

const ERRORS = { 500: 'InternalError', 503: 'SlowDown' } as const;

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target);
  const self: FaultProxy = { url: '', decide: () => ({ do: 'pass' }), seen: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    void (async () => {
      const r: ProxiedRequest = { kind: kindOf(req.method!, req.url!), method: req.method!, url: req.url!, headers: req.headers };
      const action = await self.decide(r);
      const entry = { ...r, action: action.do, status: 0 };
      self.seen.push(entry);
      if (action.do === 'error') {
        req.resume();
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${ERRORS[action.status]}</Code><Message>injected by the test proxy</Message></Error>`;
        res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
        entry.status = action.status;
        return;
      }
      const up = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        entry.status = ur.statusCode ?? 0;
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        const len = Number(ur.headers['content-length'] ?? 0);
        if (action.do === 'corrupt' && len > 0 && req.method !== 'HEAD') {
          let at = 0;
          const flip = Math.floor(len / 2);
          ur.pipe(new Transform({
            transform(chunk: Buffer, _e, cb) {
              if (flip >= at && flip < at + chunk.length) {
                chunk = Buffer.from(chunk);
                chunk[flip - at] = chunk[flip - at]! ^ 0x01;
              }
              at += chunk.length;
              cb(null, chunk);
            },
          })).pipe(res);
        } else ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return self;
}
