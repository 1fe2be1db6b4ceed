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

// The profiler's own start (it lists every compiled function, ~100 ms with a gateway's code) runs
// in this module's handler, inside the window: its samples and their time are taken out.
function withoutSelf(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const mine = new Map();
  const isMine = (id) => {
    if (mine.has(id)) return mine.get(id);
    const n = byId.get(id);
    const r = n.callFrame.url === import.meta.url || (parent.has(id) && isMine(parent.get(id)));
    mine.set(id, r);
    return r;
  };
  const samples = [];
  const timeDeltas = [];
  for (let i = 0; i < profile.samples.length; i++) {
    if (isMine(profile.samples[i])) continue;
    samples.push(profile.samples[i]);
    timeDeltas.push(profile.timeDeltas[i]);
  }
  return { ...profile, samples, timeDeltas };
}
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
  writeFileSync(process.env.CPU_WINDOW_FILE, JSON.stringify(withoutSelf(profile)));
});
