// Reference points for what Node itself costs here, with no authentication at all:
//   node bench/lib/floor-server.mjs bare   PORT            — answers every request with 4 KiB itself
//   node bench/lib/floor-server.mjs undici PORT UPSTREAM   — a minimal pass-through over undici's
//     dispatcher (small bodies read whole, small answers sent in one write), as s3gate forwards
//   node bench/lib/floor-server.mjs undici-pool PORT UPSTREAM — the same on an undici Pool for the
//     one origin instead of an Agent (the Agent's origin lookup and extra dispatch layer)
//   node bench/lib/floor-server.mjs nodehttp PORT UPSTREAM — the same over node:http's client
//   node bench/lib/floor-server.mjs rawclient PORT UPSTREAM — the same over a hand-written HTTP/1.1
//     client on net sockets, to bound what replacing undici could buy. An experiment, not a
//     client: it understands only Content-Length answers from a well-behaved upstream (no chunked
//     bodies, no 1xx, no connection-close or error recovery, no timeouts, no TLS).
//   node bench/lib/floor-server.mjs stream PORT UPSTREAM   — the same, streaming both bodies
//   … stream-sha256 …          — and hashing PUT bodies with sha256 on the main thread, as s3gate
//                                 verifies a signed body
//   … stream-sha256-worker …   — hashing them in a worker thread fed a copy of each chunk
// bench/quick.mjs runs the unstreamed ones as targets, bench/run.mjs runs `undici` as N, and
// bench/floor-big.mjs runs the streaming ones.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { Worker } from 'node:worker_threads';
import net from 'node:net';
import { Agent, Pool } from 'undici';

const [mode, port, upPort] = process.argv.slice(2);
const origin = `http://127.0.0.1:${upPort}`;
const agent = mode === 'undici-pool'
  ? new Pool(origin, { keepAliveTimeout: 30_000, connections: 256 })
  : new Agent({ keepAliveTimeout: 30_000, connections: 256 });
const body4k = Buffer.alloc(4096, 1);

function passThrough(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const b = chunks.length ? Buffer.concat(chunks) : null;
    let status = 0;
    let headers;
    const parts = [];
    agent.dispatch({
      origin, path: req.url, method: req.method,
      headers: ['host', `127.0.0.1:${upPort}`, ...(b ? ['content-length', String(b.length)] : [])], body: b,
    }, {
      onConnect() {},
      onHeaders(s, raw) {
        status = s;
        headers = raw.map((x) => x.toString('latin1'));
        return true;
      },
      onData(c) {
        parts.push(c);
        return true;
      },
      onComplete() {
        res.writeHead(status, headers);
        res.end(parts.length === 1 ? parts[0] : Buffer.concat(parts));
      },
      onError(e) {
        res.destroy(e);
      },
    });
  });
}

// One worker for the process, hashing one body at a time (floor-big.mjs sends one at a time).
const worker = mode === 'stream-sha256-worker' ? new Worker(`
  const { parentPort } = require('node:worker_threads');
  const { createHash } = require('node:crypto');
  let h = createHash('sha256');
  parentPort.on('message', (m) => {
    if (m === 'end') {
      parentPort.postMessage(h.digest('hex'));
      h = createHash('sha256');
    } else h.update(new Uint8Array(m));
  });`, { eval: true }) : undefined;

function hashing() {
  if (worker) {
    return new Transform({
      transform(c, _e, cb) {
        const copy = c.buffer.slice(c.byteOffset, c.byteOffset + c.length);
        worker.postMessage(copy, [copy]);
        cb(null, c);
      },
      flush(cb) {
        worker.once('message', () => cb());
        worker.postMessage('end');
      },
    });
  }
  const h = createHash('sha256');
  return new Transform({
    transform(c, _e, cb) {
      h.update(c);
      cb(null, c);
    },
    flush(cb) {
      h.digest('hex');
      cb();
    },
  });
}

