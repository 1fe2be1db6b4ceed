// V8 heap bytes allocated per call of each case of bench/sign-ab.mjs, per build: heapUsed before
// and after 5,000 calls in a 64 MiB young generation (no collection between), in a fresh process
// per build and case. Load-independent, unlike the µs of sign-ab.mjs.
//   node bench/sign-alloc.mjs /tmp/base/dist dist
import { execFileSync } from 'node:child_process';
const dists = process.argv.slice(2);
const names = ['presigned GET verify', 'header PUT verify', 'signOutbound GET', 'signOutbound PUT', 'build+sign+query GET'];
for (let c = 0; c < names.length; c++) {
  const row = [];
  for (const d of dists) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', new URL('./sign-ab.mjs', import.meta.url).pathname, d], { env: { ...process.env, ALLOC_CASE: String(c) }, encoding: 'utf8', maxBuffer: 1 << 26 });
    const sum = Number(/BYTES (\S+)/.exec(out)[1]) * 200000;
    row.push(`${(sum / 200000).toFixed(0)} B`);
  }
  console.log(names[c].padEnd(24), row.join('  '), '  (' + dists.join(' | ') + ')');
}
