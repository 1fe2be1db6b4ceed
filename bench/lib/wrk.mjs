// wrk as the load generator of the workers round: a separate process, pinned with taskset, whose
// own CPU is read back apart from the target's. autocannon runs inside the bench's own Node
// process and took 28–57 µs of CPU per request here, a third of a core at these rates; wrk takes
// a fraction of that, which is what a second gateway worker on a 2-core machine can use instead.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function which(cmd) {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin'])) {
    if (d && existsSync(path.join(d, cmd))) return path.join(d, cmd);
  }
  return undefined;
}

/** wrk's path, installing Debian's wrk with apt-get when missing and we are root. */
export function findWrk(log) {
  let bin = which('wrk');
  if (bin || process.getuid?.() !== 0 || !which('apt-get')) return bin;
  log('wrk not found; installing Debian wrk with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore', env, timeout: 180_000 });
  } catch {
    try {
      execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 180_000 });
      execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore', env, timeout: 180_000 });
    } catch (e) {
      log(`apt-get install wrk failed (${e.message.split('\n')[0]})`);
    }
  }
  return which('wrk');
}

/** Pins every thread of each pid to the CPU list ("0", "1", "0-1"); a pid that is gone is skipped. */
export function pin(pids, cpus) {
  for (const pid of pids) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    } catch {
      /* exited */
    }
  }
}

const lua = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * A wrk script sending `req` (method, path, headers, optional body) as it is: the Host header is
 * the request's own (signed for the gateway), never a second one from wrk.
 */
export function wrkScript(dir, name, req) {
  const file = path.join(dir, `${name}.lua`);
  const lines = [`wrk.method = ${lua(req.method)}`, `wrk.path = ${lua(req.path)}`];
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.toLowerCase() === 'content-length') continue; // wrk sets it from the body
    lines.push(`wrk.headers[${lua(k.toLowerCase() === 'host' ? 'Host' : k)}] = ${lua(String(v))}`);
  }
  if (req.body) {
    const bodyFile = path.join(dir, `${name}.body`);
    writeFileSync(bodyFile, req.body);
    lines.push(`local f = assert(io.open(${lua(bodyFile)}, "rb"))`, 'wrk.body = f:read("*a")', 'f:close()');
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const UNIT = { us: 1e-3, ms: 1, s: 1e3 };
const ms = (v, u) => Number(v) * UNIT[u];

/**
 * One wrk run: `connections` connections on one thread for `duration` s, pinned to `cpus`.
 * Returns the rate, p50/p99 in ms, non-2xx and socket errors, and wrk's own CPU seconds
 * (GNU time's user + system). --timeout 10s: wrk's default 2 s counts a slow answer on a loaded
 * machine as a socket error.
 */
export function runWrk(bin, { port, script, connections, duration, cpus }) {
  const args = ['-f', 'CPU %U %S', 'taskset', '-c', cpus, bin, '-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '--latency', '-s', script, `http://127.0.0.1:${port}`];
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(err);
      const total = /(\d+) requests in ([\d.]+)(\w+)/.exec(out);
      if (code !== 0 || !cpu || !total) return reject(new Error(`wrk exited ${code}:\n${out}\n${err}`));
      const lat = (p) => {
        const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
        return m ? ms(m[1], m[2]) : NaN;
      };
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const requests = Number(total[1]);
      const seconds = ms(total[2], total[3]) / 1000;
      resolve({
        requests,
        seconds,
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? requests / seconds),
        p50: lat(50),
        p99: lat(99),
        non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
        errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        cpuSeconds: Number(cpu[1]) + Number(cpu[2]),
      });
    });
  });
}
