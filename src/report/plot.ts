/**
 * Line charts and histograms: the ECharts option (one description, drawn by reports and by the
 * lab) and its SVG string. Same in Node and the browser.
 */
import { axis, base, COLORS, renderSvg, type ChartOption } from './charts.ts';

export interface Series {
  name: string;
  x: number[];
  y: number[];
  dashed?: boolean;
}

/** A shaded stretch of the x axis, e.g. a fine-tuning phase: [from, to] and what it is. */
export interface Band {
  from: number;
  to: number;
  label: string;
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
  /** 'log' for an axis spanning decades (ε from 1e-3 to 1, steps, learning rates); values must be > 0. */
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  /** Shaded stretches of x (training phases), labelled at their top. */
  bands?: Band[];
}

/**
 * Width of the legend column for these labels (12 px DejaVu Sans, about 7 px a character, after
 * a swatch of `swatch` px): at least 150, so short legends keep the usual frame.
 */
export function legendWidth(labels: string[], swatch = 42): number {
  return Math.max(150, swatch + 8 + 7 * Math.max(0, ...labels.map((l) => [...l].length)));
}

/** The picture's size: a long legend widens it rather than clip its labels or squeeze the plot. */
export function lineChartSize(series: Series[], o: Pick<ChartOptions, 'width' | 'height'>): { width: number; height: number } {
  return { width: (o.width ?? 640) + legendWidth(series.map((s) => s.name)) - 150, height: o.height ?? 400 };
}

/**
 * The x axis spans the data. A single x value (one epoch) would leave ECharts an empty span to fill
 * with ticks of its own choosing (0.5, 1): the axis then reaches one step either side (a count: the
 * neighbouring integers; a log axis: a decade).
 */
function xRange(xs: number[], integer: boolean, log: boolean): { min?: number; max?: number } {
  if (!xs.length) return {};
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  if (lo !== hi) return { min: lo, max: hi };
  if (log) return { min: lo / 10, max: hi * 10 };
  const pad = integer ? 1 : Math.abs(lo) / 2 || 1;
  return { min: integer && lo >= 0 ? Math.max(0, lo - pad) : lo - pad, max: hi + pad };
}

/** The line chart as an ECharts option: series as lines with a marker at each point, legend on the right. */
export function lineChartOption(series: Series[], o: ChartOptions): ChartOption {
  const xs = series.flatMap((s) => s.x);
  const integer = o.integerTicks ?? xs.every((x) => Number.isInteger(x));
  const bands = o.bands ?? [];
  return {
    ...base(o.title),
    color: COLORS,
    grid: { left: 64, right: legendWidth(series.map((s) => s.name)), top: 40, bottom: 52, show: true, borderColor: '#444' },
    legend: { orient: 'vertical', left: lineChartSize(series, o).width - legendWidth(series.map((s) => s.name)) + 12, top: 40, itemWidth: 24, data: series.map((s) => s.name), textStyle: { fontSize: 12 } },
    xAxis: axis(o.xLabel, { type: o.xScale === 'log' ? 'log' : 'value', ...xRange(xs, integer, o.xScale === 'log'), integer }),
    yAxis: axis(o.yLabel, { type: o.yScale === 'log' ? 'log' : 'value', min: o.yDomain?.[0], max: o.yDomain?.[1], gap: 44 }),
    series: series.map((s, i) => ({
      type: 'line',
      name: s.name,
      data: s.x.map((x, k) => [x, s.y[k]]),
      symbol: 'circle',
      symbolSize: 6,
      showSymbol: true,
      lineStyle: { width: 2, type: s.dashed ? [6, 4] : 'solid' },
      // Phase bands ride on the first series (an ECharts mark area belongs to a series).
      ...(i === 0 && bands.length
        ? { markArea: { silent: true, itemStyle: { color: 'rgba(0,0,0,0.06)' }, label: { position: 'insideTop', fontSize: 11, color: '#555' }, data: bands.map((b) => [{ xAxis: b.from, name: b.label }, { xAxis: b.to }]) } }
        : {}),
    })),
  };
}

export function lineChartSvg(series: Series[], o: ChartOptions): string {
  const { width, height } = lineChartSize(series, o);
  return renderSvg(lineChartOption(series, o), width, height);
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

/** A histogram as an ECharts option: one bar per bin, spanning its edges on a value axis. */
export function histogramOption(values: number[], o: HistogramOptions): ChartOption {
  const { edges, counts } = histogram(values, o.bins ?? 10);
  return {
    ...base(o.title),
    title: { ...(base(o.title).title as object), textStyle: { fontSize: 14, fontWeight: 'normal' } },
    grid: { left: 52, right: 16, top: 36, bottom: 48 },
    tooltip: { formatter: (p: { value: number[] }) => `${Math.round(p.value[0])}–${Math.round(p.value[1])}: ${p.value[2]}` },
    xAxis: axis(o.xLabel, { min: edges[0], max: edges.at(-1)! }),
    yAxis: { ...axis('examples', { min: 0, integer: true, gap: 36 }), scale: false },
    series: [{
      type: 'custom',
      name: o.xLabel,
      data: counts.map((c, i) => [edges[i], edges[i + 1], c]),
      encode: { x: [0, 1], y: 2 },
      renderItem: (_: unknown, api: { value: (i: number) => number; coord: (p: number[]) => number[] }) => {
        const [a, top] = api.coord([api.value(0), api.value(2)]);
        const [b, bottom] = api.coord([api.value(1), 0]);
        return { type: 'rect', shape: { x: a + 1, y: top, width: Math.max(1, b - a - 2), height: bottom - top }, style: { fill: COLORS[0] } };
      },
    }],
  };
}

/** A histogram of `values` as an SVG bar chart (count on the y axis). */
export function histogramSvg(values: number[], o: HistogramOptions): string {
  return renderSvg(histogramOption(values, o), o.width ?? 480, o.height ?? 260);
}
