/**
 * Scatter plots and 2-D decision boundaries as standalone SVG strings (no DOM, no dependencies):
 * source vs target features in a 2-D embedding, and a toy classifier's probability map with the
 * points on top. Same frame, fonts and legend place as lineChartSvg. Each group's markers are one
 * <path>, so a picture of thousands of points stays small.
 */
import { AdvxError } from '../core/errors.ts';
import { escapeHtml } from './html.ts';
import { legendWidth, ticks } from './plot.ts';

export interface ScatterGroup {
  label: string;
  color: string;
  /** Indices of this group's points in the n×2 points array. */
  indices: ArrayLike<number>;
  marker?: 'circle' | 'cross';
}

export interface ScatterOptions {
  title: string;
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
}

export interface BoundaryOptions extends ScatterOptions {
  /** Legend names of the two shaded sides, P < 0.5 and P > 0.5; default 'class 0', 'class 1'. */
  classNames?: [string, string];
}

/** What decisionGrid returns: nx xs, ny ys (increasing) and ny×nx P(class 1), row by row. */
export interface GridLike {
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  prob: ArrayLike<number>;
}

type Domain = [number, number, number, number];

const MARGIN = { left: 64, right: 150, top: 40, bottom: 52 };
/** Shading of P(class 1): blue below 0.5, red above, white at the boundary. */
const SHADES: [number, number, number][] = [
  [0x1f, 0x77, 0xb4],
  [0xd6, 0x27, 0x28],
];
const LEVELS = 16;

/** A marker as a path fragment: a circle of radius 3 (two arcs) or a 6×6 cross. */
function marker(kind: 'circle' | 'cross', x: number, y: number): string {
  return kind === 'cross'
    ? `M${(x - 3).toFixed(1)} ${(y - 3).toFixed(1)}l6 6m0 -6l-6 6`
    : `M${(x - 3).toFixed(1)} ${y.toFixed(1)}a3 3 0 1 0 6 0a3 3 0 1 0 -6 0`;
}

function markerPath(kind: 'circle' | 'cross', color: string, d: string): string {
  const c = escapeHtml(color);
  return kind === 'cross'
    ? `<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`
    : `<path d="${d}" fill="${c}" fill-opacity="0.75" stroke="none"/>`;
}

function checkGroups(points: Float32Array, groups: ScatterGroup[]): void {
  if (points.length % 2 !== 0) throw new AdvxError(`points must hold x, y pairs, got ${points.length} values`);
  const n = points.length / 2;
  if (groups.length === 0) throw new AdvxError('a scatter plot needs at least one group of points');
  for (const g of groups) {
    for (let k = 0; k < g.indices.length; k++) {
      const i = g.indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new AdvxError(`group '${g.label}': index ${i} is out of range for ${n} points`);
      if (!Number.isFinite(points[2 * i]) || !Number.isFinite(points[2 * i + 1])) {
        throw new AdvxError(`group '${g.label}': point ${i} has a non-finite coordinate (${points[2 * i]}, ${points[2 * i + 1]})`);
      }
    }
  }
}

/**
 * The common frame: background, title, grid and ticks, axis labels, the plot area clipped, and
 * the legend on the right. `inside` draws into the plot area with the data → pixel maps.
 */
