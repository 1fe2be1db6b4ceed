#!/usr/bin/env node
// Soak: a bounded, sustained load through s3gate on loopback, watching what must not grow.
//
//   node bench/soak.mjs                 # 2 minutes (default)
//   SOAK_MINUTES=10 node bench/soak.mjs # the full 10 minutes
//
// s3gate runs as its own process (`node dist/cli.js --config <tmp>/soak.yaml`) in front of an
// nginx upstream (GET serves files, PUT stores them via dav), both on 127.0.0.1. SOAK_CLIENTS
// (default 256) client loops share one keep-alive pool to the gateway, each picking GET or PUT
// of 4 KiB or 8 MiB objects with real SigV4 header signatures. Reported: requests and errors by
// kind, the gateway's RSS every 10 s, its open file descriptors and sockets at start, middle,
// end and after the load stops, and whether RSS grew between minute 2 (or mid-run for shorter
// runs) and the end. Results are printed as JSON on stdout (and written to $SOAK_OUT if set).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { findNginx, startNginx, upstreamConf, UP_KEY } from './lib/servers.mjs';
import { freePort, installCleanup, memStatus, start, stop, waitForPort } from './lib/procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const MINUTES = Number(process.env.SOAK_MINUTES ?? 2);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 256);
const SAMPLE_MS = 10_000;
const DURATION_MS = Math.max(0.1, MINUTES) * 60_000;
// Whatever happens, nothing outlives the run by more than this.
installCleanup(DURATION_MS + 180_000);

const KEY = { accessKeyId: 'SOAKCLIENTKEY', secretAccessKey: 'soak-client-secret-0123456789abcdefghijk' };
const BUCKET = 'soak';
const SMALL = 4 * 1024;
const BIG = 8 * 1024 * 1024;
// The mix, per client iteration: mostly small requests, a steady trickle of big ones.
const MIX = [
  { name: 'GET 4KiB', method: 'GET', size: SMALL, weight: 45 },
  { name: 'PUT 4KiB', method: 'PUT', size: SMALL, weight: 45 },
  { name: 'GET 8MiB', method: 'GET', size: BIG, weight: 5 },
  { name: 'PUT 8MiB', method: 'PUT', size: BIG, weight: 5 },
];
const TOTAL_WEIGHT = MIX.reduce((a, m) => a + m.weight, 0);

const log = (...a) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...a);

function pick() {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const m of MIX) if ((r -= m.weight) < 0) return m;
  return MIX[0];
}

function fdStats(pid) {
  let fds = 0;
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      /* closed while we looked */
    }
  }
  return { fds, sockets };
}

