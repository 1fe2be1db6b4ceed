// The answer's headers from undici's raw buffers to the client's writeHead, two builds alternated
// in one process: before resp (undici's parseHeaders, the object rewritten into a new object,
// writeHead with an object) against the flat list (answerHeaders straight from the raw buffers,
// writeHead with an array); each with the Content-Length and Content-Type looks it makes. Node's writeHead builds the header block without a socket (ServerResponse with none),
// so Node's own header work is counted. ns per answer, and V8 heap bytes per answer (young
// generation growth, windows with a GC left out).
//   node bench/answer-headers-ab.mjs BASE/dist dist      env: ROUNDS (7), BLOCK (nginx | s3)
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';

// What the bench's nginx upstream answers to a 4 KiB GET (BLOCK=nginx), or AWS S3 (BLOCK=s3: the
// GetObject example of its API reference, with a version id), as undici hands it over:
// subarrays of the socket's buffer.
const BLOCKS = {
  nginx: 'Server\nnginx/1.22.1\nDate\nSat, 05 Dec 2026 14:00:00 GMT\nContent-Type\napplication/octet-stream\nContent-Length\n' +
    '4096\nLast-Modified\nSat, 05 Dec 2026 13:00:00 GMT\nConnection\nkeep-alive\nETag\n"69327d10-1000"\nAccept-Ranges\nbytes',
  s3: 'x-amz-id-2\neftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran\nx-amz-request-id\n318BC8BC148832E5\n' +
    'Date\nSat, 05 Dec 2026 14:00:00 GMT\nLast-Modified\nSat, 05 Dec 2026 13:00:00 GMT\nETag\n"fba9dede5f27731c9771645a39863328"\n' +
    'x-amz-server-side-encryption\nAES256\nx-amz-version-id\n3HL4kqtJlcpXroDTDmjVBH40Nrjfkd\nAccept-Ranges\nbytes\n' +
    'Content-Type\ntext/plain\nContent-Length\n4096\nServer\nAmazonS3',
};
const block = Buffer.from(BLOCKS[process.env.BLOCK ?? 'nginx'], 'latin1');
function rawHeaders() {
  const raw = [];
  let at = 0;
  for (;;) {
    const end = block.indexOf(10, at);
    raw.push(block.subarray(at, end < 0 ? block.length : end));
    if (end < 0) return raw;
    at = end + 1;
  }
}
const fakeReq = { method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} };
const used = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;

const targets = [];
for (const d of process.argv.slice(2)) {
  const url = (f) => pathToFileURL(path.resolve(d, f)).href;
  const rewrite = await import(url('rewrite/response.js'));
  let answer;
  if (rewrite.answerHeaders) {
    const { contentLength } = await import(url('forward/forward.js'));
    answer = (raw, own) => {
      if (!(contentLength(raw) <= 65536)) throw new Error('length');
      const out = rewrite.answerHeaders(raw, own, false, 'b', 'c');
      if (rewrite.headerValue(out, 'content-type')?.includes('xml')) throw new Error('xml');
      const res = new http.ServerResponse(fakeReq);
      res.writeHead(200, out);
      return res;
    };
  } else {
    const { util } = await import(url('forward/undici.js'));
    answer = (raw, own) => {
      const headers = util.parseHeaders(raw);
      if (!(Number(headers['content-length']) <= 65536)) throw new Error('length');
      if (String(headers['content-type'] ?? '').includes('xml')) throw new Error('xml');
      const out = rewrite.responseHeaders(headers, headers.location === undefined ? undefined : (l) => l);
      Object.assign(out, own);
      const res = new http.ServerResponse(fakeReq);
      res.writeHead(200, out);
      return res;
    };
  }
  targets.push({ d, answer, ns: [], b: [] });
}
const raws = Array.from({ length: 200 }, rawHeaders);
let sink = 0;
for (let r = 0; r < Number(process.env.ROUNDS ?? 7); r++) for (const t of targets) {
  const t0 = process.hrtime.bigint();
  let bytes = 0, n = 0;
  for (let j = 0; j < 500; j++) {
    const u0 = used();
    for (let i = 0; i < 200; i++) sink += t.answer(raws[i], { 'x-amz-request-id': `ID${i}` })._header.length;
    const u1 = used();
    if (u1 > u0) { bytes += u1 - u0; n += 200; }
  }
  t.ns.push(Number(process.hrtime.bigint() - t0) / 100000);
  t.b.push(bytes / n);
}
const range = (a) => `${Math.min(...a).toFixed(0)}-${Math.max(...a).toFixed(0)}`;
for (const t of targets) console.log(`${t.d}: ${range(t.ns)} ns, ${range(t.b)} B per answer`);
if (sink === 0) console.log(sink);
