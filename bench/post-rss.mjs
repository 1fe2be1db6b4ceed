// A browser form upload (POST Object, issue #22) of MIB MiB through s3gate into the bench's nginx
// upstream: peak RSS of the gateway (VmHWM) while the file is spooled and then sent as a PutObject,
// beside a plain PUT of the same size in the same gateway, and where the time goes. Run once,
// briefly: `npm run build && node bench/post-rss.mjs` (env MIB, default 1024). Figures in
// docs/post-uploads.md.
import http from 'node:http';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { installCleanup, freePort, memStatus, resetPeak, cpuSeconds } from './lib/procs.mjs';
import { DIST, GW_KEY, BUCKET, scratchUpstream, startS3gate } from './lib/servers.mjs';
import { bigPut, signHeaders } from './lib/clients.mjs';

installCleanup(1_200_000);
const MIB = Number(process.env.MIB ?? 1024);
const block = randomBytes(2 ** 20);
const { dir, upPort } = await scratchUpstream('s3gate-post-rss-');
const port = await freePort();
const gw = await startS3gate(dir, port, upPort, { tag: 'post' });
const { loadConfig } = await import(path.join(DIST, 'config', 'load.js'));
const { presignPost } = await import(path.join(DIST, 'commands', 'presign-post.js'));
const cfg = loadConfig(path.join(dir, 'post.yaml'));
const form = presignPost(cfg, cfg.keys.get(GW_KEY.accessKeyId), { bucket: BUCKET, key: 'form-upload' }, { expires: 3600, maxSize: MIB * 2 ** 20 });

/** Streams a multipart form whose file is MIB copies of `block`; resolves with the answer and the seconds taken. */
function postForm() {
  const boundary = `----s3gatebench${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(Object.entries(form.fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = head.length + MIB * block.length + tail.length;
  const t0 = process.hrtime.bigint();
  let sentAt = 0n;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/${BUCKET}`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        const t1 = process.hrtime.bigint();
        resolve({ status: res.statusCode, etag: res.headers.etag, body, seconds: Number(t1 - t0) / 1e9, afterSent: Number(t1 - sentAt) / 1e9 });
      });
    });
    req.on('error', reject);
    req.write(head);
    let i = 0;
    const pump = () => {
      while (i < MIB) {
        i++;
        if (!req.write(block)) return void req.once('drain', pump);
      }
      req.end(tail, () => (sentAt = process.hrtime.bigint()));
    };
    pump();
  });
}

async function measure(name, run) {
  resetPeak(gw.pid);
  const before = memStatus(gw.pid).rss;
  const cpu0 = cpuSeconds(gw.pid);
  const r = await run();
  const cpu = cpuSeconds(gw.pid) - cpu0;
  console.log(`${name}: status ${r.status}, peak RSS ${memStatus(gw.pid).hwm.toFixed(0)} MiB (from ${before.toFixed(0)}), ${r.seconds.toFixed(1)} s ` +
    `(${(MIB / r.seconds).toFixed(0)} MiB/s)${r.afterSent !== undefined ? `, ${r.afterSent.toFixed(1)} s of it after the last byte was sent` : ''}, ${((cpu * 1024) / MIB).toFixed(2)} CPU s/GiB`);
  return r;
}



console.log(`node ${process.version}, ${MIB} MiB, gateway ${DIST}`);
const posted = await measure('POST form', postForm);
if (posted.status !== 204) throw new Error(`POST answered ${posted.status} ${posted.etag} ${posted.body}`);
const sha = createHash('sha256');
for (let i = 0; i < MIB; i++) sha.update(block);
const put = await signHeaders(port, 'PUT', 'plain-put', sha.digest('hex'), { 'content-length': String(MIB * 2 ** 20) });
await measure('PUT     ', async () => {
  const t0 = process.hrtime.bigint();
  const r = await bigPut(port, put.path, put.headers, block, MIB);
  return { status: r.status ?? 200, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
});
await gw.stop();
process.exit(0);
