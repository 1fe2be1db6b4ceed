// Preloaded (--import) by bench/profile-diff.mjs with WINDOW=1: V8's CPU profile of a window
// only, not of the process's start-up (module loading and compiling, which --cpu-prof charges to
// the whole run: several µs per request over 25,000 requests, all under "node internals").
// SIGWINCH starts the profiler; the next SIGWINCH stops it and writes CPU_WINDOW_FILE.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
const post = (m, p) => new Promise((resolve, reject) => session.post(m, p, (e, r) => (e ? reject(e) : resolve(r))));
let running = false;
process.on('SIGWINCH', async () => {
  if (!running) {
    running = true;
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: Number(process.env.CPU_WINDOW_INTERVAL ?? 1000) });
    await post('Profiler.start');
    return;
  }
  running = false;
  const { profile } = await post('Profiler.stop');
  writeFileSync(process.env.CPU_WINDOW_FILE, JSON.stringify(profile));
});