function streaming(req, res) {
  const cl = req.headers['content-length'];
  let body = null;
  if (req.method === 'PUT') body = mode === 'stream' ? req : req.pipe(hashing());
  agent.request({
    origin, path: req.url, method: req.method,
    headers: { host: `127.0.0.1:${upPort}`, ...(cl ? { 'content-length': cl } : {}) },
    body,
  }).then((r) => {
    res.writeHead(r.statusCode, r.headers);
    r.body.pipe(res);
  }, (e) => res.destroy(e));
}

// The same pass-through over node:http's own client and a keep-alive agent, to compare clients.
const nodeAgent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
function nodeClient(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const b = chunks.length ? Buffer.concat(chunks) : null;
    const up = http.request({
      host: '127.0.0.1', port: Number(upPort), path: req.url, method: req.method, agent: nodeAgent,
      headers: b ? { 'content-length': b.length } : {},
    }, (r) => {
      const parts = [];
      r.on('data', (c) => parts.push(c));
      r.on('end', () => {
        res.writeHead(r.statusCode, r.rawHeaders);
        res.end(parts.length === 1 ? parts[0] : Buffer.concat(parts));
      });
    });
    up.on('error', (e) => res.destroy(e));
    up.end(b);
  });
}

// The hand-written client: idle keep-alive sockets on a stack, one exchange at a time on each.
const idle = [];
function rawSocket() {
  const s = net.connect(Number(upPort), '127.0.0.1');
  s.setNoDelay(true);
  s.exchange = null;
  s.head = null;
  s.on('data', (d) => rawData(s, d));
  s.on('error', (e) => s.exchange?.fail(e));
  return s;
}
function rawData(s, d) {
  const x = s.exchange;
  if (!x) return;
  if (x.status === 0) {
    s.head = s.head ? Buffer.concat([s.head, d]) : d;
    const end = s.head.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = s.head.latin1Slice(0, end).split('\r\n');
    x.status = Number(lines[0].slice(9, 12));
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i];
      const c = l.indexOf(':');
      const name = l.slice(0, c);
      const value = l.slice(c + 1).trim();
      const lower = name.toLowerCase();
      if (lower === 'content-length') x.length = x.noBody ? 0 : Number(value);
      if (lower !== 'connection' && lower !== 'keep-alive') x.headers.push(name, value);
    }
    // nginx's 201/204 answers to PUT carry no Content-Length: no body.
    if (x.length === Infinity) x.length = 0;
    const rest = s.head.subarray(end + 4);
    s.head = null;
    if (rest.length) {
      x.parts.push(rest);
      x.got += rest.length;
    }
  } else {
    x.parts.push(d);
    x.got += d.length;
  }
  if (x.got >= x.length) {
    s.exchange = null;
    idle.push(s);
    x.done();
  }
}
function rawClient(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const b = chunks.length ? Buffer.concat(chunks) : null;
    const s = idle.pop() ?? rawSocket();
    const x = {
      status: 0, length: Infinity, noBody: req.method === 'HEAD', got: 0, parts: [], headers: [],
      done() {
        res.writeHead(x.status, x.headers);
        res.end(x.parts.length === 1 ? x.parts[0] : Buffer.concat(x.parts));
      },
      fail(e) {
        res.destroy(e);
      },
    };
    s.exchange = x;
    const head = `${req.method} ${req.url} HTTP/1.1\r\nhost: 127.0.0.1:${upPort}\r\n${b ? `content-length: ${b.length}\r\n` : ''}\r\n`;
    s.cork();
    s.write(head, 'latin1');
    if (b) s.write(b);
    s.uncork();
  });
}

function bare(req, res) {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-length': body4k.length, 'content-type': 'application/octet-stream' });
    res.end(body4k);
  });
}

const handlers = { bare, nodehttp: nodeClient, rawclient: rawClient, undici: passThrough, 'undici-pool': passThrough };
const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, mode.startsWith('stream') ? streaming : handlers[mode]);
// FLOOR_REUSEPORT=1: several floor processes share the port, as s3gate's workers do (SO_REUSEPORT).
server.listen(process.env.FLOOR_REUSEPORT === '1' ? { port: Number(port), host: '127.0.0.1', reusePort: true } : { port: Number(port), host: '127.0.0.1' });
process.on('SIGTERM', () => process.exit(0));
