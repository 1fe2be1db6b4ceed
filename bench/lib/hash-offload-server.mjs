// A streaming PUT pass-through that hashes the body with sha256 (as s3gate verifies a signed
// body) on the main thread (`main`), in a worker thread fed copies of each chunk (`worker`), or
// not at all (`none`). Run by bench/hash-offload.mjs.  node bench/lib/hash-offload-server.mjs MODE PORT UPSTREAM
import http from 'node:http';
import { Agent } from 'undici';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Transform } from 'node:stream';
const [mode, port, upPort] = process.argv.slice(2);
const origin = `http://127.0.0.1:${upPort}`;
const agent = new Agent({ keepAliveTimeout: 30000, connections: 256 });
const workerSrc = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let h = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === 'end') { parentPort.postMessage(h.digest('hex')); h = createHash('sha256'); return; }
  h.update(new Uint8Array(m));
});`;
const worker = mode === 'worker' ? new Worker(workerSrc, { eval: true }) : null;
http.createServer((req, res) => {
  let t;
  if (mode === 'main') {
    const h = createHash('sha256');
    t = new Transform({ transform(c, _e, cb) { h.update(c); cb(null, c); }, flush(cb) { h.digest('hex'); cb(); } });
  } else if (mode === 'worker') {
    t = new Transform({
      transform(c, _e, cb) { const copy = c.buffer.slice(c.byteOffset, c.byteOffset + c.length); worker.postMessage(copy, [copy]); cb(null, c); },
      flush(cb) { worker.once('message', () => cb()); worker.postMessage('end'); },
    });
  } else t = new Transform({ transform(c, _e, cb) { cb(null, c); } });
  req.pipe(t);
  const cl = req.headers['content-length'];
  agent.request({ origin, path: req.url, method: req.method, headers: { host: 'x', ...(cl ? { 'content-length': cl } : {}) }, body: req.method === 'PUT' ? t : null })
    .then((r) => { res.writeHead(r.statusCode, r.headers); r.body.pipe(res); }, (e) => res.destroy(e));
}).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
