// Memory under hostile whole bodies (#17, finding 8): CONNS connections of one key each send a
// signed CompleteMultipartUpload of the largest size s3gate takes, all but its last byte, and
// stall. Reports the gateway's peak RSS and how each connection was answered, per gateway variant
// (`gw`, or `gw:OTHER/dist` for a build of another commit), each in a fresh process.
//   node bench/hostile-bodies.mjs [gw[:DIST_DIR] ...]      env: CONNS (1000), MIB (2, per body)
import net from 'node:net';
import { installCleanup, freePort, memStatus, resetPeak } from './lib/procs.mjs';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { gatewayVariant, scratchUpstream, startS3gate, BUCKET, GW_KEY } from './lib/servers.mjs';

installCleanup(600_000);
const CONNS = Number(process.env.CONNS ?? 1000);
const SIZE = Number(process.env.MIB ?? 2) * 2 ** 20;
const which = process.argv.slice(2).length ? process.argv.slice(2) : ['gw'];
const { dir, upPort } = await scratchUpstream('s3gate-hostile-');

function attack(port, head) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = (kind) => {
      s.destroy();
      resolve(kind);
    };
    s.on('data', (c) => {
      answer += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (m) done(m[1]);
    });
    s.on('error', () => done('reset'));
    s.on('close', () => done(answer ? 'other' : 'closed'));
    s.write(head);
    // All but the last byte, in 64 KiB writes: the gateway holds what it read, waiting for the end.
    const block = Buffer.alloc(64 * 1024, 0x20);
    let left = SIZE - 1;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!s.write(block.subarray(0, n))) return s.once('drain', pump);
      }
    };
    pump();
    attack.sockets.push(s);
    setTimeout(() => done('held'), Number(process.env.HOLD_MS ?? 8000));
  });
}
attack.sockets = [];

for (const name of which) {
  const port = await freePort();
  const gw = await startS3gate(dir, port, upPort, { ...gatewayVariant(name), tag: name.replace(/[^a-z0-9]/gi, '_') });
  const path = `/${BUCKET}/hostile.bin?uploadId=x`;
  const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const s = await signer.sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: `/${BUCKET}/hostile.bin`, query: { uploadId: 'x' },
    headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(SIZE) } });
  const head = `POST ${path} HTTP/1.1\r\n` + Object.entries(s.headers).map(([n, v]) => `${n}: ${v}`).join('\r\n') + '\r\n\r\n';
  const idle = memStatus(gw.pid).rss;
  resetPeak(gw.pid);
  const t0 = Date.now();
  const kinds = await Promise.all(Array.from({ length: CONNS }, () => attack(port, head)));
  const peak = memStatus(gw.pid).hwm;
  for (const so of attack.sockets.splice(0)) so.destroy();
  const counts = {};
  for (const k of kinds) counts[k] = (counts[k] ?? 0) + 1;
  console.log(`${name}: ${CONNS} connections × ${SIZE / 2 ** 20} MiB bodies of one key: peak RSS ${peak.toFixed(0)} MiB (idle ${idle.toFixed(0)}), ` +
    `answers ${JSON.stringify(counts)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await gw.stop();
}
process.exit(0);
