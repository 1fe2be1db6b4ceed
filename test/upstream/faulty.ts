// A fault-injecting S3 upstream on 127.0.0.1: it answers like a plain path-style provider (PUT
// stores, GET serves) but can be told to fail the way real providers and networks do. It does
// not check signatures (the strict upstream does that); it records what reached it and what it
// stored, and it stores a body only when every declared byte arrived.
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import http from 'node:http';
import { errorXml, S3Error, type S3ErrorCode } from '../../src/s3/errors.js';

export type Fault =
  /** behave: store complete PUT bodies, serve stored objects */
  | { kind: 'none' }
  /** destroy the socket once this many request-body bytes arrived (0: as soon as the headers did) */
  | { kind: 'reset-request'; afterBytes: number }
  /** send the headers (full Content-Length) and this many body bytes, then destroy the socket */
  | { kind: 'reset-response'; afterBytes: number; times?: number }
  /** say nothing for `ms` (body read and dropped); then destroy the socket */
  | { kind: 'stall'; ms: number }
  /** send the headers and `afterBytes` body bytes, then say nothing for `ms`, then destroy */
  | { kind: 'stall-body'; afterBytes: number; ms: number }
  /** an S3 error document with this status */
  | { kind: 'error'; status: 500 | 503; code: Extract<S3ErrorCode, 'InternalError' | 'SlowDown' | 'ServiceUnavailable'>; times?: number }
  /** declare the full Content-Length, send `sendBytes`, then end the response cleanly (FIN) */
  | { kind: 'short-body'; sendBytes: number }
  /** wait `ms` before the headers, then send the body `bytes` at a time, `ms` apart: slow, never idle for longer than `ms` */
  | { kind: 'trickle'; bytes: number; ms: number }
  /** a 103 Early Hints answer first, then behave (HTTP allows any number of 1xx before the real answer) */
  | { kind: 'early-hints' }
  /** this answer, whatever was asked: a provider's redirect, its own headers or settings (names as
   * written here, in any case; an array is a header sent once per value) */
  | { kind: 'canned'; status: number; headers: Record<string, string | string[]>; body: string };

export interface FaultyRecord {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Content-Length the request declared, if any */
  declaredLength?: number;
  /** request-body bytes that arrived */
  bodyBytes: number;
  /** every declared body byte arrived and the request ended normally */
  complete: boolean;
  /** the connection ended (closed, reset) before the request body was complete */
  cutShort: boolean;
  fault: Fault['kind'];
  /** resolves once the request body has ended or the connection went away */
  settled: Promise<void>;
  /** resolves if the gateway closed the connection before the answer was complete (not this upstream's own fault action) */
  hungUp: Promise<void>;
}

export interface FaultyUpstream {
  url: string;
  port: number;
  /** the fault applied to every request from now on (default none) */
  fault: Fault;
  requests: FaultyRecord[];
  /** what was stored, by request path ("/bucket/key"): only complete bodies */
  stored: Map<string, Buffer>;
  /** TCP connections accepted so far */
  connections: number;
  close(): Promise<void>;
}

function errorDoc(status: number, code: S3ErrorCode, path: string): { status: number; body: string } {
  return { status, body: errorXml(new S3Error(code, undefined, {}, status), path, 'FAULTY0000000000') };
}

