/**
 * One description of each chart advx draws, as an ECharts option: reports render it to an SVG
 * string (server-side, no DOM), the lab hands the same option to an interactive ECharts instance
 * and adds hover, zoom, smoothing and a log axis. ECharts was measured against Vega-Lite
 * (BENCHMARKS.md, "charts"): smaller in the lab, synchronous to render (our chart functions return
 * strings, and Vega's toSVG is async), with zoom, tooltips and log axes built in.
 */
import { echarts } from './echarts.ts';

/**
 * An ECharts option, as plain data (and the odd render callback). Our own type, not ECharts': its
 * declarations do not pass a strict consumer's tsc, and advx's must.
 */
export type ChartOption = Record<string, unknown>;

/** Category colours (matplotlib's tab10 order): the first series is blue, the second red. */
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
export const FONT = 'DejaVu Sans, sans-serif';

/** Title, fonts and a white background, common to every chart. */
export function base(title: string): ChartOption {
  return {
    animation: false,
    backgroundColor: '#fff',
    textStyle: { fontFamily: FONT, fontSize: 12, color: '#222' },
    title: { text: title, left: 'center', top: 8, textStyle: { fontSize: 16, fontWeight: 'normal', fontFamily: FONT } },
  };
}

/** An axis with its name centred along it, a light grid and a frame-like axis line. */
export function axis(name: string, o: { type?: 'value' | 'log'; min?: number | string; max?: number | string; integer?: boolean; gap?: number }): Record<string, unknown> {
  return {
    type: o.type ?? 'value',
    name,
    nameLocation: 'middle',
    nameGap: o.gap ?? 30,
    nameTextStyle: { fontSize: 13 },
    // Ends rounded to 6 significant digits: ECharts' tick checks trip on ends like 0.8999999999999999.
    min: typeof o.min === 'number' ? Number(o.min.toPrecision(6)) : o.min,
    max: typeof o.max === 'number' ? Number(o.max.toPrecision(6)) : o.max,
    scale: true,
    // Counted things (epochs, steps) tick at whole numbers only: never epoch 1.5.
    ...(o.integer ? { minInterval: 1 } : {}),
    splitLine: { show: true, lineStyle: { color: '#eee' } },
    axisLine: { show: true, onZero: false, lineStyle: { color: '#444' } },
    axisTick: { show: true },
    axisLabel: { color: '#222', fontSize: 12, hideOverlap: true },
  };
}

/**
 * An option as an SVG string, `width`×`height` px. ECharts names clip paths and classes after a
 * global instance counter (`zr7-c0`, `zr7-cls-12`), so the same chart would differ byte for byte by
 * how many charts the process drew before (a sharded run's report against a single run's): the
 * names are renumbered from 0 and prefixed with a hash of the picture, unique within one page.
 */
export function renderSvg(option: ChartOption, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  let svg: string;
  try {
    chart.setOption(option);
    svg = chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
  const renames = new Map<string, string>();
  const perKind = new Map<string, number>();
  const local = svg.replace(/\bzr\d+-(cls-|[a-z]+)(\d+)\b/g, (_, kind: string, n: string) => {
    if (!renames.has(kind + n)) {
      const next = perKind.get(kind) ?? 0;
      perKind.set(kind, next + 1);
      renames.set(kind + n, `${kind}${next}`);
    }
    return `@@-${renames.get(kind + n)}`;
  });
  return `${local.replaceAll('@@-', `c${fnv1a(local)}-`)}\n`;
}

/** 32-bit FNV-1a of a string, in hex: a short, stable name for a picture. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
