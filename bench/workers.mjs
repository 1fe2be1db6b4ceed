// The workers round of `npm run bench` on its own (bench/lib/workers-round.mjs): 4 KiB GETs and PUTs
// at c=64 against A (the nginx upstream), B (nginx proxy_pass), N (the undici pass-through) and C
// (s3gate), with 1 worker pinned to one core and with 2 workers on every core; wrk as the load
// generator in its own process, each target's CPU counted from /proc apart from wrk's.
//   npm run build && node bench/workers.mjs
//   env: DURATION (seconds per measurement, 4), ROUNDS (3), WORKERS (2),
//        BENCH_CHART (write the SVG chart there, e.g. docs/performance-workers.svg)
// Prints the table, the C − N line, the speed-ups with the ceiling that sharing the cores with wrk
// and the upstream leaves, and a JSON line of everything.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { installCleanup } from './lib/procs.mjs';
import { scratchUpstream } from './lib/servers.mjs';
import { smallObject } from './lib/clients.mjs';
import { roundChart } from './lib/chart.mjs';
import { findWrk } from './lib/wrk.mjs';
import { workersRound, workersReport } from './lib/workers-round.mjs';

installCleanup(1_500_000);
const DURATION = Number(process.env.DURATION ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WORKERS = Number(process.env.WORKERS ?? 2);
const wrk = findWrk(console.log);
if (!wrk) throw new Error('wrk is needed (Debian: apt-get install wrk)');
// The scratch upstream is not used: the round starts its own 1- and 2-worker upstreams on its data.
const { dir, bucketDir, nginx, upstream } = await scratchUpstream('s3gate-workers-');
await upstream.stop();
const small = smallObject(bucketDir);
const load0 = os.loadavg();
const round = await workersRound({ nginx, wrk, dir, dataDir: `${dir}/data`, small, duration: DURATION, rounds: ROUNDS, workers: WORKERS, cpuCount: os.availableParallelism() });
round.loadavg = { start: load0, end: os.loadavg() };
console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; node ${process.version}`);
for (const l of workersReport(round)) console.log(l);
console.log(`JSON ${JSON.stringify(round)}`);
if (process.env.BENCH_CHART) writeFileSync(process.env.BENCH_CHART, roundChart(round, `s3gate workers round (bench/workers.mjs, ${new Date().toISOString().slice(0, 10)}, load average ${load0[0].toFixed(1)}): 4 KiB at c=64, ${os.availableParallelism()} cores`));
process.exit(0);