function gatewayYaml(port, upstreamPort) {
  return `# written by bench/soak.mjs
listen:
  - address: 127.0.0.1:${port}
region: us-east-1
keys:
  - accessKeyId: ${KEY.accessKeyId}
    secretAccessKey: ${KEY.secretAccessKey}
    allow:
      - { bucket: ${BUCKET}, actions: [read, write, list] }
upstreams:
  nginx:
    provider: minio
    endpoint: http://127.0.0.1:${upstreamPort}
    credentials: { accessKeyId: ${UP_KEY.accessKeyId}, secretAccessKey: ${UP_KEY.secretAccessKey} }
    timeouts: { connect: 5000, headers: 60000, body: 60000 }
buckets:
  ${BUCKET}:
    upstream: nginx
log:
  level: ${process.env.SOAK_GATEWAY_LOG ?? 'info'}
`;
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 's3gate-soak-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(path.join(dataDir, BUCKET), { recursive: true });
  const smallBody = randomBytes(SMALL);
  const bigBody = randomBytes(BIG);
  writeFileSync(path.join(dataDir, BUCKET, 'small'), smallBody);
  writeFileSync(path.join(dataDir, BUCKET, 'big'), bigBody);
  const digest = { [SMALL]: createHash('sha256').update(smallBody).digest('hex'), [BIG]: createHash('sha256').update(bigBody).digest('hex') };

  const nginxBin = findNginx(log);
  if (!nginxBin) throw new Error('nginx is needed as the soak upstream (apt-get install nginx-light)');
  const upstreamPort = await freePort();
  const upstream = await startNginx(nginxBin, dir, 'upstream', upstreamConf(dir, dataDir, upstreamPort), upstreamPort);

  const gwPort = await freePort();
  const cfg = path.join(dir, 'soak.yaml');
  writeFileSync(cfg, gatewayYaml(gwPort, upstreamPort));
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const gwLog = openSync(path.join(dir, 'gateway.log'), 'a');
  const gw = start('s3gate', process.execPath, [cli, '--config', cfg], { stdout: gwLog });
  await waitForPort(gwPort, gw);
  log(`gateway pid ${gw.pid} on 127.0.0.1:${gwPort}, nginx upstream on ${upstreamPort}, ${CLIENTS} clients, ${MINUTES} min`);
  log(`command: node ${path.relative(process.cwd(), cli)} --config ${cfg}`);

  const signer = new SignatureV4({ credentials: KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const pool = new Pool(`http://127.0.0.1:${gwPort}`, { connections: CLIENTS, keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

  const counts = Object.fromEntries(MIX.map((m) => [m.name, 0]));
  const errors = {};
  const addError = (kind) => {
    errors[kind] = (errors[kind] ?? 0) + 1;
  };
  let bytesIn = 0;
  let bytesOut = 0;
  let done = 0;

  async function once(worker) {
    const m = pick();
    const key = m.method === 'GET' ? (m.size === SMALL ? 'small' : 'big') : `put-${worker}-${m.size === SMALL ? 's' : 'b'}`;
    const p = `/${BUCKET}/${key}`;
    const hash = m.method === 'PUT' ? digest[m.size] : 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const signed = await signer.sign({
      method: m.method, protocol: 'http:', hostname: '127.0.0.1', port: gwPort, path: p, query: {},
      headers: { host: `127.0.0.1:${gwPort}`, 'x-amz-content-sha256': hash, ...(m.method === 'PUT' ? { 'content-length': String(m.size) } : {}) },
    });
    try {
      const res = await pool.request({
        method: m.method, path: p, headers: signed.headers,
        ...(m.method === 'PUT' ? { body: m.size === SMALL ? smallBody : bigBody } : {}),
      });
      let n = 0;
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      const h = m.method === 'GET' && ok ? createHash('sha256') : undefined;
      const chunks = [];
      for await (const c of res.body) {
        n += c.length;
        h?.update(c);
        if (!ok && n < 4096) chunks.push(c);
      }
      if (!ok) {
        const code = /<Code>([^<]*)<\/Code>/.exec(Buffer.concat(chunks).toString())?.[1] ?? '';
        addError(`${m.name}: HTTP ${res.statusCode} ${code}`.trim());
        return;
      }
      if (h) {
        bytesIn += n;
        if (n !== m.size || h.digest('hex') !== digest[m.size]) {
          addError(`${m.name}: wrong body (${n} bytes)`);
          return;
        }
      } else bytesOut += m.size;
      counts[m.name]++;
      done++;
    } catch (e) {
      addError(`${m.name}: ${e.code ?? e.name ?? 'error'}`);
    }
  }

  const started = Date.now();
  const deadline = started + DURATION_MS;
  const samples = [];
  const sample = () => {
    try {
      const mem = memStatus(gw.pid);
      const fd = fdStats(gw.pid);
      const s = { t: Math.round((Date.now() - started) / 1000), rssMiB: Math.round(mem.rss * 10) / 10, ...fd, requests: done, errors: Object.values(errors).reduce((a, b) => a + b, 0) };
      samples.push(s);
      log(`t=${s.t}s rss=${s.rssMiB} MiB fds=${s.fds} sockets=${s.sockets} ok=${s.requests} errors=${s.errors}`);
      return s;
    } catch (e) {
      log(`sample failed: ${e.message}`);
      return undefined;
    }
  };
  const atStart = sample();
  const timer = setInterval(sample, SAMPLE_MS);
  let middle;
  const midTimer = setTimeout(() => {
    middle = fdStats(gw.pid);
  }, DURATION_MS / 2);

  await Promise.all(Array.from({ length: CLIENTS }, async (_, w) => {
    while (Date.now() < deadline) await once(w);
  }));
  clearInterval(timer);
  clearTimeout(midTimer);
  const atEnd = sample();
  const elapsed = (Date.now() - started) / 1000;
  await pool.close();
  // Idle: every client connection is closed; what the gateway still holds is its own.
  await new Promise((r) => setTimeout(r, 5000));
  const idle = { ...fdStats(gw.pid), rssMiB: Math.round(memStatus(gw.pid).rss * 10) / 10 };
  const gatewayAlive = !gw.exited;
  await stop(gw, 15_000);
  await upstream.stop();

  const refT = MINUTES >= 4 ? 120 : Math.round(DURATION_MS / 2000);
  const ref = samples.filter((s) => s.t >= refT)[0] ?? samples[0];
  const growth = atEnd && ref ? Math.round((atEnd.rssMiB - ref.rssMiB) * 10) / 10 : NaN;
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    minutes: MINUTES,
    clients: CLIENTS,
    mix: MIX.map(({ name, weight }) => ({ name, weight })),
    seconds: Math.round(elapsed),
    ok: counts,
    requests: done,
    reqPerSec: Math.round(done / elapsed),
    mibPerSecIn: Math.round(bytesIn / elapsed / 2 ** 20),
    mibPerSecOut: Math.round(bytesOut / elapsed / 2 ** 20),
    errors,
    fds: { start: atStart && { fds: atStart.fds, sockets: atStart.sockets }, middle, end: atEnd && { fds: atEnd.fds, sockets: atEnd.sockets }, idleAfter5s: { fds: idle.fds, sockets: idle.sockets } },
    rss: samples.map(({ t, rssMiB }) => ({ t, rssMiB })),
    rssGrowth: { fromSecond: ref?.t, fromMiB: ref?.rssMiB, endMiB: atEnd?.rssMiB, growthMiB: growth, idleMiB: idle.rssMiB },
    gatewayAlive,
    command: `${MINUTES === 2 ? '' : `SOAK_MINUTES=${MINUTES} `}node bench/soak.mjs`,
  };
  console.log(JSON.stringify(result, null, 2));
  if (process.env.SOAK_OUT) writeFileSync(process.env.SOAK_OUT, JSON.stringify(result, null, 2) + '\n');
  rmSync(dir, { recursive: true, force: true });
}

main().then(() => process.exit(0), (e) => {
  console.error('soak failed:', e);
  process.exit(1);
});
