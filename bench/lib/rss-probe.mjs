// Preloaded into the gateway child (node --import): samples process.memoryUsage().rss from
// inside the gateway every 10 ms. SIGUSR2 writes the peak since the last SIGUSR2 to
// $BENCH_RSS_FILE and starts a new window. Nothing else in the gateway changes.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  let max = 0;
  const sample = () => {
    const r = process.memoryUsage.rss();
    if (r > max) max = r;
  };
  setInterval(sample, 10).unref();
  process.on('SIGUSR2', () => {
    sample();
    writeFileSync(file, JSON.stringify({ maxRss: max, at: Date.now() }));
    max = 0;
  });
}
