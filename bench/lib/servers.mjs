// The three things a client can talk to: (A) the upstream nginx, (B) a plain reverse proxy,
// (C) s3gate from dist/, each a separate process group on 127.0.0.1.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, freePort, start, stop, waitForPort } from './procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
/**
 * The node flags `npm start` gives the gateway (package.json's start script; the Docker image's
 * ENTRYPOINT has the same): every gateway the bench starts gets them first, so it measures what
 * users run. A variant's own flags come after them, and V8 takes the last of a repeated flag.
 */
export const START_FLAGS = (() => {
  const start = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const m = /^node((?:\s+--\S+)*)\s+dist\/cli\.js\b/.exec(start);
  if (!m) throw new Error(`package.json's start script is not "node [--flag ...] dist/cli.js ...": ${start}`);
  return m[1].trim().split(/\s+/).filter(Boolean);
})();

/** the compiled gateway: dist/ here, or S3GATE_DIST (a scratch build with config/ and node_modules beside it) */
export const DIST = process.env.S3GATE_DIST ? path.resolve(process.env.S3GATE_DIST) : path.join(ROOT, 'dist');

export const GW_KEY = { accessKeyId: 'BENCHCLIENTKEY', secretAccessKey: 'bench-client-secret-0123456789abcdefghij' };
export const UP_KEY = { accessKeyId: 'BENCHUPSTREAMKEY', secretAccessKey: 'bench-upstream-secret-0123456789abcdefgh' };
export const BUCKET = 'bench';

function which(cmd) {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (d && existsSync(path.join(d, cmd))) return path.join(d, cmd);
  }
  return undefined;
}

/** nginx's path, installing Debian's nginx-light with apt-get when missing and we are root. */
export function findNginx(log) {
  if (process.env.BENCH_PROXY === 'node') return undefined;
  let bin = which('nginx');
  if (bin) return bin;
  if (process.getuid?.() === 0 && which('apt-get')) {
    log('nginx not found; installing Debian nginx-light with apt-get (about 30 s)');
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const install = () => execFileSync('apt-get', ['install', '-y', '-q', 'nginx-light'], { stdio: 'ignore', env, timeout: 180_000 });
      try {
        install();
      } catch {
        execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 180_000 });
        install();
      }
    } catch (e) {
      log(`apt-get failed (${e.message.split('\n')[0]})`);
    }
    // Debian starts the packaged service on install; it listens on :80, not on our ports, and
    // is left as the package manager set it up.
    bin = which('nginx');
  }
  return bin;
}

export function nginxVersion(bin) {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().replace(/^nginx version: /, '');
}

function nginxMain(dir, name, workers = 1) {
  const tmp = (t) => `${t}_temp_path ${path.join(dir, `${name}-${t}`)};`;
  return [
    `worker_processes ${workers};`,
    'daemon off;',
    'master_process on;',
    process.getuid?.() === 0 ? 'user root;' : '',
    `pid ${path.join(dir, `${name}.pid`)};`,
    `error_log ${path.join(dir, `${name}-error.log`)} warn;`,
    'events { worker_connections 4096; }',
  ].join('\n') + `\nhttp {\n  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(tmp).join('\n  ')}\n`;
}

/** Upstream: GET serves files from dataDir, PUT stores them (dav). Fast enough not to be the bottleneck. */
export function upstreamConf(dir, dataDir, port, { name = 'upstream', workers = 1 } = {}) {
  return nginxMain(dir, name, workers) + `
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  default_type application/octet-stream;
  # GET keys are never overwritten during the run, so cached descriptors cannot go stale.
  open_file_cache max=64 inactive=60s;
  server {
    listen 127.0.0.1:${port};
    root ${dataDir};
    client_max_body_size 0;
    client_body_buffer_size 1m;
    client_body_temp_path ${path.join(dir, `${name}-put`)};
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
`;
}

/** (B): a plain reverse proxy as MinIO's docs configure nginx for S3: streaming both ways, upstream keep-alive. */
export function proxyConf(dir, port, upstreamPort, workers = 1, name = 'proxy') {
  return nginxMain(dir, name, workers) + `
  # one line per request, like s3gate's access log
  access_log ${path.join(dir, `${name}-access.log`)};
  tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  upstream s3 {
    server 127.0.0.1:${upstreamPort};
    keepalive 256;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_buffering off;
    proxy_request_buffering off;
    location / {
      proxy_pass http://s3;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`;
}

