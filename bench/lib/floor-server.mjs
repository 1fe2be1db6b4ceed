// Reference points for what Node itself costs here, with no authentication at all:
//   node bench/lib/floor-server.mjs bare   PORT            — answers every request with 4 KiB itself
//   node bench/lib/floor-server.mjs undici PORT UPSTREAM   — a minimal pass-through over undici's
//     dispatcher (small bodies read whole, small answers sent in one write), as s3gate forwards
//   node bench/lib/floor-server.mjs stream PORT UPSTREAM   — the same, streaming both bodies
// bench/quick.mjs runs the first two as targets `bare` and `undici`; bench/floor-big.mjs the third.
import http from 'node:http';
import { Agent } from 'undici';

const [mode, port, upPort] = process.argv.slice(2);
const origin = `http://127.0.0.1:${upPort}`;
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
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

function streaming(req, res) {
  const cl = req.headers['content-length'];
  agent.request({
    origin, path: req.url, method: req.method,
    headers: { host: `127.0.0.1:${upPort}`, ...(cl ? { 'content-length': cl } : {}) },
    body: req.method === 'PUT' ? req : null,
  }).then((r) => {
    res.writeHead(r.statusCode, r.headers);
    r.body.pipe(res);
  }, (e) => res.destroy(e));
}

function bare(req, res) {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-length': body4k.length, 'content-type': 'application/octet-stream' });
    res.end(body4k);
  });
}

const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, mode === 'bare' ? bare : mode === 'stream' ? streaming : passThrough);
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
