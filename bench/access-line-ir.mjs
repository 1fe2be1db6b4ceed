// Instructions per access line, counted by callgrind: N lines of a GET through each build's own
// createLogger + writeAccess (its batch, its hand-overs to stdout, here /dev/null), less a run of
// none, after a warm-up of 50 000 lines. Load-independent, as bench/instructions.mjs.
//   node bench/access-line-ir.mjs BASE/dist dist      env: N (200000)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, ...rest] = process.argv.slice(2);
if (mode === '--lines') {
  const [d, n] = rest;
  const { createLogger } = await import(pathToFileURL(path.resolve(d, 'listen', 'log.js')).href);
  const { writeAccess } = await import(pathToFileURL(path.resolve(d, 'listen', 'access-log.js')).href);
  const log = createLogger('info');
  const fields = [];
  for (let i = 0; i < 64; i++) fields.push({ reqId: '1A2B3C4D' + String(10000000 + i), key: 'AKIAIOSFODNN7EXAMPLE', auth: 'v4-query', op: 'GetObject', method: 'GET', bucket: 'bench', status: 200, bytesIn: 0, bytesOut: 4096, ms: Math.round(Math.random() * 100000) / 100, upstream: 'nginx' });
  const chunk = () => { for (let i = 0; i < 1000; i++) writeAccess(log, fields[i & 63]); };
  for (let k = 0; k < 50; k++) chunk();
  for (let k = 0; k < Number(n) / 1000; k++) chunk();
} else {
  const N = Number(process.env.N ?? 200000);
  const dir = mkdtempSync(path.join(tmpdir(), 's3gate-lineir-'));
  const count = (d, n) => {
    const out = path.join(dir, 'cg.out');
    spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, import.meta.filename, '--lines', d, String(n)], { stdio: ['ignore', openSync('/dev/null', 'w'), 'ignore'] });
    const total = /([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(execFileSync('callgrind_annotate', [out]).toString());
    return Number(total[1].replaceAll(',', ''));
  };
  for (const d of [mode, ...rest]) console.log(`${d.padEnd(28)} ${((count(d, N) - count(d, 0)) / N).toFixed(0)} instructions per access line`);
  rmSync(dir, { recursive: true });
}
