// How to get the pieces of what a signature hashes into bytes: a write into the scratch buffer
// per piece (src/signing/sigv4.ts's put), one string per line or for everything written once, or
// a loop over the character codes. ns per canonical request's first lines and headers (an
// outbound GET's), min and median of R rounds of B, over 64 flat inputs so that nothing folds.
//   node bench/sign-writes.mjs        env: R (11 rounds, the first a warm-up), B (200000)
const R = Number(process.env.R ?? 11);
const B = Number(process.env.B ?? 200_000);
const SCRATCH = Buffer.allocUnsafe(32 * 1024);
let used = 0;
function put(s) { if (s.length === 0) return true; if (used + s.length * 3 > SCRATCH.length) return false; used += SCRATCH.utf8Write(s, used); return true; }
function putLatin1(s) { if (s.length === 0) return true; if (used + s.length * 3 > SCRATCH.length) return false; used += SCRATCH.latin1Write(s, used); return true; }
function putLoop(s) {
  const n = s.length;
  if (used + n * 3 > SCRATCH.length) return false;
  const b = used;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) { used = b + i + SCRATCH.utf8Write(s.slice(i), b + i); return true; }
    SCRATCH[b + i] = c;
  }
  used = b + n;
  return true;
}
function putByte(b) { if (used >= SCRATCH.length) return false; SCRATCH[used++] = b; return true; }
const flat = (s) => Buffer.from(s, 'latin1').toString('latin1');
const paths = Array.from({ length: 64 }, (_, i) => flat('/up') + flat(`/bench/obj-${i}k`));
const qs = Array.from({ length: 64 }, (_, i) => flat(`x-id=GetObject${i}`));
const names = ['host', 'x-amz-content-sha256', 'x-amz-date'];
const vals = Array.from({ length: 64 }, (_, i) => [flat(`127.0.0.1:90${i}`), flat('UNSIGNED-PAYLOAD'), flat(`2025011${i % 10}T120000Z`)]);
const perPiece = (w) => (i) => {
  used = 0; w('GET'); putByte(10); w(paths[i]); putByte(10); w(qs[i]); putByte(10);
  for (let k = 0; k < 3; k++) { w(names[k]); putByte(58); w(vals[i][k]); putByte(10); }
  return used;
};
const cases = {
  'a write per piece (utf8, as now)': perPiece(put),
  'a write per piece (latin1)': perPiece(putLatin1),
  'a loop over the character codes per piece': perPiece(putLoop),
  'a string per line, written': (i) => { used = 0; put(`GET\n${paths[i]}\n${qs[i]}\n`); for (let k = 0; k < 3; k++) put(names[k] + ':' + vals[i][k] + '\n'); return used; },
  'one string, written once': (i) => { used = 0; let s = `GET\n${paths[i]}\n${qs[i]}\n`; for (let k = 0; k < 3; k++) s += names[k] + ':' + vals[i][k] + '\n'; put(s); return used; },
};
const first = Object.values(cases)[0];
for (const f of Object.values(cases)) for (let i = 0; i < 64; i++) { const n = f(i); const a = SCRATCH.toString('latin1', 0, n); first(i); if (SCRATCH.toString('latin1', 0, used) !== a) throw new Error('differs'); }
const res = {};
let sink;
for (let r = 0; r < R; r++) for (const [k, f] of Object.entries(cases)) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < B; i++) sink = f(i & 63);
  const ns = Number(process.hrtime.bigint() - t0) / B;
  if (r) (res[k] ??= []).push(ns);
}
for (const [k, a] of Object.entries(res)) { a.sort((x, y) => x - y); console.log(`${a[0].toFixed(0).padStart(5)} ns min, ${a[a.length >> 1].toFixed(0)} median  ${k}`); }
if (sink === -1) console.log();
