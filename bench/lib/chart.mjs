// The workers round's standing figures as an SVG bar chart: requests per second and CPU µs per
// request, GET and PUT, A, B, N and C with 1 worker and with 2, so the gap reads at a glance.
//   node bench/lib/chart.mjs OUT.svg [TITLE] < workers.log   (the JSON line bench/workers.mjs prints)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

const KIND_COLORS = { A: '#7f7f7f', B: '#2ca02c', N: '#ff7f0e', C: '#1f77b4' };
const KIND_NAMES = { A: 'A direct', B: 'B nginx', N: 'N undici floor', C: 'C s3gate' };

/**
 * The workers round of `npm run bench` (bench/lib/workers-round.mjs): rate and CPU per request,
 * GET and PUT, for A, B, N and C, each with one worker (pale) and with W (full colour); the
 * C − N and speed-up figures below.
 */
export function roundChart(round, title) {
  const { results, derived, settings } = round;
  const W = settings.workers;
  const kinds = ['A', 'B', 'N', 'C'].filter((k) => results[k]);
  const panels = [['GET', 'rps', 'GET req/s (higher is better)'], ['PUT', 'rps', 'PUT req/s (higher is better)'], ['GET', 'us', 'GET CPU µs per request (lower)'], ['PUT', 'us', 'PUT CPU µs per request (lower)']];
  const PW = 280;
  const H = 230;
  const top = 50;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${PW * 4 + 20}" height="${H + top + 110}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`];
  panels.forEach(([method, field, label], p) => {
    const x0 = 10 + p * PW;
    const vals = kinds.flatMap((k) => [results[k][1][method][field], results[k][W][method][field]]);
    const max = Math.max(...vals) || 1;
    const gw = (PW - 30) / kinds.length;
    const base = top + H;
    out.push(`<text x="${x0 + 5}" y="${top - 8}" font-weight="bold">${esc(label)}</text>`);
    out.push(`<line x1="${x0 + 5}" y1="${base}" x2="${x0 + PW - 20}" y2="${base}" stroke="#333"/>`);
    kinds.forEach((k, i) => {
      [1, W].forEach((w, j) => {
        const v = results[k][w][method][field];
        const h = (v / max) * (H - 30);
        const bw = (gw - 10) / 2;
        const x = x0 + 8 + i * gw + j * bw;
        out.push(`<rect x="${x.toFixed(1)}" y="${(base - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${KIND_COLORS[k]}" fill-opacity="${w === 1 ? 0.45 : 1}"/>`);
        out.push(`<text x="${(x + (bw - 2) / 2).toFixed(1)}" y="${(base - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${Math.round(v)}</text>`);
      });
      out.push(`<text x="${(x0 + 8 + i * gw + (gw - 10) / 2).toFixed(1)}" y="${base + 14}" text-anchor="middle" font-weight="bold">${k}</text>`);
    });
  });
  let y = top + H + 36;
  kinds.forEach((k, i) => {
    out.push(`<rect x="${10 + i * 125}" y="${y - 10}" width="12" height="12" fill="${KIND_COLORS[k]}"/><text x="${26 + i * 125}" y="${y}">${esc(KIND_NAMES[k])}</text>`);
  });
  out.push(`<rect x="${10 + kinds.length * 125}" y="${y - 10}" width="12" height="12" fill="#444" fill-opacity="0.45"/><text x="${26 + kinds.length * 125}" y="${y}">pale: 1 worker${settings.pinTarget ? ', pinned to 1 core' : ''}</text>`);
  out.push(`<rect x="${10 + kinds.length * 125 + 170}" y="${y - 10}" width="12" height="12" fill="#444"/><text x="${26 + kinds.length * 125 + 170}" y="${y}">full: ${W} workers; wrk and the upstream on the same ${settings.nproc} cores</text>`);
  const f1 = (x) => x.toFixed(1);
  const f2 = (x) => x.toFixed(2);
  for (const m of ['GET', 'PUT']) {
    y += 18;
    const d = derived[m];
    out.push(`<text x="10" y="${y}">${esc(`${m}: C − N ${f1(d.cMinusN[1])} µs (1 worker), ${f1(d.cMinusN[W])} µs (${W}); ${W} workers / 1: C ${f2(d.speedup.C)}×, B ${f2(d.speedup.B)}× (ceiling with the load generator and upstream on the same cores: C ${f2(d.ceiling.C)}×); CPU per request ${W}/1: C ${f2(d.cpuScaling.C)}, N ${f2(d.cpuScaling.N)}, B ${f2(d.cpuScaling.B)}`)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // The JSON line of bench/workers.mjs: the workers round (bench/lib/workers-round.mjs).
  const text = readFileSync(0, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('JSON ')) ?? text;
  const round = JSON.parse(line.replace(/^JSON /, ''));
  writeFileSync(process.argv[2], roundChart(round, process.argv[3] ?? 's3gate workers round: 4 KiB requests at c=64'));
}
