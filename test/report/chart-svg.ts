/**
 * Reading facts back out of advx's chart SVG (ECharts' SVG renderer): the lines, the data points of
 * each series, and the axis tick labels. ECharts marks every drawn datum with its series and index
 * (`ecmeta_series_index`, `ecmeta_data_index`), which is what the tests count.
 */

/** Polylines of line series: paths of straight segments with the series' bevel joins, as point lists. */
export function lines(svg: string): Array<{ stroke: string; points: number }> {
  return [...svg.matchAll(/<path d="(M[^"]*)" fill="none" pointer-events="visible" stroke="([^"]+)" stroke-width="2"[^>]*stroke-linejoin="bevel"/g)].map((m) => ({
    stroke: m[2],
    points: m[1].split(/[ML]/).filter(Boolean).length,
  }));
}

/** Data points drawn as markers, per series index. */
export function points(svg: string): number[] {
  const counts: number[] = [];
  for (const m of svg.matchAll(/<path [^>]*ecmeta_series_index="(\d+)" ecmeta_data_index="\d+" ecmeta_ssr_type="chart"(?! ecmeta_silent)[^>]*>/g)) {
    counts[Number(m[1])] = (counts[Number(m[1])] ?? 0) + 1;
  }
  return Array.from(counts, (c) => c ?? 0);
}

/** Tick labels under the x axis (font 12, below the plot: `y="6"`), left to right. */
export function xTickLabels(svg: string): string[] {
  return [...svg.matchAll(/<text dominant-baseline="central" text-anchor="middle" style="font-size:12px;[^"]*" y="6" transform="translate\(([\d.]+) [\d.]+\)"[^>]*>([^<]*)<\/text>/g)]
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[2]);
}

/** Width and height of the picture. */
export function size(svg: string): [number, number] {
  const m = /^<svg width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
  return m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
}