export async function startNginx(bin, dir, name, conf, port, workerCount = 1) {
  const file = path.join(dir, `${name}.conf`);
  writeFileSync(file, conf);
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'put']) mkdirSync(path.join(dir, `${name}-${t}`), { recursive: true });
  execFileSync(bin, ['-t', '-q', '-c', file, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const entry = start(`nginx ${name}`, bin, ['-c', file, '-p', dir]);
  await waitForPort(port, entry);
  // The worker serves every request; the master only supervises.
  let workers = [];
  for (let i = 0; i < 50 && workers.length < workerCount; i++) {
    workers = childPids(entry.pid);
    if (workers.length < workerCount) await new Promise((r) => setTimeout(r, 20));
  }
  return { ...entry, cpuPids: [entry.pid, ...workers], workerPid: workers[0], port, stop: () => stop(entry) };
}

export async function startNodeProxy(port, upstreamPort) {
  const entry = start('node proxy', process.execPath, [path.join(ROOT, 'bench', 'node-proxy.mjs'), String(port), String(upstreamPort)]);
  await waitForPort(port, entry);
  return { ...entry, cpuPids: [entry.pid], port, stop: () => stop(entry) };
}

export function gatewayYaml(port, upstreamPort) {
  return `# written by bench/run.mjs
listen:
  - address: 127.0.0.1:${port}
region: us-east-1
keys:
  - accessKeyId: ${GW_KEY.accessKeyId}
    secretAccessKey: ${GW_KEY.secretAccessKey}
    allow:
      - { bucket: ${BUCKET}, actions: [read, write, list] }
upstreams:
  nginx:
    provider: minio
    endpoint: http://127.0.0.1:${upstreamPort}
    credentials: { accessKeyId: ${UP_KEY.accessKeyId}, secretAccessKey: ${UP_KEY.secretAccessKey} }
buckets:
  ${BUCKET}:
    upstream: nginx
workers: \${S3GATE_WORKERS:-1}
log:
  level: ${process.env.BENCH_GATEWAY_LOG ?? 'info'}
`;
}

/**
 * For the small bench loops (quick, rss, mixed): a scratch dir in /dev/shm, removed at exit, whose
 * data/BUCKET the nginx upstream serves. Returns the dir, the bucket's folder, the upstream's port
 * and the upstream itself.
 */
export async function scratchUpstream(prefix, log = console.log) {
  const dir = mkdtempSync(path.join('/dev/shm', prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const bucketDir = path.join(dir, 'data', BUCKET);
  mkdirSync(bucketDir, { recursive: true });
  const nginx = findNginx(log);
  const port = await freePort();
  const upstream = await startNginx(nginx, dir, 'upstream', upstreamConf(dir, path.join(dir, 'data'), port), port);
  return { dir, bucketDir, nginx, upPort: port, upstream };
}

/**
 * Options for startS3gate from a target name on a bench command line:
 * `gw[:DIST_DIR][@NODE_BINARY][+NODE_FLAG,NODE_FLAG][%ENV=VALUE,ENV=VALUE]`, parts in that order.
 */
export function gatewayVariant(name) {
  if (!name.startsWith('gw')) throw new Error(`not a gateway target: ${name}`);
  const opts = {};
  let rest = name.slice(2);
  const take = (sigil, f) => {
    const i = rest.lastIndexOf(sigil);
    if (i < 0) return;
    f(rest.slice(i + 1));
    rest = rest.slice(0, i);
  };
  take('%', (v) => (opts.env = Object.fromEntries(v.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))));
  take('+', (v) => (opts.nodeFlags = v.split(',')));
  take('@', (v) => (opts.node = v));
  take(':', (v) => (opts.dist = path.resolve(v)));
  if (rest !== '') throw new Error(`unknown gateway target ${name}`);
  return opts;
}

/** s3gate as its own process (node dist/cli.js), so its CPU and RSS are its own; `node` (or S3GATE_NODE)
 * runs it on another Node binary than the bench's, such as the current LTS the Docker image uses. */
export async function startS3gate(dir, port, upstreamPort, { cpuProfDir, tag = 'gateway', dist = DIST, nodeFlags = [], node = process.env.S3GATE_NODE || process.execPath, env = {}, listenTimeoutMs } = {}) {
  const cli = path.join(dist, 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} not found: run \`npm run build\` first`);
  const cfg = path.join(dir, `${tag}.yaml`);
  writeFileSync(cfg, gatewayYaml(port, upstreamPort));
  const rssFile = path.join(dir, `${tag}-rss.json`);
  const args = [...START_FLAGS, ...nodeFlags, ...(cpuProfDir ? [] : ['--import', path.join(ROOT, 'bench', 'lib', 'rss-probe.mjs')])];
  if (cpuProfDir) args.push('--cpu-prof', '--cpu-prof-dir', cpuProfDir);
  args.push(cli, '--config', cfg);
  // The access log goes to a file, as it would in production (one JSON line per request).
  const out = openSync(path.join(dir, `${tag}.log`), 'a');
  const entry = start(`s3gate ${tag}`, node, args, { stdout: out, env: { ...process.env, ...env, BENCH_RSS_FILE: rssFile } });
  await waitForPort(port, entry, listenTimeoutMs);
  // With workers the port opens with the first; the primary logs once every worker listens.
  if (Number(env.S3GATE_WORKERS ?? 1) > 1) {
    for (let i = 0; i < 1500 && !readFileSync(path.join(dir, `${tag}.log`), 'utf8').includes('"msg":"s3gate listening"'); i++) await new Promise((r) => setTimeout(r, 20));
  }
  return {
    ...entry, port,
    /** the gateway's processes: with workers, the primary and each worker */
    get cpuPids() {
      return [entry.pid, ...childPids(entry.pid)];
    },
    stop: () => stop(entry, 15_000),
    /** toggles the in-process sampler: first call starts a window (NaN), second returns its peak RSS in MiB */
    async probeRss() {
      const before = existsSync(rssFile) ? readFileSync(rssFile, 'utf8') : '';
      process.kill(entry.pid, 'SIGUSR2');
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const now = existsSync(rssFile) ? readFileSync(rssFile, 'utf8') : '';
        if (now && now !== before) {
          const j = JSON.parse(now);
          this.lastProbe = j;
          return (j.maxRss ?? NaN) / 2 ** 20;
        }
      }
      return NaN;
    },
  };
}
