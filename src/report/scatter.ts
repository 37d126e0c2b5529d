/**
 * Scatter plots and 2-D decision boundaries: the ECharts option (drawn by reports and the lab) and
 * its SVG string. Source vs target features in a 2-D embedding, coloured by class with the domain
 * as marker shape, and a toy classifier's probability map with the points on top.
 */
import { AdvxError } from '../core/errors.ts';
import { axis, base, renderSvg, type ChartOption } from './charts.ts';
import { legendWidth } from './plot.ts';

/** Marker shapes: one per domain (circle for source, cross for target, then the others). */
export type Marker = 'circle' | 'cross' | 'triangle' | 'square' | 'diamond';

export interface ScatterGroup {
  label: string;
  color: string;
  /** Indices of this group's points in the n×2 points array. */
  indices: ArrayLike<number>;
  marker?: Marker;
  /** false: drawn but left out of the legend (a key entry says what its colour and shape mean). */
  legend?: boolean;
}

/** A legend entry with no points: "● source", "class 3" — what a colour or a shape means. */
export interface LegendKey {
  label: string;
  color: string;
  marker?: Marker;
}

export interface ScatterOptions {
  title: string;
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  /** Legend entries beyond the groups' own. */
  keys?: LegendKey[];
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

/** Shading of P(class 1): blue below 0.5, red above, white at the boundary. */
const SHADES: [number, number, number][] = [
  [0x1f, 0x77, 0xb4],
  [0xd6, 0x27, 0x28],
];
const LEVELS = 16;
const SYMBOL: Record<Marker, string> = { circle: 'circle', cross: 'path://M0 0L6 6M6 0L0 6', triangle: 'triangle', square: 'rect', diamond: 'diamond' };

/** A scatter series' look for a marker: crosses are stroked, the rest filled. */
function look(kind: Marker, color: string): Record<string, unknown> {
  return {
    symbol: SYMBOL[kind],
    symbolSize: 6,
    itemStyle: kind === 'cross' ? { color: 'rgba(0,0,0,0)', borderColor: color, borderWidth: 1.5 } : { color, opacity: 0.75 },
  };
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

/** Width and height of the picture: a long legend widens it rather than clip its labels. */
function size(o: ScatterOptions, legend: string[]): { width: number; height: number; right: number } {
  const right = legendWidth(legend, 30);
  const width = (o.width ?? 640) + right - 150;
  const height = o.height ?? 480;
  if (!(width > 64 + right + 20) || !(height > 40 + 52 + 20)) throw new AdvxError(`plot size ${width}×${height} is too small`);
  return { width, height, right };
}

function groupSeries(points: Float32Array, groups: ScatterGroup[], keys: LegendKey[] = [], grid = 0): Record<string, unknown>[] {
  return [
    ...groups.map((g) => ({
      type: 'scatter',
      name: g.label,
      xAxisIndex: grid,
      yAxisIndex: grid,
      ...look(g.marker ?? 'circle', g.color),
      data: Array.from(g.indices, (i) => [points[2 * i], points[2 * i + 1]]),
    })),
    ...(grid === 0 ? keys.map((k) => ({ type: 'scatter', name: k.label, ...look(k.marker ?? 'circle', k.color), data: [] })) : []),
  ];
}

function legendNames(groups: ScatterGroup[], keys: LegendKey[] = []): string[] {
  return [...groups.filter((g) => g.legend !== false).map((g) => g.label), ...keys.map((k) => k.label)];
}

/** The legend column, from 12 px right of the plot (not right-aligned: ECharts' text widths run short of DejaVu's). */
const legend = (names: string[], left: number) => ({ orient: 'vertical', left, top: 40, itemWidth: 14, data: names, textStyle: { fontSize: 12 } });

/** A scatter plot of n×2 points in groups (e.g. source and target, or one colour per class), with a legend. */
export function scatterOption(points: Float32Array, groups: ScatterGroup[], o: ScatterOptions): ChartOption {
  checkGroups(points, groups);
  const names = legendNames(groups, o.keys);
  const { right, width } = size(o, names);
  return {
    ...base(o.title),
    grid: { left: 64, right, top: 40, bottom: 52, show: true, borderColor: '#444' },
    legend: legend(names, width - right + 12),
    xAxis: { ...axis(o.xLabel ?? '', {}), boundaryGap: ['5%', '5%'], axisLabel: { hideOverlap: true, showMinLabel: false, showMaxLabel: false } },
    yAxis: { ...axis(o.yLabel ?? '', { gap: 44 }), boundaryGap: ['5%', '5%'], axisLabel: { hideOverlap: true, showMinLabel: false, showMaxLabel: false } },
    series: groupSeries(points, groups, o.keys),
  };
}

export function scatterSvg(points: Float32Array, groups: ScatterGroup[], options: ScatterOptions): string {
  const { width, height } = size(options, legendNames(groups, options.keys));
  return renderSvg(scatterOption(points, groups, options), width, height);
}

/**
 * Two or more scatter plots side by side in one picture (before | after), the same groups in each,
 * one legend on the right: `panels[i].points` are indexed by the groups' indices alike.
 */
export function scatterPanelsSvg(panels: Array<{ title: string; points: Float32Array }>, groups: ScatterGroup[], o: ScatterOptions): string {
  for (const p of panels) checkGroups(p.points, groups);
  const names = legendNames(groups, o.keys);
  const { right } = size(o, names);
  const panelWidth = o.width ?? 480;
  const width = panels.length * panelWidth + right;
  const height = o.height ?? 480;
  const grids = panels.map((_, i) => ({ left: 56 + i * panelWidth, width: panelWidth - 72, top: 64, bottom: 52, show: true, borderColor: '#444' }));
  const option: ChartOption = {
    ...base(o.title),
    title: [
      { text: o.title, left: 'center', top: 8, textStyle: { fontSize: 16, fontWeight: 'normal' } },
      ...panels.map((p, i) => ({ text: p.title, left: 56 + i * panelWidth + (panelWidth - 72) / 2, textAlign: 'center', top: 38, textStyle: { fontSize: 13, fontWeight: 'normal' } })),
    ],
    grid: grids,
    legend: legend(names, width - right + 12),
    xAxis: panels.map((_, i) => ({ ...axis(o.xLabel ?? '', {}), boundaryGap: ['5%', '5%'], gridIndex: i, axisLabel: { hideOverlap: true, showMinLabel: false, showMaxLabel: false } })),
    yAxis: panels.map((_, i) => ({ ...axis(i === 0 ? (o.yLabel ?? '') : '', { gap: 40 }), boundaryGap: ['5%', '5%'], gridIndex: i, axisLabel: { hideOverlap: true, showMinLabel: false, showMaxLabel: false } })),
    series: panels.flatMap((p, i) => groupSeries(p.points, groups, o.keys, i)),
  };
  return renderSvg(option, width, height);
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

/** The p = 0.5 contour by marching squares over the samples, as segments in data coordinates. */
function contour(grid: GridLike): Array<[number, number] | null> {
  const { xs, ys, prob } = grid;
  const nx = xs.length;
  const out: Array<[number, number] | null> = [];
  for (let iy = 0; iy + 1 < ys.length; iy++) {
    for (let ix = 0; ix + 1 < nx; ix++) {
      // Corners counter-clockwise from bottom-left; a crossing lies on each edge whose ends differ in side.
      const cx = [ix, ix + 1, ix + 1, ix];
      const cy = [iy, iy, iy + 1, iy + 1];
      const v = cx.map((x, k) => prob[cy[k] * nx + x] - 0.5);
      const hits: Array<[number, number]> = [];
      for (let e = 0; e < 4; e++) {
        const f = (e + 1) % 4;
        if (v[e] > 0 === v[f] > 0) continue;
        const t = v[e] / (v[e] - v[f]);
        const x = xs[cx[e]] + t * (xs[cx[f]] - xs[cx[e]]);
        const y = ys[cy[e]] + t * (ys[cy[f]] - ys[cy[e]]);
        hits.push([x, y]);
      }
      // Segments apart: a gap (null) between them breaks the line.
      for (let h = 0; h + 1 < hits.length; h += 2) out.push(hits[h], hits[h + 1], null);
    }
  }
  return out;
}

/**
 * A classifier's P(class 1) over a 2-D grid as a blue–white–red heat map (16 shades a side), its
 * p = 0.5 contour, and the points on top: the two-moons DANN picture. The plot spans the grid.
 */
export function decisionBoundaryOption(grid: GridLike, points: Float32Array, groups: ScatterGroup[], o: BoundaryOptions): ChartOption {
  checkGrid(grid);
  checkGroups(points, groups);
  const { xs, ys, prob } = grid;
  const [nx, ny] = [xs.length, ys.length];
  const [bx, by] = [edges(xs), edges(ys)];
  // Runs of equal shade along each row merge into one rectangle: [x0, x1, y0, y1, level].
  const cells: number[][] = [];
  for (let iy = 0; iy < ny; iy++) {
    let ix = 0;
    while (ix < nx) {
      const level = Math.min(LEVELS - 1, Math.floor(prob[iy * nx + ix] * LEVELS));
      let end = ix + 1;
      while (end < nx && Math.min(LEVELS - 1, Math.floor(prob[iy * nx + end] * LEVELS)) === level) end++;
      cells.push([bx[ix], bx[end], by[iy], by[iy + 1], level]);
      ix = end;
    }
  }
  const [name0, name1] = o.classNames ?? ['class 0', 'class 1'];
  const sides = [`P < 0.5: ${name0}`, `P > 0.5: ${name1}`];
  const names = [...legendNames(groups, o.keys), ...sides, 'P = 0.5'];
  const { right, width } = size(o, names);
  return {
    ...base(o.title),
    grid: { left: 64, right, top: 40, bottom: 52, show: true, borderColor: '#444' },
    legend: { ...legend(names, width - right + 12), itemWidth: 16 },
    xAxis: { ...axis(o.xLabel ?? '', { min: xs[0], max: xs[nx - 1] }), splitLine: { show: false } },
    yAxis: { ...axis(o.yLabel ?? '', { min: ys[0], max: ys[ny - 1], gap: 44 }), splitLine: { show: false } },
    series: [
      {
        type: 'custom',
        name: 'P(class 1)',
        silent: true,
        data: cells,
        renderItem: (_: unknown, api: { value: (i: number) => number; coord: (p: number[]) => number[] }) => {
          // Whole-pixel edges: neighbouring cells share an edge exactly, so no background shows
          // through anti-aliased seams between rows.
          const [a, top] = api.coord([api.value(0), api.value(3)]).map(Math.round);
          const [b, bottom] = api.coord([api.value(1), api.value(2)]).map(Math.round);
          return { type: 'rect', shape: { x: a, y: top, width: b - a, height: bottom - top }, style: { fill: shade((api.value(4) + 0.5) / LEVELS) } };
        },
      },
      // The two sides and the contour in the legend: empty series with their colours.
      { type: 'scatter', name: sides[0], symbol: 'rect', itemStyle: { color: shade(0) }, data: [] },
      { type: 'scatter', name: sides[1], symbol: 'rect', itemStyle: { color: shade(1) }, data: [] },
      { type: 'line', name: 'P = 0.5', data: contour(grid), showSymbol: false, connectNulls: false, silent: true, color: '#222', lineStyle: { color: '#222', width: 1.5 } },
      ...groupSeries(points, groups, o.keys),
    ],
  };
}

export function decisionBoundarySvg(grid: GridLike, points: Float32Array, groups: ScatterGroup[], options: BoundaryOptions): string {
  const [name0, name1] = options.classNames ?? ['class 0', 'class 1'];
  const { width, height } = size(options, [...legendNames(groups, options.keys), `P < 0.5: ${name0}`, `P > 0.5: ${name1}`, 'P = 0.5']);
  return renderSvg(decisionBoundaryOption(grid, points, groups, options), width, height);
}
