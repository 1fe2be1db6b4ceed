// Loaded into the gateway with --import by bench/alloc-profile.mjs: SIGWINCH starts V8's sampling
// heap profiler (every 512 bytes, objects collected by GCs kept), a second SIGWINCH writes the
// profile to HEAP_OUT. HEAP_SURVIVORS=1 drops the objects a scavenge collected: what is left
// is what reached the old generation (or was still alive at the end).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = new Session();
s.connect();
let on = false;
process.on('SIGWINCH', () => {
  if (!on) {
    on = true;
    s.post('HeapProfiler.enable', () => s.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.HEAP_SURVIVORS !== '1' }));
  } else {
    s.post('HeapProfiler.stopSampling', (err, r) => {
      writeFileSync(process.env.HEAP_OUT, JSON.stringify(r.profile));
      on = false;
    });
  }
});
