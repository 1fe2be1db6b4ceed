// Preloaded into the gateway child (node --import) to sample process.memoryUsage().rss from
// inside the gateway, only while a transfer is measured: the first SIGUSR2 starts sampling
// every 10 ms, the next writes the peak of that window to $BENCH_RSS_FILE and stops.
// Outside those windows it does nothing, so it costs the small-request runs nothing.
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  let timer;
  let max = 0;
  let atPeak;
  // What the RSS was made of at its peak (V8's heap by space, and memory outside it), in MiB.
  const sample = () => {
    const r = process.memoryUsage.rss();
    if (r <= max) return;
    max = r;
    const m = process.memoryUsage();
    const mib = (x) => Math.round(x / 2 ** 17) / 8;
    atPeak = { heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) };
    for (const sp of getHeapSpaceStatistics()) atPeak[sp.space_name] = mib(sp.physical_space_size);
  };
  process.on('SIGUSR2', () => {
    if (!timer) {
      max = 0;
      sample();
      timer = setInterval(sample, 10);
      writeFileSync(file, JSON.stringify({ started: Date.now() }));
      return;
    }
    clearInterval(timer);
    timer = undefined;
    sample();
    writeFileSync(file, JSON.stringify({ maxRss: max, atPeak, at: Date.now() }));
  });
}
