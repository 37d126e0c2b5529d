/** Line charts as SVG strings: no DOM, no dependencies, the same in Node and the browser. */
import { escapeHtml } from './html.ts';

export interface Series {
  name: string;
  x: number[];
  y: number[];
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  yDomain?: [number, number];
  /**
   * The x values count something (epochs, steps): tick the x axis at integers only, never at 1.5.
   * Left out, it is on when every x value is an integer.
   */
  integerTicks?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/**
 * Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering [lo, hi]. With `integer`, only whole
 * steps of at least 1 (so 1, 2, 5, 10, 20, 25, …): an axis of epochs or steps ticks at 1, 2, 3.
 */
export function ticks(lo: number, hi: number, count = 6, integer = false): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const candidates = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw)));
  let step = candidates.find((s) => s >= raw) ?? raw;
  if (integer) step = step <= 1 ? 1 : (candidates.find((s) => s >= raw && Number.isInteger(s)) ?? Math.ceil(step));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/**
 * Width of the legend column for these labels (12 px DejaVu Sans, about 7 px a character, after
 * a swatch of `swatch` px): at least 150, so short legends keep the usual frame.
 */
export function legendWidth(labels: string[], swatch = 42): number {
  return Math.max(150, swatch + 8 + 7 * Math.max(0, ...labels.map((l) => [...l].length)));
}

export function lineChartSvg(series: Series[], o: ChartOptions): string {
  // A long legend widens the picture rather than clip its labels or squeeze the plot.
  const right = legendWidth(series.map((s) => s.name));
  const W = (o.width ?? 640) + right - 150;
  const H = o.height ?? 400;
  const m = { left: 64, right, top: 40, bottom: 52 };
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = o.yDomain ?? [Math.min(...ys), Math.max(...ys)];
  const px = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - ((v - y0) / (y1 - y0 || 1)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="24" text-anchor="middle" font-size="16">${escapeHtml(o.title)}</text>`);
  const integerX = o.integerTicks ?? xs.every((x) => Number.isInteger(x));
  for (const t of ticks(x0, x1, 6, integerX)) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${H - m.bottom + 18}" text-anchor="middle" font-size="12">${t}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 8}" y="${py(t) + 4}" text-anchor="end" font-size="12">${t}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 12}" text-anchor="middle" font-size="13">${escapeHtml(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escapeHtml(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.x.map((x, k) => `${px(x).toFixed(1)},${py(s.y[k]).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (let k = 0; k < s.x.length; k++) parts.push(`<circle cx="${px(s.x[k]).toFixed(1)}" cy="${py(s.y[k]).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = m.top + 10 + i * 20;
    parts.push(`<line x1="${W - m.right + 12}" x2="${W - m.right + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${W - m.right + 42}" y="${ly + 4}" font-size="12">${escapeHtml(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>\n`;
}

export interface HistogramOptions {
  title: string;
  xLabel: string;
  bins?: number;
  width?: number;
  height?: number;
}

/** Equal-width bins over [min, max] of `values` (all in one bin when they are equal): counts and edges. */
export function histogram(values: number[], bins = 10): { edges: number[]; counts: number[] } {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const n = hi > lo ? bins : 1;
  const step = (hi - lo) / n || 1;
  const counts = new Array<number>(n).fill(0);
  for (const v of values) counts[Math.min(n - 1, Math.floor((v - lo) / step))]++;
  return { edges: Array.from({ length: n + 1 }, (_, i) => lo + i * step), counts };
}

/** A histogram of `values` as an SVG bar chart (count on the y axis). */
export function histogramSvg(values: number[], o: HistogramOptions): string {
  const W = o.width ?? 480;
  const H = o.height ?? 260;
  const m = { left: 52, right: 16, top: 36, bottom: 48 };
  const { edges, counts } = histogram(values, o.bins ?? 10);
  const [x0, x1] = [edges[0], edges.at(-1)! > edges[0] ? edges.at(-1)! : edges[0] + 1];
  const y1 = Math.max(1, ...counts);
  const px = (v: number) => m.left + ((v - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - (v / y1) * (H - m.top - m.bottom);
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="22" text-anchor="middle" font-size="14">${escapeHtml(o.title)}</text>`);
  for (const t of ticks(0, y1, 4).filter((t) => Number.isInteger(t))) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${t}</text>`);
  }
  counts.forEach((c, i) => {
    const a = px(edges[i]);
    const b = edges.length > i + 1 && edges[i + 1] > edges[i] ? px(edges[i + 1]) : W - m.right;
    parts.push(`<rect x="${(a + 1).toFixed(1)}" y="${py(c).toFixed(1)}" width="${Math.max(1, b - a - 2).toFixed(1)}" height="${(H - m.bottom - py(c)).toFixed(1)}" fill="#1f77b4"><title>${Math.round(edges[i])}–${Math.round(edges[i + 1] ?? edges[i])}: ${c}</title></rect>`);
  });
  for (const t of ticks(x0, x1, 5)) parts.push(`<text x="${px(t)}" y="${H - m.bottom + 16}" text-anchor="middle" font-size="11">${t}</text>`);
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="#444"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${escapeHtml(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">examples</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>\n`;
}
