// Preloaded into the gateway child (node --import) to sample process.memoryUsage().rss from
// inside the gateway, only while a transfer is measured: the first SIGUSR2 starts sampling
// every 10 ms, the next writes the peak of that window to $BENCH_RSS_FILE and stops.
// Outside those windows it does nothing, so it costs the small-request runs nothing.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  let timer;
  let max = 0;
  const sample = () => {
    const r = process.memoryUsage.rss();
    if (r > max) max = r;
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
    writeFileSync(file, JSON.stringify({ maxRss: max, at: Date.now() }));
  });
}