export async function startFaultyUpstream(initial: Fault = { kind: 'none' }): Promise<FaultyUpstream> {
  const requests: FaultyRecord[] = [];
  const stored = new Map<string, Buffer>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const self: FaultyUpstream = {
    url: '', port: 0, fault: initial, requests, stored, connections: 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server = http.createServer({ keepAliveTimeout: 1000 }, (req, res) => {
    const fault = self.fault;
    // A fault limited to `times` requests clears itself after the last of them.
    if ((fault.kind === 'error' || fault.kind === 'reset-response') && fault.times !== undefined && --fault.times <= 0) self.fault = { kind: 'none' };
    const path = (req.url ?? '/').split('?')[0]!;
    const cl = req.headers['content-length'];
    const declaredLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
    let settle!: () => void;
    let hangUp!: () => void;
    let selfClosed = false;
    const closeSelf = (gracefully = false) => {
      selfClosed = true;
      if (gracefully) res.socket?.end();
      else res.socket?.destroy();
    };
    const rec: FaultyRecord = {
      method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, bodyBytes: 0,
      complete: false, cutShort: false, fault: fault.kind, settled: new Promise<void>((r) => (settle = r)),
      hungUp: new Promise<void>((r) => (hangUp = r)),
      ...(declaredLength !== undefined ? { declaredLength } : {}),
    };
    requests.push(rec);

    const parts: Buffer[] = [];
    let cut = false;
    req.on('data', (c: Buffer) => {
      if (cut) return;
      rec.bodyBytes += c.length;
      if (fault.kind === 'reset-request' && rec.bodyBytes >= fault.afterBytes) {
        cut = true;
        selfClosed = true;
        req.socket.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => {
      rec.complete = !cut && (declaredLength === undefined || rec.bodyBytes === declaredLength);
      settle();
    });
    req.on('close', () => {
      if (!req.complete || cut) rec.cutShort = true;
      settle();
    });
    req.on('error', () => {});
    res.on('error', () => {});
    res.on('close', () => {
      if (!res.writableFinished && !selfClosed) hangUp();
    });
    if (fault.kind === 'reset-request' && fault.afterBytes === 0) {
      selfClosed = true;
      req.socket.destroy();
      rec.cutShort = true;
      settle();
      return;
    }

    void rec.settled.then(() => {
      if (res.destroyed) return;
      const body = Buffer.concat(parts);
      // Only a body that arrived whole is stored: what a provider does with a cut upload.
      const answer = (): { status: number; headers: Record<string, string>; body: Buffer } => {
        if (req.method === 'PUT') {
          if (!rec.complete) {
            const e = errorDoc(400, 'IncompleteBody', path);
            return { status: e.status, headers: { 'content-type': 'application/xml' }, body: Buffer.from(e.body) };
          }
          stored.set(path, body);
          return { status: 200, headers: { etag: '"faulty"' }, body: Buffer.alloc(0) };
        }
        if (req.method === 'GET' || req.method === 'HEAD') {
          const obj = stored.get(path);
          if (!obj) {
            const e = errorDoc(404, 'NoSuchKey', path);
            return { status: e.status, headers: { 'content-type': 'application/xml' }, body: Buffer.from(e.body) };
          }
          return { status: 200, headers: { 'content-type': 'application/octet-stream', etag: '"faulty"' }, body: obj };
        }
        if (req.method === 'DELETE') {
          stored.delete(path);
          return { status: 204, headers: {}, body: Buffer.alloc(0) };
        }
        return { status: 200, headers: {}, body: Buffer.alloc(0) };
      };
      const send = (a: { status: number; headers: Record<string, string>; body: Buffer }, bytes = a.body.length, then?: () => void) => {
        res.writeHead(a.status, { ...a.headers, 'content-length': String(a.body.length), 'x-amz-request-id': 'FAULTY0000000000' });
        if (req.method === 'HEAD') return void res.end();
        if (bytes >= a.body.length) return void res.end(a.body);
        // Push the partial body out before acting on the socket.
        res.write(a.body.subarray(0, bytes), () => then?.());
      };
      switch (fault.kind) {
        case 'none':
        case 'reset-request':
          return send(answer());
        case 'early-hints':
          res.writeEarlyHints({ link: '</media/object>; rel=preload' });
          return send(answer());
        case 'error': {
          const e = errorDoc(fault.status, fault.code, path);
          res.writeHead(e.status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(e.body)), ...(fault.code === 'SlowDown' ? { 'retry-after': '1' } : {}) });
          return void res.end(e.body);
        }
        case 'canned':
          res.writeHead(fault.status, { ...fault.headers, 'content-length': String(Buffer.byteLength(fault.body)), 'x-amz-request-id': 'FAULTY0000000000' });
          return void res.end(req.method === 'HEAD' ? undefined : fault.body);
        case 'stall':
          return later(fault.ms, () => closeSelf());
        case 'reset-response':
          return send(answer(), fault.afterBytes, () => closeSelf());
        case 'stall-body':
          return send(answer(), fault.afterBytes, () => later(fault.ms, () => closeSelf()));
        case 'short-body':
          // A clean FIN after too few bytes: only the Content-Length tells the reader it is short.
          return send(answer(), fault.sendBytes, () => closeSelf(true));
        case 'trickle': {
          const a = answer();
          const { bytes, ms } = fault;
          return later(ms, () => {
            res.writeHead(a.status, { ...a.headers, 'content-length': String(a.body.length), 'x-amz-request-id': 'FAULTY0000000000' });
            let sent = 0;
            const next = (): void => {
              if (res.destroyed) return;
              const piece = a.body.subarray(sent, sent + bytes);
              sent += piece.length;
              if (sent >= a.body.length) return void res.end(piece);
              res.write(piece);
              later(ms, next);
            };
            next();
          });
        }
      }
    });
  });
  server.on('connection', (s: Socket) => {
    self.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self.port = (server.address() as AddressInfo).port;
  self.url = `http://127.0.0.1:${self.port}`;
  return self;
}

/** A 127.0.0.1 port nothing listens on (bound, then closed): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A listener that only counts TCP connections (and closes them): nothing should ever dial it. */
export async function startConnectionTrap(): Promise<{ port: number; url: string; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const s = createNetServer((sock) => {
    n++;
    sock.destroy();
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}`, connections: () => n, close: () => new Promise<void>((r) => s.close(() => r())) };
}
