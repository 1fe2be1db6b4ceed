// What writing the access line costs each request, and how often a request meets a hand-over of
// the gathered lines to the log destination (the waits that reach the tail at one connection).
// Builds alternate in rounds in one process; each logger writes to stdout, so send it elsewhere:
//   node bench/log-cost.mjs DIST_A DIST_B > /dev/null     env: LINES (per round, 20000), ROUNDS (5)
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const LINES = Number(process.env.LINES ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const f = {
  reqId: '1A2B3C4D0000ABCD', key: 'AKIAIOSFODNN7EXAMPLE', auth: 'v4-query', op: 'GetObject', method: 'GET', bucket: 'bench',
  status: 200, bytesIn: 0, bytesOut: 4096, ms: 0.35, upstream: 'nginx',
};
const targets = [];
for (const d of process.argv.slice(2)) {
  const { createLogger } = await import(pathToFileURL(path.resolve(d, 'listen', 'log.js')).href);
  const { writeAccess } = await import(pathToFileURL(path.resolve(d, 'listen', 'access-log.js')).href);
  targets.push({ d, log: createLogger('info'), writeAccess, t: [] });
}
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const x of targets) {
    for (let i = 0; i < LINES; i++) {
      // a little work between lines, as a request would do
      for (let j = 0; j < 200; j++) sink += j * i;
      const a = process.hrtime.bigint();
      x.writeAccess(x.log, f);
      x.t.push(Number(process.hrtime.bigint() - a) / 1000);
      // let the destination's writes complete now and then, as the event loop would
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
  }
}
for (const x of targets) {
  const s = [...x.t].sort((a, b) => a - b);
  const n = s.length;
  const over = (v) => (x.t.filter((u) => u > v).length * 1000) / n;
  console.error(`${x.d.padEnd(28)} µs per line: median ${s[n >> 1].toFixed(2)}, p99 ${s[Math.floor(n * 0.99)].toFixed(1)}, p99.9 ${s[Math.floor(n * 0.999)].toFixed(1)}; ` +
    `lines over 30 µs per 1000: ${over(30).toFixed(1)}; µs per line in all ${(x.t.reduce((a, b) => a + b, 0) / n).toFixed(2)}`);
}
process.exit(sink === -1 ? 1 : 0);
