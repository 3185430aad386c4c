/**
 * A small hand-rolled SVG line chart: log or linear x, linear y from 0, one polyline per
 * series (dashed for raw baselines), a legend and an optional horizontal target line. No
 * dependencies; the output is a standalone file a README can embed.
 */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  color: string;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  /** Log y from the decade at or under the smallest value (values under 1 are drawn at 1). */
  logY?: boolean;
  series: Series[];
  /** A horizontal line, e.g. the target. */
  target?: { y: number; label: string };
  /** A footnote (the machine and run). */
  note?: string;
}

export const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const label = (v: number) => (Math.abs(v) >= 1000 ? `${v / 1000}k` : Number(v.toPrecision(3)).toString());

export function lineChart(chart: Chart): string {
  const W = 640;
  const H = 400;
  const m = { l: 64, r: 170, t: 40, b: 76 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = chart.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMax = niceMax(Math.max(...all.map(([, y]) => y), chart.target?.y ?? 0) * 1.05);
  const fx = (x: number) => {
    if (xMax === xMin) return m.l + pw / 2;
    return chart.logX ? m.l + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * pw : m.l + ((x - xMin) / (xMax - xMin)) * pw;
  };
  const yLogMax = 10 ** Math.ceil(Math.log10(Math.max(1, ...all.map(([, y]) => y), chart.target?.y ?? 1)));
  const yLogMin = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all.map(([, y]) => y)))));
  const fy = chart.logY
    ? (y: number) => m.t + ph - ((Math.log10(Math.max(y, yLogMin)) - Math.log10(yLogMin)) / Math.max(1, Math.log10(yLogMax) - Math.log10(yLogMin))) * ph
    : (y: number) => m.t + ph - (y / yMax) * ph;
  const yTicks = chart.logY ? Array.from({ length: Math.round(Math.log10(yLogMax / yLogMin)) + 1 }, (_, i) => yLogMin * 10 ** i) : [0, 1, 2, 3, 4, 5].map((i) => (yMax * i) / 5);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.l}" y="22" font-size="14" font-weight="bold">${esc(chart.title)}</text>`);
  // Grid and axes.
  for (const y of yTicks) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${fy(y).toFixed(1)}" y2="${fy(y).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${(fy(y) + 4).toFixed(1)}" text-anchor="end">${label(y)}</text>`);
  }
  const ticks = [...new Set(xs)].sort((a, b) => a - b);
  for (const x of ticks) {
    out.push(`<line x1="${fx(x).toFixed(1)}" x2="${fx(x).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${fx(x).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/><line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`);
  if (chart.target) {
    const y = fy(chart.target.y).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#999" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${m.l + pw - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#666">${esc(chart.target.label)}</text>`);
  }
  chart.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort((a, b) => a[0] - b[0]);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${fx(x).toFixed(1)},${fy(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${fx(x).toFixed(1)}" cy="${fy(y).toFixed(1)}" r="3" fill="${s.dashed ? '#fff' : s.color}" stroke="${s.color}"/>`);
    const ly = m.t + 8 + i * 18;
    out.push(`<line x1="${m.l + pw + 14}" x2="${m.l + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${m.l + pw + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  (chart.note ?? '').split('; ').forEach((line, i, all) => {
    if (line) out.push(`<text x="8" y="${H - 6 - (all.length - 1 - i) * 13}" font-size="10" fill="#666">${esc(line)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
