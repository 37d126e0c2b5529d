/**
 * An interactive line chart in the lab: the same ECharts option the CLI's reports render to SVG
 * (lineChartOption), drawn live with hover tooltips, zoom (wheel or the slider under the plot), an
 * EMA smoothing slider for noisy curves (TensorBoard's, debiased) and log-axis toggles.
 */
import { echarts } from '../../src/report/echarts.ts';
import { lineChartOption, lineChartSize, type ChartOptions, type Series } from '../../src/report/plot.ts';
import { h } from './ui.ts';

/**
 * TensorBoard's smoothing: an exponential moving average with weight `w` on the past, divided by
 * 1 − w^k so that the first points are not pulled towards 0.
 */
export function smooth(y: number[], w: number): number[] {
  if (!(w > 0)) return y;
  let acc = 0;
  return y.map((v, k) => {
    acc = acc * w + (1 - w) * v;
    return acc / (1 - w ** (k + 1));
  });
}

/** Points with x (and y) > 0 only: a log axis has no place for 0 (ε = 0, the clean accuracy). */
function positive(s: Series, logX: boolean, logY: boolean): Series {
  const keep = s.x.map((x, k) => (!logX || x > 0) && (!logY || s.y[k] > 0));
  return { ...s, x: s.x.filter((_, k) => keep[k]), y: s.y.filter((_, k) => keep[k]) };
}

/**
 * A <figure> holding the chart and its controls. `data-series` and `data-points` say what is drawn
 * (for tests and for screen readers' sake, with the figure's label).
 */
export function lineChartFigure(title: string, series: Series[], options: ChartOptions): HTMLElement {
  const fig = h('figure', { 'data-chart': title, class: 'chart', 'aria-label': title });
  const plot = h('div', { class: 'chart-plot' });
  const { width, height } = lineChartSize(series, options);
  const smoothing = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: 0, class: 'chart-smoothing', 'aria-label': `smoothing of ${title}` });
  const smoothingValue = h('output', {}, '0');
  const logX = h('input', { type: 'checkbox', class: 'chart-logx', 'aria-label': `log x axis of ${title}` });
  const logY = h('input', { type: 'checkbox', class: 'chart-logy', 'aria-label': `log y axis of ${title}` });
  const controls = h(
    'div', { class: 'chart-controls row' },
    h('label', {}, 'smoothing ', smoothing, ' ', smoothingValue),
    h('label', {}, logX, ' log x'),
    h('label', {}, logY, ' log y'),
  );
  fig.append(plot, controls);
  // 20 px more below the plot for the zoom slider, under the x axis name.
  const chart = echarts.init(plot, null, { renderer: 'svg', width, height: height + 20 });
  const draw = () => {
    const w = Number(smoothing.value);
    smoothingValue.textContent = w.toFixed(2);
    const [lx, ly] = [logX.checked, logY.checked];
    const shown = series.map((s) => positive({ ...s, y: smooth(s.y, w) }, lx, ly));
    const option = lineChartOption(shown, { ...options, xScale: lx ? 'log' : 'linear', yScale: ly ? 'log' : 'linear', yDomain: ly ? undefined : options.yDomain });
    // Smoothed, the raw curves stay as faint lines behind, as in TensorBoard.
    const raw = w > 0 ? series.map((s, i) => ({ type: 'line', name: shown[i].name, data: positive(s, lx, ly).x.map((x, k) => [x, positive(s, lx, ly).y[k]]), showSymbol: false, silent: true, lineStyle: { width: 1, opacity: 0.25 }, tooltip: { show: false } })) : [];
    chart.setOption(
      {
        ...option,
        series: [...(option.series as object[]), ...raw],
        tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (typeof v === 'number' ? v.toPrecision(4) : String(v)) },
        dataZoom: [{ type: 'inside', xAxisIndex: 0, filterMode: 'none' }, { type: 'slider', xAxisIndex: 0, height: 14, bottom: 4, filterMode: 'none' }],
        grid: { ...(option.grid as object), bottom: 72 },
      },
      { notMerge: true },
    );
    fig.dataset.series = String(shown.length);
    fig.dataset.points = shown.map((s) => s.x.length).join(',');
    fig.dataset.smoothing = String(w);
    fig.dataset.log = `${lx ? 'x' : ''}${ly ? 'y' : ''}`;
  };
  for (const c of [smoothing, logX, logY]) c.addEventListener('input', draw);
  for (const c of [logX, logY]) c.addEventListener('change', draw);
  // Log axes need positive values; a toggle that would leave nothing to draw is off.
  logX.disabled = !series.some((s) => s.x.some((x) => x > 0));
  logY.disabled = !series.some((s) => s.y.some((y) => y > 0));
  draw();
  return fig;
}
