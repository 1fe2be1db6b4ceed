// The workers round's standing figures as an SVG bar chart: requests per second and CPU µs per
// request, GET and PUT, one bar per target, so the gap reads at a glance.
//   node bench/lib/chart.mjs OUT.svg < summary.json   (the JSON line bench/workers.mjs prints)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const COLORS = { gw1: '#1f77b4', gw2: '#2ca02c', 'gw2-primary': '#98df8a', nginx1: '#7f7f7f', nginx2: '#c7c7c7', N: '#ff7f0e' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** summary: { target: { GET: { rps, us }, PUT: { rps, us } } } */
export function workersChart(summary, title) {
  const targets = Object.keys(summary);
  const panels = [['GET', 'rps', 'GET req/s'], ['PUT', 'rps', 'PUT req/s'], ['GET', 'us', 'GET µs CPU per request'], ['PUT', 'us', 'PUT µs CPU per request']];
  const W = 260;
  const H = 220;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W * 4 + 20}" height="${H + 90}" font-family="sans-serif" font-size="11">`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`];
  panels.forEach(([method, field, label], p) => {
    const x0 = 10 + p * W;
    const vals = targets.map((t) => summary[t]?.[method]?.[field] ?? 0);
    const max = Math.max(...vals) || 1;
    const bw = (W - 40) / targets.length;
    out.push(`<text x="${x0 + 10}" y="40" font-weight="bold">${esc(label)}</text>`);
    out.push(`<line x1="${x0 + 10}" y1="${H + 30}" x2="${x0 + W - 20}" y2="${H + 30}" stroke="#333"/>`);
    vals.forEach((v, i) => {
      const h = (v / max) * (H - 40);
      const x = x0 + 12 + i * bw;
      out.push(`<rect x="${x.toFixed(1)}" y="${(H + 30 - h).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[targets[i]] ?? '#9467bd'}"/>`);
      out.push(`<text x="${(x + (bw - 4) / 2).toFixed(1)}" y="${(H + 26 - h).toFixed(1)}" text-anchor="middle">${Math.round(v)}</text>`);
    });
  });
  targets.forEach((t, i) => {
    out.push(`<rect x="${10 + i * 150}" y="${H + 50}" width="12" height="12" fill="${COLORS[t] ?? '#9467bd'}"/><text x="${26 + i * 150}" y="${H + 60}">${esc(t)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = readFileSync(0, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('JSON ')) ?? text;
  const summary = JSON.parse(line.replace(/^JSON /, ''));
  writeFileSync(process.argv[2], workersChart(summary, process.argv[3] ?? 's3gate workers round: 4 KiB requests at c=64'));
}
