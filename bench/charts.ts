/**
 * Which charting library draws advx's charts: ECharts (SVG renderer, server-side) or Vega-Lite
 * (compiled to Vega, `view.toSVG()` headless). Measures, for each:
 *  - the lab's cost: an esbuild bundle (minified, tree-shaken, gzipped) of a tiny entry importing
 *    what an interactive lab chart needs (line + scatter, tooltip, zoom, legend);
 *  - Node render time to an SVG string of a line chart (3 series × 100 points) and a 2000-point
 *    scatter, median of N renders after a warm-up;
 *  - whether two renders of the same chart give the same bytes (report.html of a sharded+merged
 *    run is compared byte for byte with a single run's).
 * Writes BENCHMARKS.md's "charts" section.
 *
 *   npm run bench:charts [-- --runs 21]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { renderSvg } from '../src/report/charts.ts';
import { echarts } from '../src/report/echarts.ts';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { appendSection, markSection, replaceSection } from './sections.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '21' } } });
const RUNS = Number(values.runs);

/** The lab's imports for each library: what an interactive line/scatter chart with hover and zoom needs. */
const ENTRIES = {
  // advx's own registration (src/report/echarts.ts: line, scatter, bar, custom, tooltip, zoom, legend, title, mark areas, SVG renderer).
  echarts: `import { echarts } from '${ROOT}src/report/echarts.ts';
export const draw = (el, option) => echarts.init(el, null, { renderer: 'svg' }).setOption(option);`,
  'vega + vega-lite': `import { View, parse } from 'vega';
import { compile } from 'vega-lite';
export const draw = (el, spec) => new View(parse(compile(spec).spec), { container: el, hover: true }).runAsync();`,
};

async function bundleBytes(source: string): Promise<{ min: number; gz: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'advx-charts-'));
  try {
    const entry = join(dir, 'entry.js');
    writeFileSync(entry, source);
    const out = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, nodePaths: [join(ROOT, 'node_modules')], logLevel: 'error' });
    const code = out.outputFiles[0].contents;
    return { min: code.length, gz: gzipSync(code, { level: 9 }).length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Deterministic data: a noisy decaying curve per series, and two interleaved blobs.
const line = [0, 1, 2].map((s) => Array.from({ length: 100 }, (_, i) => [i, Math.exp(-i / (20 + 10 * s)) + 0.05 * Math.sin(i * (s + 1.3))]));
const cloud = Array.from({ length: 2000 }, (_, i) => [Math.cos(i * 0.7) * (1 + (i % 7) / 7) + (i % 2) * 2, Math.sin(i * 1.3) * (1 + (i % 5) / 5), i % 2]);

function echartsOption(kind: 'line' | 'scatter') {
  const series = kind === 'line'
    ? line.map((data, s) => ({ type: 'line' as const, name: `s${s}`, data, showSymbol: true }))
    : [0, 1].map((c) => ({ type: 'scatter' as const, name: `c${c}`, data: cloud.filter((p) => p[2] === c).map((p) => [p[0], p[1]]), symbolSize: 5 }));
  return { animation: false, title: { text: kind }, legend: {}, xAxis: { type: 'value' }, yAxis: { type: 'value' }, series };
}

/** ECharts as it comes: ids and class names carry a process-wide instance number. */
function echartsSvg(kind: 'line' | 'scatter'): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 640, height: 400 });
  chart.setOption(echartsOption(kind));
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

async function vegaSvg(kind: 'line' | 'scatter'): Promise<string> {
  const spec: TopLevelSpec = kind === 'line'
    ? { width: 560, height: 320, title: 'line', data: { values: line.flatMap((d, s) => d.map(([x, y]) => ({ x, y, s: `s${s}` }))) }, mark: { type: 'line', point: true }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: { field: 's' } } }
    : { width: 560, height: 320, title: 'scatter', data: { values: cloud.map(([x, y, c]) => ({ x, y, c: `c${c}` })) }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: { field: 'c' } } };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(render: () => string | Promise<string>): Promise<{ ms: number; bytes: number; same: boolean }> {
  const first = await render();
  const times: number[] = [];
  let same = true;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const svg = await render();
    times.push(performance.now() - t0);
    same &&= svg === first;
  }
  return { ms: median(times), bytes: first.length, same };
}

/** Through advx's renderSvg, which renames those per picture. */
const stableEcharts = (kind: 'line' | 'scatter') => () => renderSvg(echartsOption(kind), 640, 400);

const rows: string[] = [];
const results: Record<string, { gz: number; line: number; scatter: number }> = {};
for (const [name, entry] of Object.entries(ENTRIES)) {
  const size = await bundleBytes(entry);
  const isE = name === 'echarts';
  const l = await timeIt(isE ? () => echartsSvg('line') : () => vegaSvg('line'));
  const s = await timeIt(isE ? () => echartsSvg('scatter') : () => vegaSvg('scatter'));
  let same = `${l.same && s.same ? 'yes' : 'no'}`;
  if (isE && !(l.same && s.same)) {
    const [l2, s2] = [await timeIt(stableEcharts('line')), await timeIt(stableEcharts('scatter'))];
    same += l2.same && s2.same ? ': ids carry an instance number; yes through advx\'s renderSvg, which renames them' : ', not even through advx\'s renderSvg';
  }
  results[name] = { gz: size.gz, line: l.ms, scatter: s.ms };
  rows.push(`| ${name} | ${(size.min / 1e3).toFixed(0)} kB | ${(size.gz / 1e3).toFixed(0)} kB | ${l.ms.toFixed(1)} ms (${(l.bytes / 1e3).toFixed(0)} kB) | ${s.ms.toFixed(1)} ms (${(s.bytes / 1e3).toFixed(0)} kB) | ${same} |`);
  console.error(rows.at(-1));
}

const [e, v] = [results.echarts, results['vega + vega-lite']];
const markdown = [
  '| library | lab bundle, minified | gzipped | line chart, 3 × 100 points: render (SVG size) | scatter, 2000 points: render (SVG size) | same bytes on every render |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
  `Lab bundle: Vega-Lite's is ${(v.gz / e.gz).toFixed(1)}× ECharts' (gzipped; it carries the Vega-Lite compiler and Vega's expression parser). Render time, Vega-Lite over ECharts: ${(v.line / e.line).toFixed(1)}× on the line chart, ${(v.scatter / e.scatter).toFixed(1)}× on the scatter (ECharts draws one SVG element per marker). Median of ${RUNS} renders after one warm-up, to an SVG string in Node.`,
  '',
  'advx draws with ECharts: the smaller lab bundle; a synchronous render (`renderToSVGString`), so the chart functions keep returning strings where Vega\'s `toSVG` is a promise; and the lab\'s hover, zoom (dataZoom) and log axes built in. Its SVG is made byte-stable by renaming the instance-numbered ids (src/report/charts.ts).',
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version} (load average at the end ${loadavg()[0].toFixed(1)}), by \`npm run bench:charts\`.`,
].join('\n');
console.log(markdown);
replaceSection(join(ROOT, 'BENCHMARKS.md'), 'charts', markdown, {
  note: '(written by `npm run bench:charts`; do not edit by hand)',
  ifMissing: appendSection('## Charts: ECharts or Vega-Lite'),
});
void markSection;
