// Child processes the benchmark starts, and what /proc says about them. Every child gets its
// own process group so nginx's workers go down with their master, whatever happens to us.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';

const children = new Set();

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Kills every child still running, synchronously (safe in an 'exit' handler). */
export function killAllNow() {
  for (const c of children) killGroup(c.pid, 'SIGKILL');
  children.clear();
}

let installed = false;
/** SIGINT/SIGTERM/uncaught errors and a wall-clock limit all end in killAllNow(). */
export function installCleanup(limitMs) {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping every process started`);
      killAllNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (e) => {
    console.error('bench: failed:', e);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => {
    console.error('bench: failed:', e);
    killAllNow();
    process.exit(1);
  });
  if (limitMs) {
    setTimeout(() => {
      console.error(`bench: wall-clock limit of ${Math.round(limitMs / 1000)} s reached, stopping`);
      killAllNow();
      process.exit(3);
    }, limitMs).unref();
  }
}

/** Starts a child in its own process group; stdout/stderr go to the given fds (or are ignored). */
export function start(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', opts.stdout ?? 'ignore', opts.stderr ?? 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const entry = { name, pid: child.pid, child, stderr: () => stderr, exited: false, code: null };
  child.on('exit', (code, sig) => {
    entry.exited = true;
    entry.code = code ?? sig;
    children.delete(entry);
  });
  children.add(entry);
  return entry;
}

/** SIGTERM to the group, then SIGKILL after graceMs. Resolves when the leader is gone. */
export async function stop(entry, graceMs = 5000) {
  if (!entry || entry.exited) return;
  const gone = new Promise((r) => entry.child.once('exit', r));
  killGroup(entry.pid, 'SIGTERM');
  const t = setTimeout(() => killGroup(entry.pid, 'SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
  // nginx workers may outlive the master by a moment; make sure none stays.
  killGroup(entry.pid, 'SIGKILL');
  children.delete(entry);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, entry, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (entry?.exited) throw new Error(`${entry.name} exited (${entry.code}) before listening:\n${entry.stderr()}`);
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${entry?.name ?? 'server'} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${entry?.stderr() ?? ''}`);
}

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime+stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid) {
  const { user, sys } = cpuSplit(pid);
  return user + sys;
}

/** user and system CPU seconds of a process (fields 14 and 15 of /proc/pid/stat), and its minor page faults (field 10). */
export function cpuSplit(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK, minflt: Number(f[7]) };
}

/** CPU seconds summed over several pids (a missing pid counts 0). */
export function cpuOf(pids) {
  let t = 0;
  for (const p of pids) {
    try {
      t += cpuSeconds(p);
    } catch {
      /* exited */
    }
  }
  return t;
}

/**
 * CPU seconds summed over several pids, every thread's time on a CPU to the nanosecond
 * (/proc/PID/task/TID/schedstat), where cpuOf counts 10 ms ticks: a slice of a few thousand
 * requests at ~100 µs each is 60 ticks, too coarse for a C − N of 25 µs. A thread that exits
 * between two readings takes its time with it (the targets here keep theirs). Falls back to
 * cpuOf where the kernel keeps no schedstat.
 */
export function cpuPrecise(pids) {
  let ns = 0;
  for (const p of pids) {
    let tasks;
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; /* exited */
    }
    for (const t of tasks) {
      try {
        ns += Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        if (!existsSync(`/proc/${p}/task/${t}`)) continue;
        return cpuOf(pids);
      }
    }
  }
  return ns / 1e9;
}

/** pids whose parent is `pid` (nginx workers of a master). */
export function childPids(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) out.push(Number(d));
    } catch {
      /* raced with an exit */
    }
  }
  return out;
}

/** VmRSS / VmHWM in MiB. */
export function memStatus(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (n) => Number(new RegExp(`^${n}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, needs ptrace rights on the pid). */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `everyMs` until stopped; returns the max seen. */
export function sampleRss(pid, everyMs = 20) {
  let max = 0;
  const tick = () => {
    try {
      max = Math.max(max, memStatus(pid).rss);
    } catch {
      /* gone */
    }
  };
  tick();
  const t = setInterval(tick, everyMs);
  return () => {
    clearInterval(t);
    tick();
    return max;
  };
}
