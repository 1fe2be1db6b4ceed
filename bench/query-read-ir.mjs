// Instructions per read of a presigned GET's query (the SDK's, as bench/lib/clients.mjs sends it),
// counted by callgrind: each build's parsePresignedQuery, N reads less a run of none, after a
// warm-up of 40 000 reads and a pause for V8's compilers. Load-independent, as bench/instructions.mjs.
//   node bench/query-read-ir.mjs BASE/dist dist      env: N (10000)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, ...rest] = process.argv.slice(2);
if (mode === '--reads') {
  const [d, n] = rest;
  const m = await import(pathToFileURL(path.resolve(d, 'signing', 'sigv4.js')).href);
  const query = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261205%2Fus-east-1%2Fs3%2Faws4_request'
    + '&X-Amz-Date=20261205T093000Z&X-Amz-Expires=3600&X-Amz-Signature=' + 'ab'.repeat(32) + '&X-Amz-SignedHeaders=host&x-id=GetObject';
  // the query as the gateway has it: a slice of the request's URL
  const url = Buffer.from('/bench/obj-4k?' + query).toString('latin1');
  const raw = url.slice(url.indexOf('?') + 1);
  let sink = 0;
  // before parsePresignedQuery (1345b51): parseQuery, then canonicalQueryFromRaw, as authenticateQueryV4 did
  const read = m.parsePresignedQuery
    ? () => { const r = m.parsePresignedQuery(raw, 'X-Amz-Signature'); sink += r.pairs.length + r.canonical.length; }
    : () => { const pairs = m.parseQuery(raw); sink += pairs.length + (m.canonicalQueryFromRaw(raw, 'X-Amz-Signature') ?? m.canonicalQuery(pairs, 'X-Amz-Signature')).length; };
  for (let i = 0; i < 40000; i++) read();
  await new Promise((r) => setTimeout(r, 6000));
  // counted from here: callgrind_control switches collection on, and off after the reads (the
  // event loop turns while it waits for valgrind to take the command)
  const control = async (what) => {
    let done = false;
    spawn('callgrind_control', ['-i', what, String(process.pid)], { stdio: 'ignore' }).on('exit', () => { done = true; });
    while (!done) await new Promise((r) => setTimeout(r, 5));
  };
  await control('on');
  for (let i = 0; i < Number(n); i++) read();
  await control('off');
  if (sink === 0) console.log('nothing read');
} else {
  const N = Number(process.env.N ?? 10000);
  const dir = mkdtempSync(path.join(tmpdir(), 's3gate-queryir-'));
  const count = (d, n) => {
    const out = path.join(dir, 'cg.out');
    spawnSync('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, import.meta.filename, '--reads', d, String(n)], { stdio: ['ignore', openSync('/dev/null', 'w'), 'ignore'] });
    const total = /([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(execFileSync('callgrind_annotate', [out]).toString());
    return Number(total[1].replaceAll(',', ''));
  };
  for (const d of [mode, ...rest]) console.log(`${d.padEnd(28)} ${((count(d, N) - count(d, 0)) / N).toFixed(0)} instructions per presigned query read`);
  rmSync(dir, { recursive: true });
}