function frame(
  o: ScatterOptions,
  domain: Domain,
  inside: (px: (v: number) => number, py: (v: number) => number) => string[],
  legend: string[],
): string {
  // A long legend widens the picture rather than clip its labels or squeeze the plot.
  const right = legendWidth(legend.map((entry) => entry.replace(/<[^>]+>/g, '').replace(/&[#\w]+;/g, '_')), 30);
  const W = (o.width ?? 640) + right - MARGIN.right;
  const H = o.height ?? 480;
  const m = { ...MARGIN, right };
  if (!(W > m.left + m.right + 20) || !(H > m.top + m.bottom + 20)) throw new AdvxError(`plot size ${W}×${H} is too small`);
  const [x0, x1, y0, y1] = domain;
  const px = (v: number) => m.left + ((v - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - ((v - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const [pw, ph] = [W - m.left - m.right, H - m.top - m.bottom];
  const parts: string[] = [];
  parts.push(`<defs><clipPath id="plot-area"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="24" text-anchor="middle" font-size="16">${escapeHtml(o.title)}</text>`);
  const grid: string[] = [];
  for (const t of ticks(x0, x1)) {
    grid.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${H - m.bottom + 18}" text-anchor="middle" font-size="12">${t}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    grid.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 8}" y="${py(t) + 4}" text-anchor="end" font-size="12">${t}</text>`);
  }
  parts.push(`<g clip-path="url(#plot-area)">${grid.join('')}${inside(px, py).join('')}</g>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (o.xLabel) parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 12}" text-anchor="middle" font-size="13">${escapeHtml(o.xLabel)}</text>`);
  if (o.yLabel) {
    parts.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escapeHtml(o.yLabel)}</text>`);
  }
  legend.forEach((entry, i) => parts.push(`<g transform="translate(${W - m.right + 12} ${m.top + 10 + i * 20})">${entry}</g>`));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>\n`;
}

function groupLegend(g: ScatterGroup): string {
  const kind = g.marker ?? 'circle';
  return `${markerPath(kind, g.color, marker(kind, 12, 0))}<text x="30" y="4" font-size="12">${escapeHtml(g.label)}</text>`;
}

function drawGroups(points: Float32Array, groups: ScatterGroup[], px: (v: number) => number, py: (v: number) => number): string[] {
  return groups.map((g) => {
    const kind = g.marker ?? 'circle';
    let d = '';
    for (let k = 0; k < g.indices.length; k++) d += marker(kind, px(points[2 * g.indices[k]]), py(points[2 * g.indices[k] + 1]));
    return d ? markerPath(kind, g.color, d) : '';
  });
}

/** A scatter plot of n×2 points in groups (e.g. source and target, or one colour per class), with a legend. */
export function scatterSvg(points: Float32Array, groups: ScatterGroup[], options: ScatterOptions): string {
  checkGroups(points, groups);
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const g of groups) {
    for (let k = 0; k < g.indices.length; k++) {
      const [x, y] = [points[2 * g.indices[k]], points[2 * g.indices[k] + 1]];
      [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
    }
  }
  if (x0 > x1) [x0, x1, y0, y1] = [0, 1, 0, 1]; // all groups empty
  // 5% padding so markers at the extremes are not cut by the frame; a flat axis gets ±1.
  const pad = (lo: number, hi: number): [number, number] => (hi > lo ? [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)] : [lo - 1, hi + 1]);
  const domain = [...pad(x0, x1), ...pad(y0, y1)] as Domain;
  return frame(options, domain, (px, py) => drawGroups(points, groups, px, py), groups.map(groupLegend));
}

function shade(p: number): string {
  const [r, g, b] = SHADES[p < 0.5 ? 0 : 1];
  const t = Math.abs(p - 0.5) * 2 * 0.7;
  const mix = (c: number) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

function checkGrid(grid: GridLike): void {
  const { xs, ys, prob } = grid;
  if (xs.length < 2 || ys.length < 2) throw new AdvxError(`a decision grid needs at least 2 samples per axis, got ${xs.length}×${ys.length}`);
  if (prob.length !== xs.length * ys.length) {
    throw new AdvxError(`decision grid prob holds ${prob.length} values, expected ny·nx = ${ys.length}·${xs.length}`);
  }
  for (const [name, a] of [['xs', xs], ['ys', ys]] as const) {
    for (let i = 1; i < a.length; i++) {
      if (!(a[i] > a[i - 1]) || !Number.isFinite(a[i])) throw new AdvxError(`decision grid ${name} must be finite and increasing, got ${a[i - 1]}, ${a[i]}`);
    }
  }
  for (let i = 0; i < prob.length; i++) {
    if (!(prob[i] >= 0 && prob[i] <= 1)) throw new AdvxError(`decision grid prob[${i}] = ${prob[i]} is not a probability`);
  }
}

/** Cell edges around the samples: midpoints between neighbours, the outer samples themselves at the ends. */
function edges(a: ArrayLike<number>): number[] {
  return Array.from({ length: a.length + 1 }, (_, i) => (i === 0 ? a[0] : i === a.length ? a[i - 1] : (a[i - 1] + a[i]) / 2));
}

/** The p = 0.5 contour by marching squares over the samples, as one path of segments. */
function contour(grid: GridLike, px: (v: number) => number, py: (v: number) => number): string {
  const { xs, ys, prob } = grid;
  const nx = xs.length;
  let d = '';
  for (let iy = 0; iy + 1 < ys.length; iy++) {
    for (let ix = 0; ix + 1 < nx; ix++) {
      // Corners counter-clockwise from bottom-left; a crossing lies on each edge whose ends differ in side.
      const cx = [ix, ix + 1, ix + 1, ix];
      const cy = [iy, iy, iy + 1, iy + 1];
      const v = cx.map((x, k) => prob[cy[k] * nx + x] - 0.5);
      const hits: string[] = [];
      for (let e = 0; e < 4; e++) {
        const f = (e + 1) % 4;
        if (v[e] > 0 === v[f] > 0) continue;
        const t = v[e] / (v[e] - v[f]);
        const x = xs[cx[e]] + t * (xs[cx[f]] - xs[cx[e]]);
        const y = ys[cy[e]] + t * (ys[cy[f]] - ys[cy[e]]);
        hits.push(`${px(x).toFixed(1)} ${py(y).toFixed(1)}`);
      }
      for (let h = 0; h + 1 < hits.length; h += 2) d += `M${hits[h]}L${hits[h + 1]}`;
    }
  }
  return d;
}

/**
 * A classifier's P(class 1) over a 2-D grid as a blue–white–red heat map (16 shades a side), its
 * p = 0.5 contour, and the points on top: the two-moons DANN picture. The plot spans the grid.
 */
export function decisionBoundarySvg(
  grid: GridLike,
  points: Float32Array,
  groups: ScatterGroup[],
  options: BoundaryOptions,
): string {
  checkGrid(grid);
  checkGroups(points, groups);
  const { xs, ys, prob } = grid;
  const [nx, ny] = [xs.length, ys.length];
  const domain: Domain = [xs[0], xs[nx - 1], ys[0], ys[ny - 1]];
  const [bx, by] = [edges(xs), edges(ys)];
  const inside = (px: (v: number) => number, py: (v: number) => number): string[] => {
    // Runs of equal shade along each row merge into one rectangle; one path per shade.
    const paths = new Map<number, string>();
    for (let iy = 0; iy < ny; iy++) {
      const [top, bottom] = [py(by[iy + 1]).toFixed(2), py(by[iy]).toFixed(2)];
      let ix = 0;
      while (ix < nx) {
        const level = Math.min(LEVELS - 1, Math.floor(prob[iy * nx + ix] * LEVELS));
        let end = ix + 1;
        while (end < nx && Math.min(LEVELS - 1, Math.floor(prob[iy * nx + end] * LEVELS)) === level) end++;
        const [left, right] = [px(bx[ix]).toFixed(2), px(bx[end]).toFixed(2)];
        paths.set(level, (paths.get(level) ?? '') + `M${left} ${top}H${right}V${bottom}H${left}Z`);
        ix = end;
      }
    }
    const shading = [...paths].map(([level, d]) => `<path d="${d}" fill="${shade((level + 0.5) / LEVELS)}"/>`);
    const line = contour(grid, px, py);
    return [
      `<g shape-rendering="crispEdges">${shading.join('')}</g>`,
      line ? `<path d="${line}" fill="none" stroke="#222" stroke-width="1.5"/>` : '',
      ...drawGroups(points, groups, px, py),
    ];
  };
  const [name0, name1] = options.classNames ?? ['class 0', 'class 1'];
  const swatch = (p: number, label: string) => `<rect x="4" y="-6" width="16" height="12" fill="${shade(p)}" stroke="#999"/><text x="30" y="4" font-size="12">${escapeHtml(label)}</text>`;
  const legend = [
    ...groups.map(groupLegend),
    swatch(0, `P < 0.5: ${name0}`),
    swatch(1, `P > 0.5: ${name1}`),
    `<line x1="4" x2="20" y1="0" y2="0" stroke="#222" stroke-width="1.5"/><text x="30" y="4" font-size="12">P = 0.5</text>`,
  ];
  return frame(options, domain, inside, legend);
}
